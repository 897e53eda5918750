"""Dataset plans against the emulator: every record exactly once, with the fewest requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.extract import plans as plans_module
from airflow_provider_genesys.extract.plans import choose_grants_plan
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator


@pytest.fixture
def emu() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=1200, seed=11) as emulator:
        yield emulator


def make_client(emu: GenesysCloudEmulator) -> GenesysCloudClient:
    conn = emu.connection_dict(max_retry_wait=0)
    settings = GenesysSettings.from_connection(
        login=conn["login"], password=conn["password"], extra=conn["extra"]
    )
    return GenesysCloudClient(settings)


def extract(emu: GenesysCloudEmulator, dataset: str, path: Path, **options) -> tuple[dict, list[dict]]:
    with make_client(emu) as client:
        result = run_extract(client, dataset, path / f"{dataset}.ndjson", ExtractOptions(**options))
    records = [json.loads(line) for line in (path / f"{dataset}.ndjson").read_text().splitlines()]
    return result, records


def grant_keys(records: list[dict]) -> list[tuple[str, str, str]]:
    return [(r["userId"], r["roleId"], r["divisionId"]) for r in records]


@pytest.mark.parametrize("state", ["any", "active", "deleted"])
def test_users_by_state_each_exactly_once(emu: GenesysCloudEmulator, tmp_path: Path, state: str) -> None:
    result, records = extract(emu, "users", tmp_path, state=state, max_workers=3)
    ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(emu.org.user_ids(state))
    assert len(set(ids)) == len(ids)
    assert result["records"] == len(ids)
    pages = -(-len(ids) // 500)
    assert result["requests"] == result["pages"] == max(pages, 1)
    assert result["rate_limited"] == 0


def test_users_expand_is_passed_through(emu: GenesysCloudEmulator, tmp_path: Path) -> None:
    _, records = extract(emu, "users", tmp_path, expand=("authorization",), state="active")
    assert all("roles" in r["authorization"] for r in records)


def test_users_added_while_paging_are_not_written_twice(emu: GenesysCloudEmulator, tmp_path: Path) -> None:
    emu.faults.org_change(add=400, after=1, path=r"^/api/v2/users$")
    _, records = extract(emu, "users", tmp_path, max_workers=1)
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    assert set(ids) <= set(emu.org.user_ids("any"))


@pytest.mark.parametrize("dataset", ["roles", "divisions", "permissions"])
def test_small_listings(emu: GenesysCloudEmulator, tmp_path: Path, dataset: str) -> None:
    _, records = extract(emu, dataset, tmp_path)
    by_id = lambda items: sorted(items, key=lambda item: item["id"])  # noqa: E731
    assert by_id(records) == by_id(getattr(emu.org, dataset))


def test_grants_per_division_plan(emu: GenesysCloudEmulator, tmp_path: Path) -> None:
    result, records = extract(emu, "grants", tmp_path)
    assert sorted(grant_keys(records)) == sorted(emu.org.iter_grants())
    by_path = emu.stats.snapshot()["by_path"]
    assert "GET /api/v2/authorization/roles/{roleId}/subjectgrants" not in by_path
    # 2 listing probes + 1 more divisions page at most + one listing per division and one for "*"
    assert result["requests"] <= 2 + len(emu.org.divisions) + 1 + result["records"] // 500 + 2
    wildcard = [r for r in records if r["divisionId"] == "*"]
    assert wildcard
    assert all(r["divisionName"] is None for r in wildcard)
    assert all(r["id"] == f"{r['userId']}:{r['roleId']}:{r['divisionId']}" for r in records)
    assert all(r["roleName"] and r["grantMadeAt"] for r in records)


def test_grants_per_role_plan_when_roles_are_fewer(
    emu: GenesysCloudEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plans_module, "choose_grants_plan", lambda divisions, roles: "roles")
    _, records = extract(emu, "grants", tmp_path)
    assert sorted(grant_keys(records)) == sorted(emu.org.iter_grants())
    assert "GET /api/v2/authorization/divisions/{divisionId}/grants" not in emu.stats.snapshot()["by_path"]


def test_wildcard_grants_fall_back_to_role_listings_on_404(emu: GenesysCloudEmulator, tmp_path: Path) -> None:
    fault = emu.faults.status(404, path=r"/divisions/(\*|%2A)/grants", count=None)
    _, records = extract(emu, "grants", tmp_path)
    assert fault.fired == 1
    assert sorted(grant_keys(records)) == sorted(emu.org.iter_grants())
    assert any(r["divisionId"] == "*" for r in records)


@pytest.mark.parametrize(
    ("divisions", "roles", "plan"),
    [(6, 12, "divisions"), (11, 12, "divisions"), (12, 12, "roles"), (200, 40, "roles")],
)
def test_grants_plan_takes_fewer_listings(divisions: int, roles: int, plan: str) -> None:
    assert choose_grants_plan(divisions, roles) == plan

