"""The emulator the plan operator's tests share (one per module) and its connection as the default one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator

CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"


@pytest.fixture(scope="module")
def emu() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=60, seed=3) as emulator:
        yield emulator


@pytest.fixture
def conn(emu: GenesysCloudEmulator, monkeypatch: pytest.MonkeyPatch) -> GenesysCloudEmulator:
    """``emu`` as the default Genesys connection, its request counters at zero."""
    monkeypatch.setenv(CONN_ENV, json.dumps(emu.connection_dict(max_retry_wait=0, max_attempts=3)))
    emu.stats.reset()
    return emu
