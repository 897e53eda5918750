"""Pytest fixtures for tests against the emulator. Enable with
``pytest_plugins = ["airflow_provider_genesys.testing.pytest_plugin"]`` in your root ``conftest.py``.

- ``genesys_emulator``: a fresh emulator per test, with ``AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT`` pointing at
  it. Options come from ``@pytest.mark.genesys_emulator(users=50, rate_limit=10)`` or indirect
  parametrisation (``@pytest.mark.parametrize("genesys_emulator", [{...}], indirect=True)``).
- ``genesys_emulator_factory``: ``factory(**options)`` starts more emulators; all stop after the test.
- ``genesys_emulator_session``: one default emulator shared by the session (do not script faults or
  move its clock: other tests see it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_genesys.testing.emulator import GenesysCloudEmulator

CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "genesys_emulator(**options): GenesysCloudEmulator arguments for that fixture"
    )


@pytest.fixture
def genesys_emulator_factory() -> Iterator[Callable[..., GenesysCloudEmulator]]:
    started: list[GenesysCloudEmulator] = []

    def factory(**options: Any) -> GenesysCloudEmulator:
        emulator = GenesysCloudEmulator(**options).start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in reversed(started):
        emulator.stop()


@pytest.fixture
def genesys_emulator(
    request: pytest.FixtureRequest,
    genesys_emulator_factory: Callable[..., GenesysCloudEmulator],
    monkeypatch: pytest.MonkeyPatch,
) -> GenesysCloudEmulator:
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker("genesys_emulator")
    if marker is not None:
        options.update(marker.kwargs)
    options.update(getattr(request, "param", None) or {})
    emulator = genesys_emulator_factory(**options)
    monkeypatch.setenv(CONN_ENV, emulator.connection_json())
    return emulator


@pytest.fixture(scope="session")
def genesys_emulator_session() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator() as emulator:
        yield emulator
