"""End to end in a real browser: headless Chromium (Debian's package) driven by Playwright.

Starts the app as `riskcalc app` would (same command line) on 127.0.0.1 and a free port,
uploads a Synthea bundle from the shared fixtures, checks that the risk, the timeline and the
research-use statement render, tries a what-if, and saves screenshots: to a temporary folder,
or to ``$RISKCALC_SCREENSHOT_DIR`` (``make screenshots`` sets it to docs/images/, the pictures of
docs/clinicians/app.md), so that a test run leaves the working tree as it was. Marked slow.
Without Chromium or Playwright it skips, except under CI (env var CI set), where it fails: CI
must install what it needs.
"""

from __future__ import annotations

import bz2
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import riskcalc
from riskcalc.cli._app import streamlit_command

ROOT = Path(__file__).resolve().parents[2]
IMAGES = Path(
    os.environ.get("RISKCALC_SCREENSHOT_DIR")
    or Path(tempfile.gettempdir()) / "riskcalc-screenshots"
)
CHROMIUM = Path(os.environ.get("RISKCALC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.is_file() or shutil.which(str(CHROMIUM)) is None:
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


SYNTHEA = "synthea-blaze/ad0b4b7a-2285-7a3c-5fd2-edbe4d67b7e7.json.bz2"
PATIENT = "ad0b4b7a-2285-7a3c-5fd2-edbe4d67b7e7"
WAIT_MS = 90_000

pytestmark = pytest.mark.slow


def _model_available() -> bool:
    from riskcalc.model import load_model

    try:
        load_model()
    except riskcalc.RiskCalcError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(
    log: Path, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[str]:
    """The app served by its real command line on ``port`` (default: a free one), ``env`` added
    to its environment; yields its URL, stops it afterwards."""
    port = port or _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            streamlit_command(port),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start: {log.read_text()[-2000:]}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_app(tmp_path_factory.mktemp("app") / "streamlit.log") as url:
        yield url


def _open_upload(page: object, url: str, bundle: Path) -> None:
    page.goto(url, wait_until="domcontentloaded")  # type: ignore[attr-defined]
    page.get_by_text("Upload a FHIR file").click()  # type: ignore[attr-defined]
    file_input = page.locator('input[type="file"]')  # type: ignore[attr-defined]
    file_input.wait_for(state="attached", timeout=WAIT_MS)
    file_input.set_input_files(str(bundle))
    page.get_by_text(f"Patient {PATIENT}").wait_for(timeout=WAIT_MS)  # type: ignore[attr-defined]


def _in_viewport(page: object, text: str) -> bool:
    box = page.get_by_text(text).first.bounding_box()  # type: ignore[attr-defined]
    height = page.viewport_size["height"]  # type: ignore[attr-defined]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_upload_renders_risk_timeline_and_statement(
    server: str, browser: object, fixtures: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "patient.json"
    bundle.write_bytes(bz2.decompress((fixtures / SYNTHEA).read_bytes()))
    page = browser.new_page(viewport={"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    _open_upload(page, server, bundle)

    # the statement and the model version are visible without scrolling
    statement_start = riskcalc.RESEARCH_USE_STATEMENT[:60]
    assert _in_viewport(page, statement_start)
    model = _model_available()
    if model:
        from riskcalc.model import load_model

        info = load_model().info
        assert _in_viewport(page, f"{info.model_id} {info.version}")
        metric = page.locator('[data-testid="stMetric"]', has_text="recorded history").first
        metric.wait_for(timeout=WAIT_MS)
        text = metric.inner_text()
        assert "Within 24 months" in text and "%" in text
        page.get_by_text("Out of 100 people like this patient").wait_for(timeout=WAIT_MS)
    elif os.environ.get("CI"):
        pytest.fail("CI must run the browser test with the default model built (make model)")
    else:
        page.get_by_text("model.not_found").first.wait_for(timeout=WAIT_MS)

    # the timeline chart (vega-embed) has rendered, above the awakening trajectory
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.first.wait_for(timeout=WAIT_MS)
    page.locator(
        '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
    ).first.wait_for(timeout=WAIT_MS)
    page.get_by_text("Awakening score (exploratory)").first.wait_for(timeout=WAIT_MS)
    time.sleep(1.5)  # let vega finish drawing before the screenshots
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "app-main.png"))
    timeline = page.get_by_role("tabpanel").first
    timeline.scroll_into_view_if_needed()
    time.sleep(0.5)
    timeline.screenshot(path=str(IMAGES / "app-timeline.png"))
    basis_tab = page.get_by_role("tab", name="Basis")
    basis_tab.click()
    page.get_by_text("Every record the assessment as of").wait_for(timeout=WAIT_MS)

    # a what-if: the COVID-19 episode switched off is labelled hypothetical at once
    page.get_by_text("Happened").first.click()
    page.locator('[data-testid="stAlert"]', has_text="Hypothetical (what-if)").wait_for(
        timeout=WAIT_MS
    )
    if model:
        page.locator('[data-testid="stMetric"]', has_text="Hypothetical (what-if)").first.wait_for(
            timeout=WAIT_MS
        )
    page.get_by_text("Assessing…").wait_for(state="detached", timeout=WAIT_MS)
    time.sleep(2)
    page.locator('[data-testid="stMain"]').evaluate("el => el.scrollTo(0, 0)")
    page.screenshot(path=str(IMAGES / "app-whatif.png"))
    page.close()


def test_no_request_leaves_the_machine(server: str, browser: object) -> None:
    """Every request of a page load goes to the app itself: nothing to fonts.gstatic.com (QA:
    the ":material/science:" page icon was fetched from there on every load: it fails
    offline and is a request to the outside from a clinical network), and none fails."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    requests: list[str] = []
    failed: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page.goto(server, wait_until="domcontentloaded")
    page.get_by_text("Awakening score (exploratory)").first.wait_for(timeout=WAIT_MS)
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=WAIT_MS)
    time.sleep(2)  # the favicon and late fonts
    page.close()
    outside = [u for u in requests if not u.startswith((server, "data:", "blob:", "about:"))]
    assert requests and not outside, outside
    assert not failed, failed


def test_dark_theme_renders(server: str, browser: object, fixtures: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "patient.json"
    bundle.write_bytes(bz2.decompress((fixtures / SYNTHEA).read_bytes()))
    page = browser.new_page(  # type: ignore[attr-defined]
        viewport={"width": 1440, "height": 1000}, color_scheme="dark"
    )
    _open_upload(page, server, bundle)
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=WAIT_MS)
    background = page.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor"
    )
    channels = [int(c) for c in background[background.index("(") + 1 : -1].split(",")[:3]]
    assert sum(channels) < 3 * 100, f"not a dark background: {background}"
    time.sleep(1.5)
    page.screenshot(path=str(IMAGES / "app-main-dark.png"))
    page.close()
