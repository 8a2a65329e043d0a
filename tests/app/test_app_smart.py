"""The Patient page with SMART launch parameters but without a usable registration (AppTest).

The launch itself runs in a real browser against a real SMART server in
test_app_smart_browser.py; here, what the page says when the app cannot take part in one.
"""

from __future__ import annotations

import re

import pytest
from app_helpers import APP, TIMEOUT, _run, _texts
from streamlit.testing.v1 import AppTest

LAUNCH = {"iss": "https://ehr.example.org/fhir", "launch": "abc"}
ENV = ("RISKCALC_SMART_CLIENT_ID", "RISKCALC_SMART_REDIRECT_URI", "RISKCALC_SMART_ISS")


def _errors(at: AppTest) -> str:
    """The error boxes' text as shown (their Markdown escapes undone)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(e.value for e in at.error))


def _launched(params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(params)
    return _run(at)


def test_a_launch_without_registration_says_so_and_the_page_still_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    at = _launched(LAUNCH)
    assert "not registered with an EHR" in _texts(at)
    assert at.sidebar.radio(key="source").options == ["Demo patient", "Upload a FHIR file"]
    assert any("Patient " in s.value for s in at.subheader)  # the demo patient is shown


def test_a_half_registration_shows_config_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKCALC_SMART_CLIENT_ID", "riskcalc")
    for name in ENV[1:]:
        monkeypatch.delenv(name, raising=False)
    at = _launched(LAUNCH)
    errors = _errors(at)
    assert "config.invalid" in errors and "RISKCALC_SMART_ISS" in errors
    assert not at.metric  # nothing else is shown during a launch


def test_an_unlisted_server_is_refused_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKCALC_SMART_CLIENT_ID", "riskcalc")
    monkeypatch.setenv("RISKCALC_SMART_REDIRECT_URI", "http://127.0.0.1:8501/")
    monkeypatch.setenv("RISKCALC_SMART_ISS", "https://other.example.org/fhir")
    at = _launched(LAUNCH)
    assert "smart.untrusted_server" in _errors(at)
    at = _launched({"code": "c", "state": "never-begun"})
    assert "smart.state" in _errors(at)


def test_what_a_url_says_is_shown_as_text_not_as_markdown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A crafted launch URL cannot put a link or an image of someone else's on the page."""
    monkeypatch.setenv("RISKCALC_SMART_CLIENT_ID", "riskcalc")
    monkeypatch.setenv("RISKCALC_SMART_REDIRECT_URI", "http://127.0.0.1:8501/")
    monkeypatch.setenv("RISKCALC_SMART_ISS", "https://ehr.example.org/fhir")
    lure = "Session expired. [Sign in again](https://evil.example/login) ![](https://evil.example/t.png)"
    at = _launched({"iss": lure, "launch": "x"})
    (box,) = at.error
    assert "smart.untrusted_server" in box.value
    assert "[Sign in again](https://evil" not in box.value and "![](" not in box.value
    assert "\\[Sign in again\\]\\(https\\:" in box.value  # every bracket escaped
    # an authorization error for no launch of this browser is no news: its text is not shown
    at = _launched({"error": "access_denied", "error_description": lure, "state": "none"})
    assert "smart.state" in _errors(at) and "Sign in again" not in _errors(at)


def test_a_registered_app_offers_the_ehr_as_a_source(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/fhir"  # nothing listens there
    monkeypatch.setenv("RISKCALC_SMART_CLIENT_ID", "riskcalc")
    monkeypatch.setenv("RISKCALC_SMART_REDIRECT_URI", "http://127.0.0.1:8501/")
    monkeypatch.setenv("RISKCALC_SMART_ISS", closed)
    at = _run(AppTest.from_file(str(APP), default_timeout=TIMEOUT))
    radio = at.sidebar.radio(key="source")
    assert radio.options == ["Demo patient", "Upload a FHIR file", "From the EHR"]
    radio.set_value("From the EHR")
    at = _run(at)
    assert "remote.unreachable" in _errors(at)  # a standalone launch begins at the EHR
