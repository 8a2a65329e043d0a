"""``riskcalc app [--port 8501]``: start the Streamlit app (``streamlit_app/app.py``).

Runs ``python -m streamlit run <repo>/streamlit_app/app.py`` bound to 127.0.0.1, headless, with
usage statistics off and the upload limit of the app. The app folder is found next to the
installed package (an editable install or a source checkout); a wheel without it says so.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from riskcalc.errors import ConfigError

#: Largest upload the server accepts, MB (the app checks it again in code).
MAX_UPLOAD_MB = 50


def app_path() -> Path:
    """``streamlit_app/app.py`` at the root of the repository this package lives in.

    Raises
    ------
    ConfigError
        ``config.invalid`` if the package is installed without the app folder.
    """
    path = Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py"
    if not path.is_file():
        raise ConfigError(
            "config.invalid",
            f"the Streamlit app is not at {path}; run riskcalc from a source checkout "
            "(git clone, then `make app`)",
        )
    return path


def streamlit_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The command line that serves the app on ``address:port``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.maxUploadSize",
        str(MAX_UPLOAD_MB),
        "--client.toolbarMode",
        "minimal",
    ]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "app",
        help="start the Streamlit app (clinician and researcher views)",
        description="Serve the riskcalc Streamlit app on 127.0.0.1. Research use only.",
    )
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replace this process with the Streamlit server (signals such as Ctrl-C and SIGTERM then
    reach the server itself, and no orphan is left behind)."""
    command = streamlit_command(args.port, args.address)
    print(f"riskcalc: serving the app on http://{args.address}:{args.port}", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os.execv(command[0], command)
    return 0  # not reached
