"""Fixtures for the CDS Hooks service tests (helpers live in service_helpers.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fhir_server import server_resources
from service_helpers import Signer, synthea_bundle

from riskcalc.service import prefetch_from_bundle


@pytest.fixture(scope="session")
def ec_signer() -> Signer:
    return Signer("ehr-key-1", ec.generate_private_key(ec.SECP384R1()), "ES384")


@pytest.fixture(scope="session")
def rsa_signer() -> Signer:
    return Signer(
        "ehr-rsa-1", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS384"
    )


@pytest.fixture(scope="session")
def rogue_signer() -> Signer:
    """Same kid as the trusted key, different private key."""
    return Signer("ehr-key-1", ec.generate_private_key(ec.SECP384R1()), "ES384")


@pytest.fixture()
def jwks_file(tmp_path: Path, ec_signer: Signer, rsa_signer: Signer) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [ec_signer.jwk(), rsa_signer.jwk()]}))
    return path


@pytest.fixture()
def token_for(ec_signer: Signer) -> Callable[..., dict[str, str]]:
    def headers(**overrides: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {ec_signer.token(**overrides)}"}

    return headers


@pytest.fixture(scope="module")
def synthea(fixtures: Path) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """A real Synthea patient: (its id, the prefetch a CDS client would send, the resources as
    a FHIR server stores them)."""
    bundle = synthea_bundle(fixtures)
    pid, prefetch = prefetch_from_bundle(bundle)
    return pid, prefetch, server_resources(bundle)
