"""A missing database server skips its tests on a laptop and fails them under CI=true."""

from __future__ import annotations

import socket

import pytest

from tests.servers import HOST, require_server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_missing_server_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    port = closed_port()
    with pytest.raises(pytest.skip.Exception, match=f"PostgreSQL is not running on {HOST}:{port}"):
        require_server("PostgreSQL", port)


def test_missing_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="never skip under CI=true"):
        require_server("MariaDB", closed_port())
