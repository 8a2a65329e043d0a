"""The Patient page with SMART launch parameters but without a usable registration (AppTest).

The launch itself runs in a real browser against a real SMART server in
test_app_smart_browser.py; here, what the page says when the app cannot take part in one.
"""

from __future__ import annotations

import pytest
from app_helpers import APP, TIMEOUT, _run, _texts
from streamlit.testing.v1 import AppTest

LAUNCH = {"iss": "https://ehr.example.org/fhir", "launch": "abc"}
ENV = ("RISKCALC_SMART_CLIENT_ID", "RISKCALC_SMART_REDIRECT_URI", "RISKCALC_SMART_ISS")


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
    errors = "\n".join(e.value for e in at.error)
    assert "config.invalid" in errors and "RISKCALC_SMART_ISS" in errors
    assert not at.metric  # nothing else is shown during a launch


def test_an_unlisted_server_is_refused_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKCALC_SMART_CLIENT_ID", "riskcalc")
    monkeypatch.setenv("RISKCALC_SMART_REDIRECT_URI", "http://127.0.0.1:8501/")
    monkeypatch.setenv("RISKCALC_SMART_ISS", "https://other.example.org/fhir")
    at = _launched(LAUNCH)
    assert "smart.untrusted_server" in "\n".join(e.value for e in at.error)
    at = _launched({"code": "c", "state": "never-begun"})
    assert "smart.state" in "\n".join(e.value for e in at.error)
