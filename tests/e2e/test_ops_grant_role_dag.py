"""genesys_ops_grant_role on a real Airflow: a dry run changes nothing; a real run adds exactly the grants."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator

BULKADD = "POST /api/v2/authorization/subjects/{subjectId}/bulkadd"


@pytest.fixture
def emu() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=40, seed=3, job_seconds=0) as emulator:
        yield emulator


def _case(emu: GenesysCloudEmulator) -> tuple[dict[str, Any], str, str, list[str], str]:
    """The supervisor role, the home division, three users without it (one by email) and one holder."""
    org = emu.org
    role = next(r for r in org.roles if r["name"].lower() == "supervisor")
    home = next(d for d in org.divisions if d["homeDivision"])
    holders: set[str] = set()
    for subject, role_id, division in org.iter_grants():
        if role_id == role["id"] and division in (home["id"], "*"):
            holders.add(subject)
    active = org.user_ids("active")
    lacking = [u for u in active if u not in holders][:3]
    holder = next(u for u in active if u in holders) if holders & set(active) else None
    users = [lacking[0], lacking[1], org.user(lacking[2])["email"]]
    conf = {"role": role["name"], "users": users + ([holder] if holder else []), "dry_run": True}
    return conf, role["id"], home["id"], lacking, "will grant:"


def test_dry_run_changes_nothing(run_dag: Callable[..., Any], emu: GenesysCloudEmulator) -> None:
    conf, _, _, lacking, marker = _case(emu)
    before = set(emu.org.iter_grants())
    result = run_dag("genesys_ops_grant_role", connection=emu.connection_dict(), conf=conf)
    assert set(emu.org.iter_grants()) == before
    assert emu.stats.by_path.get(BULKADD, 0) == 0
    output = result.stdout + result.stderr
    for user_id in lacking:
        assert f"{marker}    {user_id}" in output


def test_real_run_adds_exactly_the_missing_grants(
    run_dag: Callable[..., Any], emu: GenesysCloudEmulator
) -> None:
    conf, role_id, division_id, lacking, _ = _case(emu)
    before = set(emu.org.iter_grants())
    run_dag("genesys_ops_grant_role", connection=emu.connection_dict(), conf={**conf, "dry_run": False})
    assert set(emu.org.iter_grants()) == before | {(u, role_id, division_id) for u in lacking}
    assert emu.stats.by_path[BULKADD] == len(lacking)
