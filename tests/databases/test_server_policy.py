"""A missing database server skips its tests on a laptop and fails them under CI=true."""

from __future__ import annotations

import pytest

from tests.servers import HOST, free_port, require_server


def test_missing_server_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    port = free_port()
    with pytest.raises(pytest.skip.Exception, match=f"PostgreSQL is not running on {HOST}:{port}"):
        require_server("PostgreSQL", port)


def test_missing_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="never skip under CI=true"):
        require_server("MariaDB", free_port())
