"""The emulator the review tests share (one per module; tests that change it take their own) and helpers that
read its ground truth: who holds a role, who manages whom."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import airflow_provider_genesys.testing.org.catalogue as cat
from airflow_provider_genesys.access.review import Review, open_review, read_snapshot
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.conftest import client_for

CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
ORG_USERS, ORG_SEED = 300, 2


@pytest.fixture(scope="module")
def emu() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=ORG_USERS, seed=ORG_SEED) as emulator:
        yield emulator


@pytest.fixture
def fresh() -> Iterator[GenesysCloudEmulator]:
    """An org of its own, for a test that changes it."""
    with GenesysCloudEmulator(users=ORG_USERS, seed=ORG_SEED) as emulator:
        yield emulator


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``conn(emu)``: ``emu`` as the default Genesys connection (the operators' hook reads it)."""

    def use(emulator: GenesysCloudEmulator) -> GenesysCloudEmulator:
        monkeypatch.setenv(CONN_ENV, json.dumps(emulator.connection_dict(max_retry_wait=0, max_attempts=3)))
        return emulator

    return use


def role_id(emu: GenesysCloudEmulator, name: str) -> str:
    return next(emu.org.role(i)["id"] for i, role in enumerate(cat.ROLES) if role[0] == name)


def division_id(emu: GenesysCloudEmulator, name: str) -> str:
    return emu.org.division_id(next(i for i, d in enumerate(cat.DIVISIONS) if d[0] == name))


def user_grants(emu: GenesysCloudEmulator, role: str) -> set[tuple[str, str]]:
    """(user, division) of every direct user grant of ``role`` (deleted users hold none)."""
    return {(s, d) for s, kind, r, d in emu.org.iter_all_grants() if r == role and kind == "PC_USER"}


def users(emu: GenesysCloudEmulator) -> dict[str, dict[str, Any]]:
    return {u["id"]: u for u in emu.org.iter_users("any")}


def review_text(emu: GenesysCloudEmulator, roles: Any = ("Supervisor",), divisions: Any = None, **options: Any) -> str:
    """A review of ``emu`` opened in memory (the engine alone), as its file's text."""
    written: list[str] = []

    @contextmanager
    def out() -> Iterator[io.StringIO]:
        text = io.StringIO()
        yield text
        written.append(text.getvalue())

    snapshot = read_snapshot(client_for(emu), roles, divisions)
    try:
        open_review(snapshot, out, org_id=emu.org.org_id, created_at=NOW, due_at=NOW + timedelta(days=14), **options)
    finally:
        snapshot.close()
    return written[0]


def loaded(text: str, org_id: str | None = None) -> Review:
    return Review(lambda: io.StringIO(text), org_id=org_id)
