"""SMART App Launch in a real browser: the EHR launches the app, the user signs in, the app
shows the patient read from the EHR's FHIR server.

The EHR is a real SMART authorization server and FHIR server on loopback (tests/service/
fhir_server.py) holding one real Synthea patient; the app runs by its real command line with its
SMART registration in the environment, as a deployment would set it. Marked slow.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import test_app_browser
from test_app_browser import (
    IMAGES,
    PATIENT,
    WAIT_MS,
    _free_port,
    _model_available,
    running_app,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from fhir_server import SmartServer, server_resources, smart_app
from service_helpers import serve, synthea_bundle

pytestmark = pytest.mark.slow
browser = test_app_browser.browser  # the fixture: headless Chromium


@pytest.fixture(scope="module")
def ehr_and_app(
    fixtures: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, SmartServer]]:
    """(the EHR's FHIR base, the app's URL, what the EHR's server saw)."""
    port = _free_port()
    app_url = f"http://127.0.0.1:{port}"
    bundle = synthea_bundle(fixtures)
    server = SmartServer(patient_id=PATIENT, redirect_uri=f"{app_url}/")
    ehr_app, _ = smart_app(server_resources(bundle), server)
    with serve(ehr_app) as ehr_url:
        iss = f"{ehr_url}/fhir"
        env = {
            "RISKCALC_SMART_CLIENT_ID": server.client_id,
            "RISKCALC_SMART_REDIRECT_URI": f"{app_url}/",
            "RISKCALC_SMART_ISS": iss,
        }
        log = tmp_path_factory.mktemp("app") / "streamlit.log"
        with running_app(log, env=env, port=port) as url:
            assert url == app_url
            yield iss, url, server


def _launch(page: Any, app: str, iss: str, launch: str, shot: str | None = None) -> None:
    page.goto(f"{app}/?{urlencode({'iss': iss, 'launch': launch})}", wait_until="domcontentloaded")
    page.get_by_text("Open the patient from the EHR").wait_for(timeout=WAIT_MS)
    if shot is not None:
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / shot))
    page.get_by_test_id("smart-sign-in").click()


def test_ehr_launch_opens_the_patient(ehr_and_app: Any, browser: Any) -> None:
    iss, app, server = ehr_and_app
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    _launch(page, app, iss, server.launch, shot="app-smart-sign-in.png")
    page.get_by_text(f"Patient {PATIENT}, read from {iss}").wait_for(timeout=WAIT_MS)
    page.get_by_text(f"Patient {PATIENT}").first.wait_for(timeout=WAIT_MS)
    if _model_available():
        metric = page.locator('[data-testid="stMetric"]', has_text="recorded history").first
        metric.wait_for(timeout=WAIT_MS)
        assert "%" in metric.inner_text()
        time.sleep(1.5)  # let the charts finish drawing
        page.screenshot(path=str(IMAGES / "app-smart-opened.png"))
    (asked,) = server.authorize_requests
    assert asked["launch"] == server.launch and asked["aud"] == iss
    (sent,) = server.token_requests
    assert sent["code_verifier"] and sent["redirect_uri"] == f"{app}/"
    # not redeemed again on a rerun; nor the RFC 9207 iss of the answer taken for a new launch
    assert "code=" not in page.url and "state=" not in page.url and "iss=" not in page.url
    # the record stays open through a rerun (a widget changed), and the code is not sent again
    page.get_by_text("Happened").first.click()
    page.locator('[data-testid="stAlert"]', has_text="Hypothetical (what-if)").wait_for(
        timeout=WAIT_MS
    )
    assert len(server.token_requests) == 1
    page.close()


def test_a_refused_sign_in_shows_its_code(ehr_and_app: Any, browser: Any) -> None:
    iss, app, server = ehr_and_app
    server.deny = True
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        _launch(page, app, iss, server.launch)
        page.get_by_text("smart.denied").first.wait_for(timeout=WAIT_MS)
        page.get_by_text("access_denied").first.wait_for(timeout=WAIT_MS)
        page.close()
    finally:
        server.deny = False


def test_a_launch_from_an_unlisted_server_is_refused(ehr_and_app: Any, browser: Any) -> None:
    _, app, _ = ehr_and_app
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    query = urlencode({"iss": "https://evil.example.org/fhir", "launch": "x"})
    page.goto(f"{app}/?{query}", wait_until="domcontentloaded")
    page.get_by_text("smart.untrusted_server").first.wait_for(timeout=WAIT_MS)
    assert page.get_by_test_id("smart-sign-in").count() == 0
    page.close()


def test_a_sign_in_answer_opens_only_in_the_browser_that_began_it(
    ehr_and_app: Any, browser: Any
) -> None:
    """Someone else's ``?code=…&state=…`` (a launch begun and signed into elsewhere) must not
    open their patient in this browser (RFC 6749 10.12)."""
    iss, app, server = ehr_and_app
    began = browser.new_page(viewport={"width": 1440, "height": 1000})
    began.goto(f"{app}/?{urlencode({'iss': iss, 'launch': server.launch})}")
    link = began.get_by_test_id("smart-sign-in")
    link.wait_for(timeout=WAIT_MS)
    answer = httpx.get(link.get_attribute("href"), follow_redirects=False, timeout=10)
    back = answer.headers["location"]  # the redirect back, not followed by the browser
    other = browser.new_page(viewport={"width": 1440, "height": 1000})  # its own cookies
    other.goto(back, wait_until="domcontentloaded")
    other.get_by_text("smart.state").first.wait_for(timeout=WAIT_MS)
    assert other.get_by_text(f"Patient {PATIENT}, read from").count() == 0
    began.goto(back, wait_until="domcontentloaded")
    began.get_by_text(f"Patient {PATIENT}, read from {iss}").wait_for(timeout=WAIT_MS)
    other.close()
    began.close()


def test_a_standalone_launch_begins_in_the_app(ehr_and_app: Any, browser: Any) -> None:
    """Without a launch from the EHR: pick "From the EHR", sign in, and the patient chosen at
    the EHR opens (a standalone launch: no ``launch``, scope ``launch/patient``)."""
    iss, app, server = ehr_and_app
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(app, wait_until="domcontentloaded")
    page.get_by_text("From the EHR").click()
    page.get_by_test_id("smart-sign-in").click()
    page.get_by_text(f"Patient {PATIENT}, read from {iss}").wait_for(timeout=WAIT_MS)
    asked = server.authorize_requests[-1]
    assert "launch" not in asked and asked["scope"].split()[0] == "launch/patient"
    page.close()
