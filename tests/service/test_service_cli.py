"""`riskcalc serve` argument handling (the server itself is tested over HTTP elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskcalc.cli import main


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
    _serve._run_workers(uvicorn.Config("x:y", host="127.0.0.1", port=0, workers=2))
    assert len(seen) == 2
    assert all(seen)
