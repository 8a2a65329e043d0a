"""`riskcalc app`: the command line it runs, and the parser."""

from __future__ import annotations

import sys
from pathlib import Path

from riskcalc.cli import build_parser
from riskcalc.cli._app import MAX_UPLOAD_MB, app_path, streamlit_command

ROOT = Path(__file__).resolve().parents[2]


def test_app_path_is_the_repository_app() -> None:
    assert app_path() == ROOT / "streamlit_app" / "app.py"


def test_command_binds_loopback_headless_without_usage_stats() -> None:
    command = streamlit_command(8999)
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert command[4] == str(app_path())
    flags = dict(zip(command[5::2], command[6::2], strict=True))
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--server.port"] == "8999"
    assert flags["--server.headless"] == "true"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert flags["--server.maxUploadSize"] == str(MAX_UPLOAD_MB)


def test_parser_default_port() -> None:
    args = build_parser().parse_args(["app"])
    assert args.port == 8501 and args.address == "127.0.0.1" and callable(args.func)
    assert build_parser().parse_args(["app", "--port", "9000"]).port == 9000


def test_app_and_cli_agree_on_the_upload_limit() -> None:
    sys.path.insert(0, str(ROOT / "streamlit_app"))
    try:
        import common
    finally:
        sys.path.remove(str(ROOT / "streamlit_app"))
    assert common.MAX_UPLOAD_MB == MAX_UPLOAD_MB
