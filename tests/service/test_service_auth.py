"""JWT verification over real HTTP: real keys, real tokens, uvicorn on loopback."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from service_helpers import (
    ENDPOINT,
    ISSUER,
    SERVICE_URL,
    Signer,
    hs384_token,
    serve,
    stand_in_assess,
    unsigned_token,
)

from riskcalc.errors import ConfigError
from riskcalc.service import ServiceSettings, create_app
from riskcalc.service._auth import ReplayCache

HOOK_PATH = "/cds-services/riskcalc-relapse-risk"


def _hook_body() -> dict[str, Any]:
    # Prefetch with a Patient and empty answers: enough for the stand-in assess.
    from riskcalc.service import PREFETCH_TEMPLATES

    prefetch: dict[str, Any] = dict.fromkeys(PREFETCH_TEMPLATES)
    prefetch["patient"] = {"resourceType": "Patient", "id": "p1"}
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/x", "patientId": "p1"},
        "prefetch": prefetch,
    }


@pytest.fixture(scope="module")
def base_url(
    tmp_path_factory: pytest.TempPathFactory, ec_signer: Signer, rsa_signer: Signer
) -> Iterator[str]:
    """One server for the module: every token carries a fresh jti, so tests do not interfere."""
    jwks_file = tmp_path_factory.mktemp("jwks") / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [ec_signer.jwk(), rsa_signer.jwk()]}))
    settings = ServiceSettings(service_url=SERVICE_URL, jwks_file=jwks_file, issuers=(ISSUER,))
    with serve(create_app(settings, assess=stand_in_assess())) as url:
        yield url


def _post(base_url: str, token: str | None, body: Any = None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.post(f"{base_url}{HOOK_PATH}", json=body or _hook_body(), headers=headers)


def _assert_401(response: httpx.Response, phrase: str) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "service.unauthorized"
    assert phrase in error["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_good_es384_token_gets_cards(base_url: str, ec_signer: Signer) -> None:
    response = _post(base_url, ec_signer.token())
    assert response.status_code == 200, response.text
    assert len(response.json()["cards"]) == 1


def test_good_rs384_token_gets_cards(base_url: str, rsa_signer: Signer) -> None:
    assert _post(base_url, rsa_signer.token()).status_code == 200


def test_missing_token(base_url: str) -> None:
    _assert_401(_post(base_url, None), "missing")


def test_unsigned_alg_none(base_url: str, ec_signer: Signer) -> None:
    _assert_401(_post(base_url, unsigned_token(ec_signer.claims(), ec_signer.kid)), "algorithm")


def test_hs384_signed_with_the_public_key(base_url: str, ec_signer: Signer) -> None:
    forged = hs384_token(ec_signer.claims(), ec_signer.kid, ec_signer.public_pem())
    _assert_401(_post(base_url, forged), "algorithm")


def test_wrong_key_same_kid(base_url: str, rogue_signer: Signer) -> None:
    _assert_401(_post(base_url, rogue_signer.token()), "signature")


def test_unknown_kid(base_url: str, ec_signer: Signer) -> None:
    token = ec_signer.token(headers={"kid": "not-in-the-jwks"})
    _assert_401(_post(base_url, token), "kid")


def test_key_of_other_algorithm(base_url: str, ec_signer: Signer, rsa_signer: Signer) -> None:
    # ES384 header naming the RSA key's kid: refused before any signature check.
    token = ec_signer.token(headers={"kid": rsa_signer.kid})
    _assert_401(_post(base_url, token), "not for this algorithm")


def test_expired(base_url: str, ec_signer: Signer) -> None:
    now = int(time.time())
    _assert_401(_post(base_url, ec_signer.token(iat=now - 400, exp=now - 100)), "expired")


def test_issued_in_the_future(base_url: str, ec_signer: Signer) -> None:
    now = int(time.time())
    _assert_401(_post(base_url, ec_signer.token(iat=now + 600, exp=now + 700)), "future")


@pytest.mark.parametrize(
    ("claim", "offset"),
    [("exp", 60), ("iat", 0), ("nbf", -10)],
)
def test_time_claim_as_text_is_refused(
    base_url: str, ec_signer: Signer, claim: str, offset: int
) -> None:
    """RFC 7519: a NumericDate is a JSON number; PyJWT alone reads int("1700000060")."""
    now = int(time.time())
    token = ec_signer.token(**{claim: str(now + offset)})
    _assert_401(_post(base_url, token), f"token {claim} is not a number")


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_time_claim_as_boolean_is_refused(base_url: str, ec_signer: Signer, claim: str) -> None:
    _assert_401(_post(base_url, ec_signer.token(**{claim: True})), f"token {claim} is not a number")


def test_lifetime_too_long(base_url: str, ec_signer: Signer) -> None:
    now = int(time.time())
    _assert_401(_post(base_url, ec_signer.token(iat=now, exp=now + 3600)), "lifetime")


@pytest.mark.parametrize(
    "aud",
    [
        "https://other-service.example/cds-services/riskcalc-relapse-risk",
        SERVICE_URL,  # the base URL is not the endpoint
        f"{SERVICE_URL}/cds-services/another-service",
    ],
)
def test_wrong_audience(base_url: str, ec_signer: Signer, aud: str) -> None:
    _assert_401(_post(base_url, ec_signer.token(aud=aud)), "audience")


def test_audience_as_list_containing_endpoint(base_url: str, ec_signer: Signer) -> None:
    token = ec_signer.token(aud=["https://elsewhere.example", ENDPOINT])
    assert _post(base_url, token).status_code == 200


def test_issuer_not_allowed(base_url: str, ec_signer: Signer) -> None:
    _assert_401(_post(base_url, ec_signer.token(iss="https://evil.example")), "issuer")


@pytest.mark.parametrize("claim", ["jti", "sub", "iat", "exp", "iss", "aud"])
def test_required_claim_missing(base_url: str, ec_signer: Signer, claim: str) -> None:
    _assert_401(_post(base_url, ec_signer.token(**{claim: None})), claim)


def test_replayed_jti(base_url: str, ec_signer: Signer) -> None:
    token = ec_signer.token()
    assert _post(base_url, token).status_code == 200
    _assert_401(_post(base_url, token), "replay")
    # The same jti in a freshly signed token is a replay too.
    jti = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))["jti"]
    _assert_401(_post(base_url, ec_signer.token(jti=jti)), "replay")


def test_not_bearer(base_url: str, ec_signer: Signer) -> None:
    response = httpx.post(
        f"{base_url}{HOOK_PATH}",
        json=_hook_body(),
        headers={"Authorization": f"Basic {ec_signer.token()}"},
    )
    _assert_401(response, "Bearer")


def test_garbage_token(base_url: str) -> None:
    _assert_401(_post(base_url, "not.a.jwt"), "malformed")


def test_feedback_requires_a_token(base_url: str) -> None:
    body = {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2024-01-01"}]}
    response = httpx.post(f"{base_url}{HOOK_PATH}/feedback", json=body)
    assert response.status_code == 401


def test_discovery_is_public(base_url: str) -> None:
    assert httpx.get(f"{base_url}/cds-services").status_code == 200


def test_jwks_from_url(ec_signer: Signer) -> None:
    """Keys read from a served JWK Set (PyJWKClient), as an EHR publishes them."""
    jwks_app = FastAPI()

    @jwks_app.get("/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse({"keys": [ec_signer.jwk()]})

    with serve(jwks_app) as jwks_base:
        settings = ServiceSettings(
            service_url=SERVICE_URL, jwks_url=f"{jwks_base}/jwks.json", issuers=(ISSUER,)
        )
        with serve(create_app(settings, assess=stand_in_assess())) as url:
            assert _post(url, ec_signer.token()).status_code == 200
            _assert_401(_post(url, ec_signer.token(headers={"kid": "nope"})), "kid")


def test_auth_on_needs_complete_settings(jwks_file: Path) -> None:
    with pytest.raises(ConfigError, match="audience"):
        create_app(ServiceSettings(jwks_file=jwks_file, issuers=(ISSUER,)))
    with pytest.raises(ConfigError, match="issuer"):
        create_app(ServiceSettings(service_url=SERVICE_URL, jwks_file=jwks_file))
    with pytest.raises(ConfigError, match="jwks"):
        create_app(ServiceSettings(service_url=SERVICE_URL, issuers=(ISSUER,)))
    with pytest.raises(ConfigError, match="not allowed"):
        ServiceSettings(dev_no_auth=True, algorithms=("HS384",)).check_complete()


def test_replay_cache_forgets_expired_entries_and_fails_closed_when_full() -> None:
    cache = ReplayCache(max_entries=2)
    assert cache.add(("i", "a"), expires_at=100, now=0)
    assert not cache.add(("i", "a"), expires_at=100, now=50)
    assert cache.add(("i", "a"), expires_at=300, now=101)  # expired: accepted again
    assert cache.add(("i", "b"), expires_at=300, now=102)
    assert not cache.add(("i", "c"), expires_at=300, now=103)  # full of live entries
    assert cache.add(("i", "c"), expires_at=400, now=301)  # both expired, purged


def test_sqlite_replay_store_is_shared_between_processes(tmp_path: Path) -> None:
    from riskcalc.service._auth import SqliteReplayCache

    # Two stores on one file stand for two worker processes.
    first = SqliteReplayCache(tmp_path / "jti.sqlite", max_entries=100)
    second = SqliteReplayCache(tmp_path / "jti.sqlite", max_entries=100)
    assert first.add(("i", "a"), expires_at=100, now=0)
    assert not second.add(("i", "a"), expires_at=100, now=50)
    assert not first.add(("i", "a"), expires_at=100, now=60)
    assert second.add(("j", "a"), expires_at=100, now=60)  # another issuer's jti
    assert second.add(("i", "a"), expires_at=300, now=101)  # expired: accepted again
    assert not first.add(("i", "a"), expires_at=300, now=200)


def test_replay_detected_across_two_servers_sharing_a_store(
    tmp_path: Path, ec_signer: Signer, jwks_file: Path
) -> None:
    settings = ServiceSettings(
        service_url=SERVICE_URL,
        jwks_file=jwks_file,
        issuers=(ISSUER,),
        replay_store=tmp_path / "jti.sqlite",
    )
    token = ec_signer.token()
    with (
        serve(create_app(settings, assess=stand_in_assess())) as one,
        serve(create_app(settings, assess=stand_in_assess())) as two,
    ):
        assert _post(one, token).status_code == 200
        _assert_401(_post(two, token), "replay")
