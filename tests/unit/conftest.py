"""Helpers for the client-core tests: a fake clock whose sleep advances time, and client factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_genesys import ratelimit
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.settings import GenesysSettings

CLIENT_ID = "client-id-123"
CLIENT_SECRET = "s3cret-client-value"
API = "https://api.mypurecloud.com"
TOKEN_URL = "https://login.mypurecloud.com/oauth/token"


class FakeClock:
    """A monotonic clock that only moves when code under test sleeps (or a test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _fresh_pacers() -> Iterator[None]:
    """Pacers are process-wide by design; tests must not inherit another test's window."""
    ratelimit._PACERS.clear()
    yield
    ratelimit._PACERS.clear()


def make_settings(**extra: Any) -> GenesysSettings:
    return GenesysSettings.from_connection(login=CLIENT_ID, password=CLIENT_SECRET, extra=extra)


def token_response(value: str = "tok-1", expires_in: int = 86400) -> dict[str, Any]:
    return {"json": {"access_token": value, "token_type": "bearer", "expires_in": expires_in}}


@pytest.fixture
def make_client(requests_mock: Any, clock: FakeClock) -> Iterator[Callable[..., GenesysCloudClient]]:
    """A client with a fake clock and a token endpoint issuing tok-1, tok-2, ... on each fetch."""
    clients: list[GenesysCloudClient] = []
    issued = iter(range(1, 1000))

    def token(request: Any, context: Any) -> dict[str, Any]:
        return token_response(f"tok-{next(issued)}")["json"]

    requests_mock.post(TOKEN_URL, json=token)

    def factory(on_secret: Callable[[str], None] | None = None, **extra: Any) -> GenesysCloudClient:
        client = GenesysCloudClient(
            make_settings(**extra), sleep=clock.sleep, clock=clock, on_secret=on_secret
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
