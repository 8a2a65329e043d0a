"""``riskcalc serve``: run the CDS Hooks service with uvicorn (needs the ``service`` extra)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import math
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from riskcalc.errors import ConfigError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the CDS Hooks service (research use)",
        description=(
            "Run the CDS Hooks 2.0 service (patient-view) on HOST:PORT. Tokens from CDS clients "
            "are verified unless --dev-no-auth. See docs/integrators/cds-hooks.md."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8080, help="port, 0-65535 (default 8080)")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--jwks-url", help="URL of the CDS clients' JWK Set")
    keys.add_argument("--jwks-file", type=Path, help="file holding the CDS clients' JWK Set")
    parser.add_argument(
        "--issuer",
        action="append",
        default=[],
        metavar="ISS",
        help="allowed token issuer (repeat for several)",
    )
    parser.add_argument(
        "--audience",
        metavar="URL",
        help="base URL clients call this service at; tokens' aud must be URL/cds-services/<id>",
    )
    parser.add_argument(
        "--feedback-file",
        type=Path,
        default=Path("riskcalc-cds-feedback.jsonl"),
        help="JSON Lines file feedback is appended to (default ./riskcalc-cds-feedback.jsonl)",
    )
    parser.add_argument("--app-url", help="URL of the riskcalc app the cards link to")
    parser.add_argument(
        "--link-type", choices=("absolute", "smart"), default="absolute", help="card link type"
    )
    parser.add_argument(
        "--warning-at",
        type=float,
        default=0.20,
        metavar="P",
        help="risk (0-1) from which the card indicator is 'warning' (default 0.20)",
    )
    parser.add_argument("--horizon-months", type=int, help="prediction horizon (model default)")
    parser.add_argument("--model", type=Path, help="model artifact folder (default: shipped)")
    parser.add_argument(
        "--max-request-mb", type=float, default=20.0, help="largest request body, MB (default 20)"
    )
    parser.add_argument(
        "--fhir-server-allow",
        action="append",
        default=[],
        metavar="URL",
        help="FHIR server prefix the service may query when prefetch is missing (repeat); "
        "default: any https server",
    )
    parser.add_argument(
        "--system-actions",
        action="store_true",
        help="also return the FHIR RiskAssessment as a systemActions 'create'",
    )
    parser.add_argument(
        "--dev-no-auth",
        action="store_true",
        help="TURN OFF token verification (local development only)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (default 1); with more, seen token ids are shared in --replay-db",
    )
    parser.add_argument(
        "--replay-db",
        type=Path,
        help="SQLite file for seen token ids (default with --workers > 1: a private temp file)",
    )
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))
    parser.set_defaults(func=run)


def _port(text: str) -> int:
    """A TCP port (0: one the system chooses), for argparse: anything else is a usage error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-65535)")
    return port


def settings_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~riskcalc.service.ServiceSettings` the arguments describe."""
    from pydantic import ValidationError

    from riskcalc.service import ServiceSettings

    if not math.isfinite(args.max_request_mb):
        raise ConfigError("config.invalid", "--max-request-mb must be a finite number")
    try:
        return ServiceSettings(
            service_url=args.audience,
            jwks_url=args.jwks_url,
            jwks_file=args.jwks_file,
            issuers=tuple(args.issuer),
            dev_no_auth=args.dev_no_auth,
            max_request_bytes=int(args.max_request_mb * 1024 * 1024),
            warning_at_probability=args.warning_at,
            app_url=args.app_url,
            link_type=args.link_type,
            feedback_file=args.feedback_file,
            horizon_months=args.horizon_months,
            model_path=args.model,
            include_system_actions=args.system_actions,
            fhir_server_allow=tuple(args.fhir_server_allow),
            replay_store=args.replay_db,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError("config.invalid", problems) from exc


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from riskcalc.service import create_app
        from riskcalc.service._app import SETTINGS_ENV
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "config.invalid",
            f"the service needs the 'service' extra ({exc.name} is missing): "
            "pip install 'riskcalc[service]'",
        ) from exc
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings_from_args(args)
    if settings.dev_no_auth:
        print(
            "riskcalc serve: WARNING: --dev-no-auth: token verification is OFF. Anyone who can "
            "reach this port can send patient data and read results. Local development only.",
            file=sys.stderr,
        )
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "access_log": False,  # the service logs each request itself, without patient data
        "log_level": args.log_level,
        "log_config": None,
        "server_header": False,
    }
    # Bound here, before the model loads: a port in use is a one-line error at once, rather
    # than uvicorn's log line and exit status after start-up.
    with _listening_socket(args.host, args.port) as sock:
        if args.workers <= 1:
            server = uvicorn.Server(uvicorn.Config(create_app(settings), **common))
            _log_address(sock)
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: shut down, as uvicorn.run does
                server.run(sockets=[sock])
            return 0
        with tempfile.TemporaryDirectory(prefix="riskcalc-serve-") as tmp:
            if settings.replay_store is None:
                settings = settings.model_copy(update={"replay_store": Path(tmp) / "jti.sqlite"})
            create_app(settings)  # fail here, once, on bad settings or a missing model
            os.environ[SETTINGS_ENV] = settings.model_dump_json()
            _log_address(sock)
            _run_workers(
                uvicorn.Config(
                    "riskcalc.service._app:app_from_environment",
                    factory=True,
                    workers=args.workers,
                    **common,
                ),
                sock,
            )
    return 0


def _listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (as uvicorn binds one), with Nagle's algorithm off.

    An answer written in two parts (head, then body) with Nagle on waits for the client's
    delayed ACK, 40 ms on Linux: a trivial ``GET /cds-services`` took 44 ms with 2 workers and
    0.9 ms with one process when uvicorn bound the workers' socket as protocol 0, on whose
    connections asyncio does not set ``TCP_NODELAY``. Linux copies it from the listening socket
    to the sockets ``accept`` returns, so it is set here, once, for every worker.

    Raises
    ------
    ConfigError
        ``config.invalid`` if the address cannot be bound (port in use, no permission, unknown
        host), naming it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = {
            errno.EADDRINUSE: ": another process is listening on it; choose another --port",
            errno.EACCES: ": permission denied (ports below 1024 need privileges)",
        }.get(exc.errno or 0, f" ({exc.strerror or exc})")
        raise ConfigError("config.invalid", f"cannot listen on {host}:{port}{hint}") from exc
    sock.set_inheritable(True)  # the worker processes serve it
    return sock


def _log_address(sock: socket.socket) -> None:
    """Say where the service listens (uvicorn does not when it is handed the socket)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    logging.getLogger("riskcalc.service").info(
        "listening on http://%s:%d (Ctrl-C to stop)", shown, port
    )


def _run_workers(config: Any, sock: socket.socket) -> None:
    """``uvicorn.run`` with workers, all serving ``sock`` (see :func:`_listening_socket`)."""
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[sock]).run()
