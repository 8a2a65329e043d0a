"""Helpers for the CDS Hooks service tests: real servers on loopback, real keys and tokens."""

from __future__ import annotations

import base64
import bz2
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization

from riskcalc.report import (
    AwakeningSummary,
    Driver,
    EpisodeContribution,
    ModelInfo,
    ReportStatus,
    RiskEstimate,
    RiskReport,
)

ISSUER = "https://ehr.test.example"
SERVICE_URL = "http://cds.test.example:8080"
ENDPOINT = f"{SERVICE_URL}/cds-services/riskcalc-relapse-risk"
SYNTHEA_COVID = "ad0b4b7a"  # colon cancer 2013 (abated 2015), COVID-19 with pneumonia 2020


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1, port chosen by the OS; yields the base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn exited"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """A CDS client's key pair and the tokens it signs."""

    def __init__(self, kid: str, key: Any, alg: str) -> None:
        self.kid, self.key, self.alg = kid, key, alg

    def jwk(self) -> dict[str, Any]:
        algo = (
            jwt.algorithms.ECAlgorithm if self.alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
        )
        data = json.loads(algo.to_jwk(self.key.public_key()))
        data.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return data

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": "client-app",
            "aud": ENDPOINT,
            "iat": now,
            "exp": now + 120,
            "jti": str(uuid.uuid4()),
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, *, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        return jwt.encode(
            self.claims(**overrides),
            self.key,
            algorithm=self.alg,
            headers={"kid": self.kid, "typ": "JWT", **(headers or {})},
        )


def unsigned_token(claims: dict[str, Any], kid: str) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."


def hs384_token(claims: dict[str, Any], kid: str, secret: bytes) -> str:
    """The algorithm-confusion forgery: HS384 'signed' with the public key as the secret."""
    header = {"alg": "HS384", "typ": "JWT", "kid": kid}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha384).digest()
    return f"{signing_input}.{b64url(mac)}"


def synthea_bundle(fixtures: Path, prefix: str = SYNTHEA_COVID) -> dict[str, Any]:
    (path,) = sorted((fixtures / "synthea-blaze").glob(f"{prefix}*.json.bz2"))
    return json.loads(bz2.decompress(path.read_bytes()))


def make_report(
    *,
    patient_id: str = "p1",
    probability: float = 0.12,
    low: float = 0.08,
    high: float = 0.17,
    horizon_months: int = 24,
    status: ReportStatus = ReportStatus.OK,
    reason: str | None = None,
) -> RiskReport:
    """A RiskReport built directly (the contract the cards render)."""
    from riskcalc.errors import Issue
    from riskcalc.history import Pathogen, Severity

    ok = status is ReportStatus.OK
    return RiskReport(
        patient_id=patient_id,
        as_of=dt.date(2024, 6, 1),
        status=status,
        not_applicable_reason=reason,
        risk=RiskEstimate(
            probability=probability,
            interval_low=low,
            interval_high=high,
            interval_method="bootstrap of the calibrated model",
            horizon_months=horizon_months,
        )
        if ok
        else None,
        awakening=AwakeningSummary(
            score=2.4,
            background=0.1,
            hazard_multiplier=1.35,
            preset="human",
            carry_over=True,
            contributions=(
                EpisodeContribution(
                    pathogen=Pathogen.COVID19,
                    onset=dt.date(2020, 3, 12),
                    severity=Severity.HOSPITALISED,
                    il6_peak_pg_ml=None,
                    il6_assumed=True,
                    contribution=1.9,
                ),
            ),
        )
        if ok
        else None,
        drivers=(
            Driver(
                feature="n_covid19_hospitalised",
                label="Hospitalised COVID-19 episodes",
                value=1,
                effect_pp=4.2,
                direction="raises",
            ),
        )
        if ok
        else (),
        warnings=(Issue(code="date.partial", message="a date was widened to its month"),),
        model=ModelInfo(
            model_id="relapse-hgb",
            version="0.1.0",
            trained_on="the riskcalc synthetic cohort v1",
            trained_on_simulated_data=True,
        ),
    )


def stand_in_assess(calls: list[dict[str, Any]] | None = None) -> Callable[..., RiskReport]:
    """Until riskcalc.assess lands: checks the Bundle the service built and returns a report.

    The returned report's probability grows with the number of Conditions received, so tests
    can tell that the service passed the patient's real records.
    """

    def assess(bundle: dict[str, Any], patient_id: str, horizon: int | None) -> RiskReport:
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
        resources = [e["resource"] for e in bundle["entry"]]
        patients = [r for r in resources if r["resourceType"] == "Patient"]
        assert [p["id"] for p in patients] == [patient_id]
        if calls is not None:
            calls.append(bundle)
        n_conditions = sum(r["resourceType"] == "Condition" for r in resources)
        p = min(0.9, 0.01 * n_conditions)
        return make_report(
            patient_id=patient_id,
            probability=p,
            low=p / 2,
            high=min(1.0, p * 1.5),
            horizon_months=horizon or 24,
        )

    return assess
