"""SMART App Launch against a real authorization server and FHIR server on loopback.

The server (fhir_server.smart_app) publishes its SMART configuration, redirects the authorization
request back with a code, checks the client, the redirect URI and the PKCE verifier at its token
endpoint, and serves one real Synthea patient to the tokens it granted.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fhir_server import SmartServer, _s256, smart_app
from hypothesis import given, settings
from hypothesis import strategies as st
from service_helpers import serve

import riskcalc
from riskcalc.errors import RemoteError
from riskcalc.service import combine_prefetch
from riskcalc.service._fetch import under_base
from riskcalc.smart import (
    RESOURCE_TYPES,
    LaunchStore,
    PendingLaunch,
    SmartClient,
    authorization_error,
    begin_launch,
    check_issuer,
    complete_launch,
    fetch_record,
    unreadable_types,
)

REDIRECT = "http://127.0.0.1:8501/"


@pytest.fixture()
def ehr(synthea: Any) -> Iterator[tuple[str, SmartServer]]:
    """The EHR: yields its FHIR base (the launch's ``iss``) and what its server saw."""
    server = SmartServer(patient_id=synthea[0], redirect_uri=REDIRECT)
    app, _ = smart_app(synthea[2], server)
    with serve(app) as url:
        yield f"{url}/fhir", server


def _client(iss: str, **kw: Any) -> SmartClient:
    return SmartClient(client_id="riskcalc-test", redirect_uri=REDIRECT, issuers=(iss,), **kw)


def _sign_in(pending: PendingLaunch) -> dict[str, str]:
    """The user's browser at the authorization endpoint: the query it is redirected back with."""
    answer = httpx.get(pending.authorize_url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_ehr_launch_reads_the_patient_in_context(
    ehr: tuple[str, SmartServer], synthea: Any, caplog: pytest.LogCaptureFixture
) -> None:
    iss, server = ehr
    client = _client(iss)
    caplog.set_level(logging.DEBUG)
    store = LaunchStore()
    pending = begin_launch(iss + "/", server.launch, client)  # a trailing slash is the same server
    store.put(pending)
    asked = {k: v[0] for k, v in parse_qs(urlsplit(pending.authorize_url).query).items()}
    assert asked["response_type"] == "code" and asked["client_id"] == "riskcalc-test"
    assert asked["aud"] == iss + "/" and asked["launch"] == server.launch  # iss as sent
    assert asked["redirect_uri"] == REDIRECT and asked["state"] == pending.state
    assert asked["code_challenge_method"] == "S256"
    assert asked["code_challenge"] == _s256(pending.code_verifier)
    scopes = asked["scope"].split()
    assert scopes[0] == "launch" and {f"patient/{t}.rs" for t in RESOURCE_TYPES} <= set(scopes)

    back = _sign_in(pending)
    assert back["state"] == pending.state and "code" in back
    session = complete_launch(store.take(back["state"]), back["code"], client)
    assert session.patient_id == synthea[0] and session.expires_in_s == 3600
    assert session.access_token in server.tokens
    assert session.access_token not in repr(session) and pending.code_verifier not in repr(pending)
    (sent,) = server.token_requests
    assert sent["code_verifier"] == pending.code_verifier and sent["client_id"] == "riskcalc-test"

    bundle = fetch_record(session, client)
    fetched = riskcalc.read_history(bundle)
    expected = riskcalc.read_history(combine_prefetch(synthea[1]))
    assert fetched.patient_id == synthea[0]
    assert fetched.model_dump() == expected.model_dump()
    assert fetched.infections and fetched.cancers  # the patient has both: the record is whole
    ours = "\n".join(  # the app's side: the EHR's own (uvicorn) access log is not ours
        r.getMessage() for r in caplog.records if not r.name.startswith("uvicorn")
    )
    assert session.access_token not in ours and synthea[0] not in ours
    with pytest.raises(RemoteError) as used:
        store.take(back["state"])  # a state is good once
    assert used.value.code == "smart.state"


def test_standalone_launch_asks_for_a_patient(ehr: tuple[str, SmartServer], synthea: Any) -> None:
    iss, _ = ehr
    client = _client(iss)
    pending = begin_launch(iss, None, client)
    asked = parse_qs(urlsplit(pending.authorize_url).query)
    assert "launch" not in asked and asked["scope"][0].split()[0] == "launch/patient"
    back = _sign_in(pending)
    assert complete_launch(pending, back["code"], client).patient_id == synthea[0]


def test_confidential_client_authenticates_with_its_secret(
    ehr: tuple[str, SmartServer], synthea: Any
) -> None:
    iss, server = ehr
    server.client_secret = "s3cret"
    client = _client(iss, client_secret="s3cret")
    assert "s3cret" not in repr(client)
    pending = begin_launch(iss, server.launch, client)
    assert complete_launch(pending, _sign_in(pending)["code"], client).patient_id == synthea[0]
    wrong = _client(iss, client_secret="guess")
    pending = begin_launch(iss, server.launch, wrong)
    with pytest.raises(RemoteError) as refused:
        complete_launch(pending, _sign_in(pending)["code"], wrong)
    assert refused.value.code == "smart.token" and "invalid_client" in refused.value.message


def test_the_token_endpoint_checks_the_pkce_verifier_and_uses_a_code_once(
    ehr: tuple[str, SmartServer],
) -> None:
    iss, server = ehr
    client = _client(iss)
    pending = begin_launch(iss, server.launch, client)
    code = _sign_in(pending)["code"]
    forged = dataclasses.replace(pending, code_verifier="x" * 64)
    with pytest.raises(RemoteError) as bad_verifier:
        complete_launch(forged, code, client)
    assert bad_verifier.value.code == "smart.token" and "invalid_grant" in str(bad_verifier.value)
    pending = begin_launch(iss, server.launch, client)
    code = _sign_in(pending)["code"]
    complete_launch(pending, code, client)
    with pytest.raises(RemoteError) as again:
        complete_launch(pending, code, client)
    assert again.value.code == "smart.token"


def test_launches_only_from_listed_servers(ehr: tuple[str, SmartServer]) -> None:
    iss, server = ehr
    for client, asked in [
        (_client("https://ehr.example.org/fhir"), iss),  # another server listed
        (SmartClient(client_id="c", redirect_uri=REDIRECT), iss),  # none listed: https only
        (_client(iss), iss + "-evil"),  # a prefix is not a parent path
        (_client(iss), iss + "/../admin"),  # sent to /admin once the client resolves it
        (_client(iss), iss.replace("/fhir", "/fhir%2F..%2Fadmin")),
        (_client(iss), "http://[::1"),  # not a URL at all
        (_client(iss), "javascript:alert(1)"),
        (_client(iss), iss + "/..;/admin"),  # Tomcat and Jetty read ..; as ..
        (_client(iss), iss + "\\..\\admin"),  # IIS reads \ as /
        (_client(iss), iss + "/r4"),  # under a listed base: a SMART iss is the base itself
    ]:
        with pytest.raises(RemoteError) as refused:
            begin_launch(asked, server.launch, client)
        assert refused.value.code == "smart.untrusted_server"
    assert server.authorize_requests == []


def test_a_server_without_pkce_s256_or_configuration_is_refused(
    ehr: tuple[str, SmartServer],
) -> None:
    iss, server = ehr
    server.s256 = False
    with pytest.raises(RemoteError) as no_s256:
        begin_launch(iss, server.launch, _client(iss))
    assert no_s256.value.code == "smart.discovery" and "S256" in no_s256.value.message
    server.s256 = True
    base = iss.removesuffix("/fhir")
    for bad in [
        {"authorization_endpoint": f"{base}/auth/authorize#x"},  # RFC 6749 3.1: no fragment
        {"token_endpoint": "http://127.0.0.2:9/token"},  # plain http to another host
        {"token_endpoint": "https://[::1"},  # not a URL
        {"token_endpoint": 5},
        {"padding": "x" * (1 << 20)},  # an answer past 1 MB
    ]:
        server.configuration = bad
        with pytest.raises(RemoteError) as refused:
            begin_launch(iss, server.launch, _client(iss))
        assert refused.value.code == "smart.discovery", bad
    server.configuration = {"token_endpoint": "https://auth.example.org/token"}
    assert begin_launch(iss, server.launch, _client(iss)).token_endpoint.startswith("https://")
    base = iss.removesuffix("/fhir")
    with pytest.raises(RemoteError) as missing:
        begin_launch(base, server.launch, _client(base))  # no configuration at the root
    assert missing.value.code == "smart.discovery"


def test_refusals_and_unreachable_servers_are_typed(ehr: tuple[str, SmartServer]) -> None:
    iss, server = ehr
    server.deny = True
    back = _sign_in(begin_launch(iss, server.launch, _client(iss)))
    error = authorization_error(back)
    assert error is not None and error.code == "smart.denied" and "access_denied" in error.message
    assert authorization_error({"code": "c", "state": "s"}) is None
    server.patient_id = ""  # a token without a patient in context
    server.deny = False
    pending = begin_launch(iss, server.launch, _client(iss))
    with pytest.raises(RemoteError) as no_patient:
        complete_launch(pending, _sign_in(pending)["code"], _client(iss))
    assert no_patient.value.code == "smart.token" and "patient" in no_patient.value.message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/fhir"
    with pytest.raises(RemoteError) as unreachable:
        begin_launch(closed, None, _client(closed, timeout_s=2))
    assert unreachable.value.code == "remote.unreachable"


@pytest.mark.parametrize(
    ("granted", "refused"),
    [
        ("launch patient/*.read", False),  # SMART v1
        ("launch patient/*.rs", False),
        ("patient/Patient.r " + " ".join(f"patient/{t}.s" for t in RESOURCE_TYPES[1:]), False),
        ("launch patient/Patient.rs patient/Condition.rs", True),  # no Observation, …
        ("patient/*.rs?category=laboratory", True),  # a query limits what is granted
        ("patient/*.c", True),
        ("", True),
    ],
)
def test_a_token_must_grant_reading_every_type_the_history_uses(
    ehr: tuple[str, SmartServer], granted: str, refused: bool
) -> None:
    iss, server = ehr
    server.scope_granted = granted
    pending = begin_launch(iss, server.launch, _client(iss))
    code = _sign_in(pending)["code"]
    if not refused:
        assert complete_launch(pending, code, _client(iss)).scope == granted
        return
    with pytest.raises(RemoteError) as narrow:
        complete_launch(pending, code, _client(iss))
    assert narrow.value.code == "smart.scope" and "Observation" in narrow.value.message


def test_unreadable_types_names_what_a_scope_list_leaves_out() -> None:
    assert unreadable_types("patient/*.read") == []
    assert unreadable_types("user/*.rs") == []
    assert unreadable_types("patient/Patient.s patient/*.s") == ["Patient"]  # read needed
    assert unreadable_types("launch openid") == list(RESOURCE_TYPES)


@pytest.mark.parametrize("token", ["tök", "a b", "line\nbreak", "=abc"])
def test_a_token_that_no_header_can_carry_is_refused(
    ehr: tuple[str, SmartServer], token: str
) -> None:
    iss, server = ehr
    server.token_value = token
    pending = begin_launch(iss, server.launch, _client(iss))
    with pytest.raises(RemoteError) as bad:
        complete_launch(pending, _sign_in(pending)["code"], _client(iss))
    assert bad.value.code == "smart.token"


def test_a_patient_id_with_a_trailing_newline_is_refused(ehr: tuple[str, SmartServer]) -> None:
    iss, server = ehr
    server.patient_id += "\n"  # '$' in a Python regex would let it through
    pending = begin_launch(iss, server.launch, _client(iss))
    with pytest.raises(RemoteError) as bad:
        complete_launch(pending, _sign_in(pending)["code"], _client(iss))
    assert bad.value.code == "smart.token"


def test_a_launch_is_taken_only_by_the_browser_that_began_it() -> None:
    store = LaunchStore()
    pending = PendingLaunch("https://e/fhir", "s1", "https://e/a", "https://e/t", "v" * 43)
    store.put(pending, browser="alice")
    for other in ("mallory", None):
        with pytest.raises(RemoteError) as wrong:
            store.take("s1", browser=other)
        assert wrong.value.code == "smart.state"
    assert store.take("s1", browser="alice") is pending  # still there for its own browser


def test_launch_store_expires_and_bounds_what_it_holds() -> None:
    now = [0.0]
    store = LaunchStore(ttl_s=60, max_pending=2, clock=lambda: now[0])

    def launch(state: str) -> PendingLaunch:
        return PendingLaunch("https://e/fhir", state, "https://e/a", "https://e/t", "v" * 43)

    store.put(launch("a"))
    now[0] = 61
    with pytest.raises(RemoteError) as expired:
        store.take("a")
    assert expired.value.code == "smart.state"
    for state in "bcd":
        store.put(launch(state))
    assert len(store) == 2
    assert store.take("d").state == "d" and store.take("c").state == "c"
    with pytest.raises(RemoteError):
        store.take("b")  # the oldest, dropped for room


def test_client_from_environment_needs_the_three_settings_together() -> None:
    from riskcalc.errors import ConfigError
    from riskcalc.smart import DEFAULT_RESOURCE_SCOPES, client_from_environment

    assert client_from_environment({}) is None
    env = {
        "RISKCALC_SMART_CLIENT_ID": "riskcalc",
        "RISKCALC_SMART_REDIRECT_URI": "https://app.example.org/",
        "RISKCALC_SMART_ISS": "https://a.example.org/fhir/, https://b.example.org/r4",
    }
    client = client_from_environment(env)
    assert client is not None and client.client_secret is None
    assert client.issuers == ("https://a.example.org/fhir", "https://b.example.org/r4")
    assert client.resource_scopes == DEFAULT_RESOURCE_SCOPES
    secret = client_from_environment(
        {**env, "RISKCALC_SMART_CLIENT_SECRET": "s", "RISKCALC_SMART_SCOPES": "patient/*.read"}
    )
    assert secret is not None and secret.client_secret == "s"
    assert secret.resource_scopes == "patient/*.read"
    for missing in env:
        with pytest.raises(ConfigError) as half:
            client_from_environment({k: v for k, v in env.items() if k != missing})
        assert half.value.code == "config.invalid" and missing in half.value.message
    for uri in ("app.example.org", "http://[::1", "https://app.example.org/#x"):
        with pytest.raises(ConfigError):
            client_from_environment({**env, "RISKCALC_SMART_REDIRECT_URI": uri})


@given(text=st.text(max_size=80) | st.from_regex(r"https?://[a-z.:\[\]0-9]{0,20}/[ -~]{0,30}"))
@settings(max_examples=300, deadline=None)
def test_any_iss_is_either_a_listed_base_or_smart_untrusted_server(text: str) -> None:
    client = _client("https://ehr.example.org/fhir")
    try:
        base = check_issuer(text, client)
    except RemoteError as exc:
        assert exc.code == "smart.untrusted_server"
    else:
        assert base == "https://ehr.example.org/fhir"
    assert isinstance(under_base(text, "https://ehr.example.org/fhir"), bool)
