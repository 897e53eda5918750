"""Dataset plans against the emulator: every record exactly once, with the fewest requests."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.extract.plans import authorization as plans_module
from airflow_provider_genesys.extract.plans.authorization import choose_grants_plan
from airflow_provider_genesys.loaders.permissions import LOADERS, load_extracts
from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing import truth as ground_truth
from tests.conftest import client_for


@pytest.fixture
def emu() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=1200, seed=11) as emulator:
        yield emulator


def extract(emu: GenesysCloudEmulator, dataset: str, path: Path, **options) -> tuple[dict, list[dict]]:
    with client_for(emu, max_retry_wait=0) as client:
        result = run_extract(client, dataset, path / f"{dataset}.ndjson", ExtractOptions(**options))
    records = [json.loads(line) for line in (path / f"{dataset}.ndjson").read_text().splitlines()]
    return result, records


def grant_keys(records: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(r["subjectId"], r["subjectType"], r["roleId"], r["divisionId"]) for r in records]


def truth(emu: GenesysCloudEmulator) -> list[tuple[str, str, str, str]]:
    return ground_truth.grants(emu.org)


@pytest.mark.parametrize("state", ["any", "active", "deleted"])
def test_users_by_state_each_exactly_once(emu: GenesysCloudEmulator, tmp_path: Path, state: str) -> None:
    result, records = extract(emu, "users", tmp_path, state=state, max_workers=3)
    ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(emu.org.user_ids(state))
    assert len(set(ids)) == len(ids)
    assert result["records"] == len(ids)
    pages = -(-len(ids) // 500)
    # more than one page: read twice, the second pass proving nothing moved between pages
    assert result["requests"] == result["pages"] == (max(pages, 1) if pages <= 1 else 2 * pages)
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
    assert sorted(grant_keys(records)) == truth(emu)
    by_path = emu.stats.snapshot()["by_path"]
    # per role only to type the subjects no listing has (trustees), each from its least-held role
    trustee_roles = {r for _, kind, r, _ in emu.org.iter_all_grants() if kind.startswith("PC_TRUSTEE")}
    assert by_path["GET /api/v2/authorization/roles/{roleId}/subjectgrants"] <= 2 * len(trustee_roles)
    # 2 listing probes + one listing per division and one for "*" + users (3 pages), groups, OAuth clients
    listings = 2 + len(emu.org.divisions) + 1 + 3 + 1 + 1 + len(trustee_roles)
    assert result["requests"] <= 2 * (listings + result["records"] // 500 + 2)  # read twice: nothing moved
    wildcard = [r for r in records if r["divisionId"] == "*"]
    assert wildcard
    assert all(r["divisionName"] is None for r in wildcard)
    assert all(r["id"] == f"{r['subjectId']}:{r['roleId']}:{r['divisionId']}" for r in records)
    assert all(r["roleName"] and r["grantMadeAt"] for r in records)
    assert all(("userId" in r) == (r["subjectType"] == "user") for r in records)
    assert all(r["userId"] == r["subjectId"] for r in records if r["subjectType"] == "user")


def test_grants_per_role_plan_when_roles_are_fewer(
    emu: GenesysCloudEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plans_module, "choose_grants_plan", lambda divisions, roles: "roles")
    _, records = extract(emu, "grants", tmp_path)
    assert sorted(grant_keys(records)) == truth(emu)
    assert "GET /api/v2/authorization/divisions/{divisionId}/grants" not in emu.stats.snapshot()["by_path"]


@pytest.mark.parametrize("wildcard", ["grants", "empty", "400", "404"])
@pytest.mark.parametrize("expand", ["honoured", "dropped"])
def test_grants_and_access_are_exact_in_every_emulator_variant(tmp_path: Path, wildcard: str, expand: str) -> None:
    """However the unconfirmed wildcard listing answers and whether expand is honoured: every grant of every
    kind of subject, typed, and the loaded access tables equal the org's ground truth."""
    with GenesysCloudEmulator(users=300, seed=5, wildcard_grants=wildcard, expand=expand) as emu:
        _, records = extract(emu, "grants", tmp_path)
        assert sorted(grant_keys(records)) == truth(emu)
        assert len(records) == len({r["id"] for r in records})
        kinds = {r["subjectType"] for r in records}
        assert kinds == {"user", "group", "oauth_client", "trustee_user", "trustee_group"}
        assert any(r["divisionId"] == "*" and r["subjectType"] == "group" for r in records)
        loaded = sorted({dataset for dataset, _ in LOADERS.values()})  # what the access tables come from
        for dataset in loaded:
            if dataset != "grants":
                extract(emu, dataset, tmp_path)
        db = sqlite3.connect(tmp_path / "g.db")
        try:
            load_extracts(db, {dataset: tmp_path / f"{dataset}.ndjson" for dataset in loaded})
            access = set(db.execute("SELECT user_id, role_id, division_id, domain, entity_type, action, "
                                    "in_catalogue, via FROM access"))
            clients = set(db.execute("SELECT client_id, role_id, division_id, domain, entity_type, action, "
                                     "in_catalogue FROM oauth_client_access"))
        finally:
            db.close()
        assert (access, clients) == ground_truth.access(emu.org)


@pytest.mark.parametrize(
    ("divisions", "roles", "plan"),
    [(6, 12, "divisions"), (11, 12, "divisions"), (12, 12, "roles"), (200, 40, "roles")],
)
def test_grants_plan_takes_fewer_listings(divisions: int, roles: int, plan: str) -> None:
    assert choose_grants_plan(divisions, roles) == plan



def test_groups_members_and_oauth_clients(emu: GenesysCloudEmulator, tmp_path: Path) -> None:
    subjects = emu.org.subjects
    _, groups = extract(emu, "groups", tmp_path)
    assert sorted(g["id"] for g in groups) == sorted(s.id for s in subjects.groups)
    _, members = extract(emu, "group_members", tmp_path)
    expected = {
        (group.id, emu.org.user_id(i)) for g, group in enumerate(subjects.groups) for i in subjects.members(g)
    }
    assert sorted((m["groupId"], m["userId"]) for m in members) == sorted(expected)
    assert all(m["id"] == f"{m['groupId']}:{m['userId']}" for m in members)
    _, clients = extract(emu, "oauth_clients", tmp_path)
    assert sorted(c["id"] for c in clients) == sorted(s.id for s in subjects.clients)
    assert all("secret" not in c for c in clients)  # Genesys' listing may carry it: never written
    assert "secret" not in (tmp_path / "oauth_clients.ndjson").read_text()
    assert {c["authorizedGrantType"] for c in clients} >= {"CLIENT-CREDENTIALS", "CODE"}
    assert any(rd["divisionId"] == "*" for c in clients for rd in c["roleDivisions"])


@pytest.mark.parametrize("expand", ["honoured", "dropped"])
def test_group_members_are_exact_whether_expand_is_honoured_or_dropped(tmp_path: Path, expand: str) -> None:
    with GenesysCloudEmulator(users=300, seed=5, expand=expand) as emu:
        _, members = extract(emu, "group_members", tmp_path)
        subjects = emu.org.subjects
        expected = {(g.id, emu.org.user_id(i)) for n, g in enumerate(subjects.groups) for i in subjects.members(n)}
        assert sorted((m["groupId"], m["userId"]) for m in members) == sorted(expected)
        listings = emu.stats.snapshot()["by_path"].get("GET /api/v2/groups/{groupId}/members", 0)
        # honoured: one users listing instead of one member listing per group; dropped: noticed, then those
        assert (listings == 0) if expand == "honoured" else (listings >= len(subjects.groups))


@pytest.mark.parametrize(
    ("api_type", "kind"),
    [("PC_USER", "user"), ("PC_GROUP", "group"), ("PC_OAUTH_CLIENT", "oauth_client"),
     ("PC_TRUSTEE_USER", "trustee_user"), ("PC_TRUSTEE_GROUP", "trustee_group"), ("UNKNOWN", "unknown"),
     (None, "unknown"), ("PC_SOMETHING_NEW", "unknown")],
)
def test_subject_types_as_grant_records_spell_them(api_type: str | None, kind: str) -> None:
    from airflow_provider_genesys.extract.plans.subjects import SUBJECT_TYPES, subject_type

    assert subject_type(api_type) == kind
    assert kind in SUBJECT_TYPES
