"""`riskcalc serve` argument handling (the server itself is tested over HTTP elsewhere)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from service_helpers import ISSUER, SERVICE_URL

from riskcalc.cli import main


@pytest.fixture()
def no_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """A start-up that should have failed fails the test instead of serving for ever."""
    import uvicorn
    import uvicorn.supervisors

    def started(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the service started")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(uvicorn.Server, "run", started)
    monkeypatch.setattr(uvicorn.supervisors.Multiprocess, "run", started)


def test_auth_settings_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0"]) == 5
    err = capsys.readouterr().err
    assert "config.invalid" in err and "--audience" in err


def test_dev_no_auth_warns_and_a_missing_model_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RISKCALC_MODEL_DIR", str(tmp_path / "none"))
    assert main(["serve", "--dev-no-auth", "--port", "0"]) == 4
    err = capsys.readouterr().err
    assert "--dev-no-auth" in err and "OFF" in err
    assert "model.not_found" in err


def test_bad_value_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--dev-no-auth", "--warning-at", "7"]) == 5
    assert "warning_at_probability" in capsys.readouterr().err


@pytest.mark.usefixtures("no_serving")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_horizon_the_model_does_not_know_stops_start_up(
    capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    """Not a service whose every call is a 500."""
    from riskcalc.errors import ModelError
    from riskcalc.model import load_model

    try:
        horizons = load_model().horizons_months
    except ModelError as exc:
        pytest.skip(f"default model not built ({exc.code}; `make model`)")
    assert 7 not in horizons
    argv = ["serve", "--dev-no-auth", "--port", "0", "--horizon-months", "7", "--workers", workers]
    assert main(argv) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("riskcalc: error [config.invalid] horizon_months=7")
    assert "Traceback" not in "".join(err)


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "http"])
def test_a_port_outside_0_65535_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], port: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--dev-no-auth", "--port", port])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --port" in err and "Traceback" not in err


@pytest.mark.parametrize("content", ["[]", '"keys"', "null", '{"keys": "x"}', "{}", "not json"])
def test_a_jwks_file_that_is_not_a_jwk_set_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(content)
    argv = ["serve", "--port", "0", "--jwks-file", str(path)]
    assert main([*argv, "--audience", SERVICE_URL, "--issuer", ISSUER]) == 5
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("riskcalc: error [config.invalid]") and "JWK Set" in line


@pytest.mark.usefixtures("no_serving")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_a_one_line_error_naming_it(
    capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["serve", "--dev-no-auth", "--port", str(port), "--workers", workers]
        assert main(argv) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"riskcalc: error [config.invalid] cannot listen on 127.0.0.1:{port}: another process "
        "is listening on it; choose another --port"
    )


def test_workers_share_a_listening_socket_with_nagle_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux copies TCP_NODELAY from the listening socket to accepted ones (docs/performance.md)."""
    import socket

    import uvicorn
    import uvicorn.supervisors

    from riskcalc.cli import _serve

    seen: list[int] = []

    class Recorder:
        def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
            self.sockets = sockets

        def run(self) -> None:
            for sock in self.sockets:
                seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                sock.listen()  # as each worker's server does
                peer = socket.create_connection(sock.getsockname())
                accepted, _ = sock.accept()
                seen.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                for s in (peer, accepted, sock):
                    s.close()

    monkeypatch.setattr(uvicorn.supervisors, "Multiprocess", Recorder)
    sock = _serve._listening_socket("127.0.0.1", 0)
    _serve._run_workers(uvicorn.Config("x:y", host="127.0.0.1", port=0, workers=2), sock)
    assert len(seen) == 2
    assert all(seen)
