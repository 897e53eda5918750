"""Per-call limits Genesys does not publish: a write of many subjects refused for its size is halved, the
size that went in is kept for the rest of the run, and one bad subject is isolated in a few calls, never
one call per subject (requests-mock standing for Genesys' answers)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from airflow_provider_genesys.access.apply import Applier
from airflow_provider_genesys.access.ledger import Ledger
from airflow_provider_genesys.access.plan import Plan
from airflow_provider_genesys.access.report import lines
from airflow_provider_genesys.access.state import CurrentState
from tests.unit.conftest import API

ROLE = API + "/api/v2/authorization/roles/r-sup"


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def gainers(count: int) -> tuple[Plan, CurrentState]:
    before = CurrentState("grants")
    changes = []
    for n in range(count):
        before.subject_types[uid(n)] = "user"
        before.held[uid(n)] = set()
        changes.append({"action": "add", "subject": uid(n), "subject_type": "user", "subject_name": str(n),
                        "role": "r-sup", "role_name": "Supervisor", "division": "d-1", "division_name": "Sales",
                        "reason": "test"})
    plan = Plan("org-1", "2026-12-04T10:00:00+00:00", "grants", {"mode": "sync"}, changes,
                {uid(n): before.fingerprint(uid(n)) for n in range(count)}, {"add": count})
    return plan, before


def run(plan: Plan, before: CurrentState, client: Any, tmp_path) -> Applier:
    applier = Applier(plan, client, Ledger(tmp_path / "plan.ledger.ndjson", "sha256:test"),
                      reader=lambda relation: before)
    applier.result = applier.apply()
    return applier


@pytest.fixture
def client(make_client):
    return make_client(max_retry_wait=0)


@pytest.mark.parametrize("limit", [None, 300, 100, 37, 1])
def test_a_role_write_refused_for_its_size_converges_within_twice_the_fewest_writes(
        client, requests_mock, tmp_path, limit):
    """1,000 users gaining one role on one division: 2 writes with no limit; under a limit of N a call, at
    most about twice ceil(1000 / N) and a few refusals, never one write per subject (but at N = 1)."""
    plan, before = gainers(1000)
    answered: list[tuple[int, list[str]]] = []

    def answer(request, context):
        subjects = request.json()["subjectIds"]
        context.status_code = 400 if limit is not None and len(subjects) > limit else 204
        answered.append((context.status_code, subjects))
        if context.status_code == 400:
            return {"status": 400, "code": "bad.request", "message": f"At most {limit} subjectIds are allowed."}
        return None

    role = requests_mock.post(ROLE, json=answer)
    applier = run(plan, before, client, tmp_path)
    assert applier.result.ok
    assert applier.result.settled == 1000
    granted = [s for status, subjects in answered if status == 204 for s in subjects]
    assert sorted(granted) == sorted(uid(n) for n in range(1000)), "every subject granted exactly once"
    fewest = 2 if limit is None else math.ceil(1000 / limit)
    refused = sum(1 for status, _ in answered if status == 400)
    assert role.call_count - refused <= 2 * fewest
    assert refused <= math.ceil(math.log2(500)) + 1, "a handful of refusals, not one per write"
    if limit is not None and limit < 500:
        assert applier.limits["role_grant"] <= limit
    report = list(lines(applier.state, applier.changes, "grants"))
    assert len(report) == 1000, "one report line per change: the split writes' own lines, not the refused ones"
    assert {r["outcome"] for r in report} == {"done"}


def test_one_bad_subject_is_isolated_in_a_few_calls_and_the_others_go_in(client, requests_mock, tmp_path):
    plan, before = gainers(500)
    bad = uid(317)

    def answer(request, context):
        if bad in request.json()["subjectIds"]:
            context.status_code = 400
            return {"status": 400, "code": "bad.request", "message": f"Unknown PC_USER subject {bad}."}
        context.status_code = 204
        return None

    role = requests_mock.post(ROLE, json=answer)
    bulkadd = requests_mock.post(API + f"/api/v2/authorization/subjects/{bad}/bulkadd", status_code=404,
                                 json={"status": 404, "code": "not.found", "message": "user not found"})
    applier = run(plan, before, client, tmp_path)
    assert applier.result.settled == 499
    assert role.call_count <= 2 * math.ceil(math.log2(500)) + 1, "halving, not one call per subject"
    assert bulkadd.call_count == 1, "the subject alone is tried by its own bulkadd: 404 means maybe just created"
    assert len(applier.result.retry) == 1
    assert "404" in applier.result.retry[0]
    assert "role_grant" not in applier.limits, "a refusal of one half only is the content, not the size"


@pytest.mark.parametrize("limit", [None, 100])
def test_against_the_emulator_the_org_ends_exact_under_every_per_call_limit(monkeypatch, tmp_path, limit):
    """The emulator's role_grant_max_subjects stands for the maximum Genesys does not publish: the gainers all
    hold the role, each subject granted once, within about twice the fewest writes."""
    import json

    from airflow_provider_genesys.access.current import read_org
    from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
    from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator, GenesysAccessPlanOperator
    from airflow_provider_genesys.testing import GenesysCloudEmulator

    with GenesysCloudEmulator(users=700, seed=5, role_grant_max_subjects=limit) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT",
                           json.dumps(emu.connection_dict(max_retry_wait=0, max_attempts=3)))
        with GenesysCloudHook() as hook:
            directory, current = read_org(hook.client, "grants")
        role = directory.roles.resolve("Supervisor")
        division = sorted(directory.divisions.by_id)[0]
        holders = {s for s, held in current.held.items() if any(r == role for r, _ in held)}
        gainers = sorted(u for u, state in current.user_states.items() if state == "active" and u not in holders)
        assert len(gainers) > 450
        rows = [{"subject": u, "role": "Supervisor", "division": division} for u in gainers]
        plan = GenesysAccessPlanOperator(task_id="plan", relation="grants", rows=rows, mode="add_only",
                                         plan_path=str(tmp_path / "plan.json")).execute({})["plan"]
        emu.stats.reset()
        GenesysAccessApplyOperator(task_id="apply", plan=plan).execute({})
        role_writes = emu.stats.by_path["POST /api/v2/authorization/roles/{roleId}"]
        fewest = 1 if limit is None else math.ceil(len(gainers) / limit)
        assert role_writes <= 2 * fewest + math.ceil(math.log2(500)), (role_writes, fewest)
        with GenesysCloudHook() as hook:
            _, after = read_org(hook.client, "grants")
        assert all((role, division) in after.held[u] for u in gainers)
