"""The service over real HTTP: discovery, hooks, errors, limits, feedback, logs."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from service_helpers import (
    ISSUER,
    SERVICE_URL,
    make_report,
    serve,
    stand_in_assess,
    synthea_bundle,
)

from riskcalc.errors import InputError
from riskcalc.report import RiskReport
from riskcalc.service import PREFETCH_TEMPLATES, ServiceSettings, create_app, prefetch_from_bundle

HOOK_PATH = "/cds-services/riskcalc-relapse-risk"


@pytest.fixture(scope="module")
def synthea(fixtures: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    bundle = synthea_bundle(fixtures)
    pid, prefetch = prefetch_from_bundle(bundle)
    return pid, prefetch, bundle


def _call(pid: str, prefetch: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/123", "patientId": pid},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


@pytest.fixture()
def settings(jwks_file: Path, tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(
        service_url=SERVICE_URL,
        jwks_file=jwks_file,
        issuers=(ISSUER,),
        feedback_file=tmp_path / "feedback.jsonl",
        app_url="https://app.example.org/riskcalc",
        max_request_bytes=5_000_000,
        include_system_actions=True,
    )


@pytest.fixture()
def server(settings: ServiceSettings) -> Iterator[str]:
    with serve(create_app(settings, assess=stand_in_assess())) as url:
        yield url


def test_discovery_shape(server: str) -> None:
    response = httpx.get(f"{server}/cds-services")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    (service,) = response.json()["services"]
    assert service["hook"] == "patient-view"
    assert service["id"] == "riskcalc-relapse-risk"
    assert "Research use only" in service["description"]
    assert set(service) >= {"hook", "title", "description", "id", "prefetch"}


def test_prefetch_templates_cover_every_resource_type_the_history_needs(server: str) -> None:
    prefetch = httpx.get(f"{server}/cds-services").json()["services"][0]["prefetch"]
    queried = {re.split(r"[/?]", q, maxsplit=1)[0] for q in prefetch.values()}
    assert queried == {
        "Patient",
        "Condition",
        "Observation",
        "Encounter",
        "Procedure",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Immunization",
    }
    for query in prefetch.values():
        assert "{{context.patientId}}" in query
    observation_queries = " ".join(q for q in prefetch.values() if q.startswith("Observation"))
    assert "category=laboratory" in observation_queries  # virus tests, IL-6 (26881-3)
    assert "97509-4" in observation_queries  # mCODE cancer disease status


def test_hook_with_synthea_prefetch(server: str, synthea: Any, token_for: Any) -> None:
    pid, prefetch, bundle = synthea
    response = httpx.post(f"{server}{HOOK_PATH}", json=_call(pid, prefetch), headers=token_for())
    assert response.status_code == 200, response.text
    body = response.json()
    (card,) = body["cards"]
    n_conditions = sum(e["resource"]["resourceType"] == "Condition" for e in bundle["entry"])
    assert f"{round(min(0.9, 0.01 * n_conditions) * 100)}%" in card["summary"]
    assert len(card["summary"]) <= 140
    assert card["indicator"] in {"info", "warning"}
    assert card["links"][0]["url"] == "https://app.example.org/riskcalc"
    assert card["source"]["label"].startswith("riskcalc model relapse-hgb 0.1.0")
    (action,) = body["systemActions"]
    assert action["type"] == "create"
    assert action["resource"]["resourceType"] == "RiskAssessment"


def test_missing_prefetch_without_fhir_server_is_412(server: str, token_for: Any) -> None:
    response = httpx.post(f"{server}{HOOK_PATH}", json=_call("p1", None), headers=token_for())
    assert response.status_code == 412
    error = response.json()["error"]
    assert error["code"] == "service.data_unavailable"
    assert "conditions" in error["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xef\xbb\xbf{not json", "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "nests deeper than 1024 levels"),
        (b"[]", "invalid request"),
        (orjson.dumps({"hook": "patient-view"}), "context"),
        (
            orjson.dumps(
                {
                    "hook": "order-sign",
                    "hookInstance": "x",
                    "context": {"userId": "u", "patientId": "p1"},
                }
            ),
            "patient-view",
        ),
        (
            orjson.dumps(
                {
                    "hook": "patient-view",
                    "hookInstance": "x",
                    "context": {"userId": "u", "patientId": "p1&_include=*"},
                }
            ),
            "patientId",
        ),
        (
            orjson.dumps(
                {
                    "hook": "patient-view",
                    "hookInstance": "x",
                    "context": {"userId": "u", "patientId": "p1"},
                    "fhirAuthorization": {"access_token": "t"},
                }
            ),
            "cds-r-1",
        ),
    ],
)
def test_malformed_request_is_400_json(
    server: str, token_for: Any, body: bytes, fragment: str
) -> None:
    response = httpx.post(
        f"{server}{HOOK_PATH}",
        content=body,
        headers={**token_for(), "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "service.bad_request"
    assert fragment in error["message"]


def test_prefetch_value_not_fhir_is_400(server: str, token_for: Any) -> None:
    prefetch: dict[str, Any] = dict.fromkeys(PREFETCH_TEMPLATES)
    prefetch["patient"] = {"resourceType": "Patient", "id": "p1"}
    prefetch["conditions"] = "Condition?patient=p1"
    response = httpx.post(f"{server}{HOOK_PATH}", json=_call("p1", prefetch), headers=token_for())
    assert response.status_code == 400
    assert "conditions" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("conditions", {"resourceType": "Patient", "id": "p1"}, "Bundle"),
        ("conditions", {"resourceType": "Condition", "id": "c1"}, "Bundle"),
        ("patient", {"resourceType": "Bundle", "type": "searchset", "entry": []}, "Patient"),
    ],
)
def test_prefetch_value_not_what_its_query_returns_is_400(
    server: str, token_for: Any, key: str, value: dict[str, Any], expected: str
) -> None:
    """A search answered by a single resource is the client's error, not "nothing found"."""
    prefetch: dict[str, Any] = dict.fromkeys(PREFETCH_TEMPLATES)
    prefetch["patient"] = {"resourceType": "Patient", "id": "p1"}
    prefetch[key] = value
    response = httpx.post(f"{server}{HOOK_PATH}", json=_call("p1", prefetch), headers=token_for())
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "service.bad_request"
    assert key in error["message"] and f"not a {expected}" in error["message"]


def test_a_body_after_a_utf8_byte_order_mark_is_read(
    server: str, synthea: Any, token_for: Any
) -> None:
    """As the library reads a file that starts with one (docs/robustness.md)."""
    pid, prefetch, _ = synthea
    response = httpx.post(
        f"{server}{HOOK_PATH}",
        content=b"\xef\xbb\xbf" + orjson.dumps(_call(pid, prefetch)),
        headers={**token_for(), "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert "research use" in response.json()["cards"][0]["summary"]


def test_discovery_and_docs_ask_for_the_observation_codes_the_reader_uses(server: str) -> None:
    """observationsCancer: built from the code sets; the integrators' page lists the same codes."""
    from riskcalc.codes import load

    prefetch = httpx.get(f"{server}/cds-services").json()["services"][0]["prefetch"]
    asked = {
        tuple(c.split("|", 1))
        for c in prefetch["observationsCancer"].split("code=", 1)[1].split(",")
    }
    lab = load("lab")
    read = {
        p
        for name in ("disease_status", "stage_group", "cause_of_death")
        for p in lab.codes_of(name)
    }
    assert asked == read
    page = (Path(__file__).parents[2] / "docs" / "integrators" / "cds-hooks.md").read_text("utf-8")
    (row,) = [line for line in page.splitlines() if line.startswith("| `observationsCancer`")]
    assert set(re.findall(r"\b\d{4,5}-\d\b", row)) == {code for _, code in asked}
    assert {system for system, _ in asked} == {"http://loinc.org"}  # the page says "LOINC"


def test_unknown_service_and_path_are_404_json(server: str, token_for: Any) -> None:
    response = httpx.post(f"{server}/cds-services/nope", json={}, headers=token_for())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "service.not_found"
    assert httpx.get(f"{server}/elsewhere").json()["error"]["code"] == "service.not_found"


def test_request_over_the_size_limit_is_413(server: str, token_for: Any) -> None:
    big = b'{"hook": "' + b"x" * 6_000_000 + b'"}'
    response = httpx.post(f"{server}{HOOK_PATH}", content=big, headers=token_for())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "service.too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(60):
            yield b"x" * 100_000

    response = httpx.post(f"{server}{HOOK_PATH}", content=chunks(), headers=token_for())
    assert response.status_code == 413


def test_feedback_is_appended_never_rewritten(
    server: str, settings: ServiceSettings, token_for: Any
) -> None:
    endpoint = f"{SERVICE_URL}{HOOK_PATH}"
    path = settings.feedback_file
    assert path is not None

    def send(outcome: str, aud: str) -> httpx.Response:
        item: dict[str, Any] = {
            "card": str(uuid.uuid4()),
            "outcome": outcome,
            "outcomeTimestamp": "2024-06-01T10:00:00Z",
        }
        if outcome == "overridden":
            item["overrideReason"] = {"userComment": "not relevant now"}
        return httpx.post(
            f"{server}{HOOK_PATH}/feedback", json={"feedback": [item]}, headers=token_for(aud=aud)
        )

    assert send("accepted", endpoint).status_code == 200
    first = path.read_bytes()
    assert send("overridden", f"{endpoint}/feedback").status_code == 200
    second = path.read_bytes()
    assert second.startswith(first) and len(second) > len(first)
    lines = [orjson.loads(line) for line in second.splitlines()]
    assert [line["feedback"]["outcome"] for line in lines] == ["accepted", "overridden"]
    assert lines[1]["feedback"]["overrideReason"]["userComment"] == "not relevant now"
    assert lines[0]["client"] == {"iss": ISSUER, "sub": "client-app"}
    assert path.stat().st_mode & 0o077 == 0  # owner-only

    bad = httpx.post(
        f"{server}{HOOK_PATH}/feedback",
        json={"feedback": [{"card": "c", "outcome": "maybe", "outcomeTimestamp": "t"}]},
        headers=token_for(),
    )
    assert bad.status_code == 400
    assert path.read_bytes() == second


@pytest.mark.parametrize(
    "timestamp",
    [
        "yesterday",
        "2023-05-04",  # a date, not an instant
        "2023-05-04T10:00:00",  # no time zone
        "2023-05-04T10:00Z",  # no seconds
        "2023-02-30T10:00:00Z",  # no such day
        "2023-05-04T10:00:00+25:00",
    ],
)
def test_feedback_outcome_timestamp_must_be_an_instant(
    server: str, settings: ServiceSettings, token_for: Any, timestamp: str
) -> None:
    """CDS Hooks 2.0: outcomeTimestamp is the ISO 8601 date and time the card was acted on."""
    item = {"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": timestamp}
    response = httpx.post(
        f"{server}{HOOK_PATH}/feedback", json={"feedback": [item]}, headers=token_for()
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "service.bad_request"
    assert "outcomeTimestamp" in error["message"] and timestamp not in error["message"]
    assert settings.feedback_file is not None and not settings.feedback_file.exists()


def test_feedback_instants_with_an_offset_or_fraction_and_a_bom_are_accepted(
    server: str, settings: ServiceSettings, token_for: Any
) -> None:
    stamps = ["2024-06-01T10:00:00Z", "2024-06-01T12:00:00.250+02:00", "2024-06-01T05:30:00-04:30"]
    items = [{"card": "c1", "outcome": "accepted", "outcomeTimestamp": t} for t in stamps]
    response = httpx.post(
        f"{server}{HOOK_PATH}/feedback",
        content=b"\xef\xbb\xbf" + orjson.dumps({"feedback": items}),
        headers={**token_for(), "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert settings.feedback_file is not None
    lines = [orjson.loads(line) for line in settings.feedback_file.read_bytes().splitlines()]
    assert [line["feedback"]["outcomeTimestamp"] for line in lines] == stamps


def _raising_assess(exc: Exception) -> Callable[..., RiskReport]:
    def assess(bundle: dict[str, Any], patient_id: str, horizon: int | None) -> RiskReport:
        raise exc

    return assess


def test_internal_failure_is_500_without_stack_trace(
    settings: ServiceSettings, synthea: Any, token_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pid, prefetch, _ = synthea
    app = create_app(settings, assess=_raising_assess(KeyError(f"Patient/{pid} secret")))
    caplog.set_level(logging.DEBUG)
    with serve(app) as url:
        response = httpx.post(f"{url}{HOOK_PATH}", json=_call(pid, prefetch), headers=token_for())
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "service.internal", "message": "internal error"}}
    assert "Traceback" not in response.text
    assert pid not in caplog.text and "Traceback" not in caplog.text
    assert "error=KeyError" in caplog.text


def test_unreadable_history_gives_a_card_without_a_number(
    settings: ServiceSettings, synthea: Any, token_for: Any
) -> None:
    pid, prefetch, _ = synthea
    error = InputError("input.invalid_resource", "Condition.onsetDateTime is not a date")
    model = make_report().model
    with serve(create_app(settings, assess=_raising_assess(error), model=model)) as url:
        response = httpx.post(f"{url}{HOOK_PATH}", json=_call(pid, prefetch), headers=token_for())
    assert response.status_code == 200
    body = response.json()
    (card,) = body["cards"]
    assert card["indicator"] == "info"
    assert "input.invalid_resource" in card["detail"]
    assert card["source"]["label"] == "riskcalc model relapse-hgb 0.1.0"
    assert not re.search(r"\d\s*%", card["summary"] + card["detail"])
    assert "systemActions" not in body or not body["systemActions"]


def test_no_patient_data_in_logs(
    settings: ServiceSettings,
    synthea: Any,
    token_for: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pid, prefetch, _ = synthea
    patient = prefetch["patient"]
    caplog.set_level(logging.DEBUG)
    with serve(create_app(settings, assess=stand_in_assess())) as url:
        call = _call(pid, prefetch)
        ok = httpx.post(f"{url}{HOOK_PATH}", json=call, headers=token_for())
        assert ok.status_code == 200
        bad = dict(call, context={"userId": "u"})
        assert httpx.post(f"{url}{HOOK_PATH}", json=bad, headers=token_for()).status_code == 400
        httpx.post(f"{url}/cds-services/{pid}", json=call, headers=token_for())
    text = caplog.text
    assert call["hookInstance"] in text  # the request was logged ...
    secrets = [
        pid,
        patient["name"][0]["family"],
        patient["name"][0]["given"][0],
        patient["birthDate"],
    ]
    secrets += [c["resource"]["id"] for c in prefetch["conditions"]["entry"][:5]]
    for secret in secrets:
        assert secret not in text  # ... but nothing about the patient
    assert "resourceType" not in text


def test_dev_no_auth_warns_on_every_start(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="riskcalc.service")
    app = create_app(ServiceSettings(dev_no_auth=True), assess=stand_in_assess())
    for _ in range(2):
        with serve(app) as url:
            assert httpx.get(f"{url}/cds-services").status_code == 200
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "AUTHENTICATION IS OFF" in r.message
    ]
    assert len(warnings) == 2


def test_reader_error_from_the_library_gives_a_card_without_a_number(
    settings: ServiceSettings, synthea: Any, token_for: Any
) -> None:
    import riskcalc

    pid, prefetch, _ = synthea

    def read_then_assess(bundle: dict[str, Any], patient_id: str, h: int | None) -> RiskReport:
        riskcalc.read_history(bundle, patient_id=patient_id)  # the real reader
        return stand_in_assess()(bundle, patient_id, h)

    no_patient = dict(prefetch, patient=None)  # the client found no Patient
    with serve(create_app(settings, assess=read_then_assess)) as url:
        response = httpx.post(f"{url}{HOOK_PATH}", json=_call(pid, no_patient), headers=token_for())
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    assert "input." in card["detail"]
    assert not re.search(r"\d\s*%", card["summary"] + card["detail"])


def test_model_error_is_500_not_a_data_card(
    settings: ServiceSettings, synthea: Any, token_for: Any
) -> None:
    from riskcalc.errors import ModelError

    pid, prefetch, _ = synthea
    error = ModelError("model.hash_mismatch", "a file of the model was altered")
    with serve(create_app(settings, assess=_raising_assess(error))) as url:
        response = httpx.post(f"{url}{HOOK_PATH}", json=_call(pid, prefetch), headers=token_for())
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "the service cannot assess [model.hash_mismatch]"


@pytest.mark.parametrize("case", ["every value null", "another patient"])
def test_record_unreadable_card_names_the_model_and_version(
    settings: ServiceSettings, synthea: Any, token_for: Any, case: str
) -> None:
    """Every card names the model and its version, also when there is no report to take it from."""
    from riskcalc.errors import ModelError
    from riskcalc.model import load_model

    try:
        app = create_app(settings)  # the real library: read_history + assess
        info = load_model(settings.model_path).info
    except ModelError as exc:
        pytest.skip(f"default model not built ({exc.code}; `make model`)")
    pid, prefetch, _ = synthea
    sent = dict.fromkeys(PREFETCH_TEMPLATES) if case == "every value null" else prefetch
    context_id = pid if case == "every value null" else "someone-else"
    with serve(app) as url:
        response = httpx.post(
            f"{url}{HOOK_PATH}", json=_call(context_id, sent), headers=token_for()
        )
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert "could not be read" in card["summary"]
    assert card["source"]["label"] == f"riskcalc model {info.model_id} {info.version}"
    assert f"{info.model_id} version {info.version}" in card["detail"]
    assert "Research use only" in card["detail"]


def test_end_to_end_with_the_default_model(
    settings: ServiceSettings, synthea: Any, token_for: Any
) -> None:
    from riskcalc.errors import ModelError

    try:
        app = create_app(settings)  # the real library: read_history + assess
    except ModelError as exc:
        pytest.skip(f"default model not built ({exc.code}; `make model`)")
    pid, prefetch, _ = synthea
    with serve(app) as url:
        response = httpx.post(f"{url}{HOOK_PATH}", json=_call(pid, prefetch), headers=token_for())
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert len(card["summary"]) <= 140 and "research use" in card["summary"]
    assert "Research use only" in card["detail"]
