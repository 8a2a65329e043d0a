"""Fetching from a FHIR server when prefetch is missing: a small real FHIR server on loopback.

The server serves one real Synthea patient (the transaction Bundle's urn:uuid references rewritten
to Type/id, as a server stores them), answers the searches the prefetch templates use, pages its
searchsets with absolute ``next`` links and checks the bearer token.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir_server import ERROR_OUTCOME, FHIR_TOKEN, PAGE_SIZE, fhir_app
from service_helpers import ISSUER, SERVICE_URL, serve, stand_in_assess

from riskcalc.errors import RemoteError
from riskcalc.service import ServiceSettings, create_app, fetch_queries
from riskcalc.service._prefetch import resolve_queries, searchset

HOOK_PATH = "/cds-services/riskcalc-relapse-risk"


@pytest.fixture()
def fhir_server(synthea: Any) -> Iterator[tuple[str, Counter[str]]]:
    app, hits = fhir_app(synthea[2])
    with serve(app) as url:
        yield f"{url}/fhir", hits


def _settings(jwks_file: Path, fhir_base: str, **kw: Any) -> ServiceSettings:
    return ServiceSettings(
        service_url=SERVICE_URL,
        jwks_file=jwks_file,
        issuers=(ISSUER,),
        fhir_server_allow=(fhir_base,),
        **kw,
    )


def _call(
    pid: str, fhir_base: str, prefetch: dict[str, Any] | None = None, token: str = FHIR_TOKEN
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": fhir_base,
        "fhirAuthorization": {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.rs",
            "subject": "riskcalc",
        },
        "context": {"userId": "Practitioner/1", "patientId": pid},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def _ids(bundle: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]}


def test_fetch_fallback_gives_the_same_records_as_prefetch(
    jwks_file: Path,
    fhir_server: Any,
    synthea: Any,
    token_for: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fhir_base, hits = fhir_server
    pid, prefetch, _ = synthea
    caplog.set_level(logging.DEBUG)
    fetched_calls: list[dict[str, Any]] = []
    prefetched_calls: list[dict[str, Any]] = []
    settings = _settings(jwks_file, fhir_base)
    with serve(create_app(settings, assess=stand_in_assess(fetched_calls))) as url:
        response = httpx.post(f"{url}{HOOK_PATH}", json=_call(pid, fhir_base), headers=token_for())
        assert response.status_code == 200, response.text
        card = response.json()["cards"][0]
    with serve(create_app(settings, assess=stand_in_assess(prefetched_calls))) as url:
        response = httpx.post(
            f"{url}{HOOK_PATH}", json=_call(pid, fhir_base, prefetch), headers=token_for()
        )
        assert response.json()["cards"][0]["summary"] == card["summary"]
    assert _ids(fetched_calls[0]) == _ids(prefetched_calls[0])
    assert len(fetched_calls[0]["entry"]) > PAGE_SIZE
    assert hits["Patient/read"] == 1  # only the first call fetched
    assert hits["Observation"] > 2  # the laboratory search took several pages
    assert "hookInstance=" in caplog.text
    assert pid not in caplog.text and FHIR_TOKEN not in caplog.text  # URLs held both


def test_only_missing_keys_are_fetched(
    jwks_file: Path, fhir_server: Any, synthea: Any, token_for: Any
) -> None:
    fhir_base, hits = fhir_server
    pid, prefetch, _ = synthea
    partial = {k: v for k, v in prefetch.items() if k != "immunizations"}
    with serve(create_app(_settings(jwks_file, fhir_base), assess=stand_in_assess())) as url:
        response = httpx.post(
            f"{url}{HOOK_PATH}", json=_call(pid, fhir_base, partial), headers=token_for()
        )
    assert response.status_code == 200
    assert set(hits) == {"Immunization"}


@pytest.mark.parametrize(
    ("case", "code_fragment"),
    [
        ("bad_token", "401"),
        ("not_allowed", "allow-list"),
        ("unreachable", "could not be reached"),
    ],
)
def test_fetch_failures_are_412(
    jwks_file: Path, fhir_server: Any, synthea: Any, token_for: Any, case: str, code_fragment: str
) -> None:
    fhir_base, _ = fhir_server
    pid = synthea[0]
    allowed = fhir_base
    target = fhir_base
    token = FHIR_TOKEN
    if case == "bad_token":
        token = "stolen"
    elif case == "not_allowed":
        allowed = "https://fhir.example.org"
    elif case == "unreachable":
        target = allowed = "http://127.0.0.1:9/fhir"
    with serve(create_app(_settings(jwks_file, allowed), assess=stand_in_assess())) as url:
        response = httpx.post(
            f"{url}{HOOK_PATH}", json=_call(pid, target, token=token), headers=token_for()
        )
    assert response.status_code == 412
    error = response.json()["error"]
    assert error["code"] == "service.data_unavailable"
    assert code_fragment in error["message"]


@pytest.mark.parametrize("token", ["tök", "a b", "line\nbreak"])
def test_an_access_token_no_header_can_carry_is_a_bad_request(
    jwks_file: Path, fhir_server: Any, synthea: Any, token_for: Any, token: str
) -> None:
    """Not a 500 from deep in the HTTP client: the CDS client sent a malformed request."""
    fhir_base, hits = fhir_server
    with serve(create_app(_settings(jwks_file, fhir_base), assess=stand_in_assess())) as url:
        response = httpx.post(
            f"{url}{HOOK_PATH}", json=_call(synthea[0], fhir_base, token=token), headers=token_for()
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "service.bad_request"
    assert not hits  # nothing was sent to the FHIR server


def _run(fhir_base: str, pid: str, **kw: Any) -> dict[str, Any]:
    settings = ServiceSettings(dev_no_auth=True, fhir_server_allow=(fhir_base,), **kw)
    return asyncio.run(fetch_queries(fhir_base, FHIR_TOKEN, resolve_queries(pid), settings))


def test_fetch_page_cap(fhir_server: Any, synthea: Any) -> None:
    with pytest.raises(RemoteError) as info:
        _run(fhir_server[0], synthea[0], fetch_max_pages=2)
    assert info.value.code == "remote.too_large"


def test_fetch_byte_budget(fhir_server: Any, synthea: Any) -> None:
    with pytest.raises(RemoteError) as info:
        _run(fhir_server[0], synthea[0], fetch_max_response_bytes=50_000)
    assert info.value.code == "remote.too_large"


@pytest.mark.parametrize("mode", ["next_elsewhere", "next_traversal"])
def test_next_link_outside_the_server_is_refused(synthea: Any, mode: str) -> None:
    app, hits = fhir_app(synthea[2], mode=mode)
    with serve(app) as url, pytest.raises(RemoteError) as info:
        _run(f"{url}/fhir", synthea[0])
    assert info.value.code == "remote.bad_response" and "outside" in info.value.message
    assert not [k for k in hits if "admin" in k]


@pytest.mark.parametrize(
    "server",
    [
        "https://fhir.example.org/fhir/../admin",  # the client would send it to /admin
        "https://fhir.example.org/fhir%2F..%2Fadmin",
        "https://fhir.example.org/fhir/./x",
        "https://user:pw@fhir.example.org/fhir",
        "https://fhir.example.org/fhir?x=1",
        "https://fhir.example.org/fhir#x",
        "http://[::1",
        "https://fhir.example.org/fhir/..;/admin",  # Tomcat and Jetty read ..; as ..
        "https://fhir.example.org/fhir/\\..\\admin",  # IIS reads \ as /
    ],
)
def test_servers_that_only_look_allowed_are_refused(server: str) -> None:
    settings = ServiceSettings(
        dev_no_auth=True, fhir_server_allow=("https://fhir.example.org/fhir",)
    )
    with pytest.raises(RemoteError, match="allow-list"):
        asyncio.run(fetch_queries(server, "t", {"patient": "Patient/1"}, settings))


def test_timeout(synthea: Any) -> None:
    app, _ = fhir_app(synthea[2], mode="slow")
    with serve(app) as url, pytest.raises(RemoteError) as info:
        _run(f"{url}/fhir", synthea[0], fetch_timeout_s=0.3)
    assert info.value.code == "remote.unreachable"


def test_https_required_without_allow_list() -> None:
    settings = ServiceSettings(dev_no_auth=True)
    with pytest.raises(RemoteError, match="https"):
        asyncio.run(
            fetch_queries("http://fhir.example.org", "t", {"patient": "Patient/1"}, settings)
        )


def test_a_searchset_of_the_wrong_shape_is_a_bad_response(synthea: Any) -> None:
    app, _ = fhir_app(synthea[2], mode="entry_not_list")
    with serve(app) as url, pytest.raises(RemoteError) as info:
        _run(f"{url}/fhir", synthea[0])
    assert info.value.code == "remote.bad_response" and "not a list" in info.value.message


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        ("search_outcome_200", "search with an error OperationOutcome"),
        ("search_outcome_entry", "search with an error OperationOutcome"),
        ("search_patient_200", "search with a resource that is not a Bundle"),
        ("read_outcome_200", "Patient read with an error OperationOutcome"),
    ],
)
def test_a_200_answer_that_reports_a_failure_or_is_not_a_result_is_412(
    jwks_file: Path, synthea: Any, token_for: Any, mode: str, fragment: str
) -> None:
    """Not "no results" (a card saying "no cancer diagnosis in the record"): the search failed."""
    pid = synthea[0]
    app, _ = fhir_app(synthea[2], mode=mode)
    with serve(app) as fhir_url:
        fhir_base = f"{fhir_url}/fhir"
        with serve(create_app(_settings(jwks_file, fhir_base), assess=stand_in_assess())) as url:
            response = httpx.post(
                f"{url}{HOOK_PATH}", json=_call(pid, fhir_base), headers=token_for()
            )
    assert response.status_code == 412, response.text
    error = response.json()["error"]
    assert error["code"] == "service.data_unavailable"
    assert "remote.bad_response" in error["message"] and fragment in error["message"]
    assert pid not in error["message"]


def _with_outcome_entry(bundle: dict[str, Any], severity: str) -> dict[str, Any]:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": "x"}]}
    entry = [*bundle["entry"], {"resource": outcome, "search": {"mode": "outcome"}}]
    return dict(bundle, entry=entry)


@pytest.mark.parametrize(
    ("answer", "fetched"),
    [
        (lambda b: ERROR_OUTCOME, True),  # CDS Hooks 2.0: the client failed to prefetch
        (lambda b: _with_outcome_entry(searchset([], fhir_base="https://x"), "error"), True),
        (lambda b: _with_outcome_entry(searchset([], fhir_base="https://x"), "fatal"), True),
        (lambda b: _with_outcome_entry(b, "warning"), False),  # a warning: the result stands
        (lambda b: _with_outcome_entry(b, "information"), False),
    ],
)
def test_a_prefetch_answer_that_reports_a_failure_is_fetched_or_412(
    jwks_file: Path, fhir_server: Any, synthea: Any, token_for: Any, answer: Any, fetched: bool
) -> None:
    fhir_base, hits = fhir_server
    pid, prefetch, resources = synthea
    sent = dict(prefetch, conditions=answer(prefetch["conditions"]))
    calls: list[dict[str, Any]] = []
    settings = _settings(jwks_file, fhir_base)
    with serve(create_app(settings, assess=stand_in_assess(calls))) as url:
        response = httpx.post(
            f"{url}{HOOK_PATH}", json=_call(pid, fhir_base, sent), headers=token_for()
        )
        assert response.status_code == 200, response.text
        without_server = {
            k: v
            for k, v in _call(pid, fhir_base, sent).items()
            if k not in ("fhirServer", "fhirAuthorization")
        }
        refused = httpx.post(f"{url}{HOOK_PATH}", json=without_server, headers=token_for())
    conditions = {
        ("Condition", r["id"])
        for r in resources
        if r["resourceType"] == "Condition" and r["subject"]["reference"] == f"Patient/{pid}"
    }
    assert {i for i in _ids(calls[0]) if i[0] == "Condition"} == conditions
    assert set(hits) == ({"Condition"} if fetched else set())
    if fetched:
        assert refused.status_code == 412
        error = refused.json()["error"]
        assert error["code"] == "service.data_unavailable" and "conditions" in error["message"]
    else:
        assert refused.status_code == 200
