"""Access sync end to end (issue 15): a 10,000-user org made equal to the desired tables under propagation
delay, writes applied then answered 503/502 or cut, a 503 not applied, and a kill -9 in the middle of apply,
with every change received by the emulator once; a subject changed
between plan and apply refused; every guardrail on a case made for it; the example DAG on a real Airflow
(``airflow dags test``) with its approval approved, and rejected, through Airflow's REST API.

The engine runs in-process (the operators' ``execute``) where an Airflow process adds nothing; the kill -9
kills a real process running the apply operator, at a moment chosen from outside.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.access.apply import Applier
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.ledger import read_ledger
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator, GenesysAccessPlanOperator
from airflow_provider_genesys.sensors.access import GenesysAccessVerifySensor
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.access_scenario import (
    GRANT_COLUMNS,
    STATE_COLUMNS,
    Scenario,
    make_scenario,
    write_csv,
)
from tests.approvals import APPROVE, REJECT, InProcessAirflowApi, respond, running_run
from tests.approvals import pending as pending_approval
from tests.e2e.conftest import DagRunner

pytestmark = pytest.mark.e2e
CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"
ROLE = "Supervisor"
DAG = "genesys_access_sync"
WRITES = ("POST ", "PATCH ", "PUT ", "DELETE ")
DELAY = 30  # seconds of the emulator clock before a write shows in reads


def use(emu: GenesysCloudEmulator, monkeypatch: pytest.MonkeyPatch) -> GenesysCloudEmulator:
    monkeypatch.setenv(CONN_ENV, json.dumps(emu.connection_dict(max_retry_wait=0, max_attempts=3)))
    return emu


def writes_sent(emu: GenesysCloudEmulator) -> int:
    return sum(n for route, n in emu.stats.by_path.items() if route.startswith(WRITES) and " /api/v2/" in route)


def current_scenario(**sizes: int) -> Scenario:
    with GenesysCloudHook() as hook:
        directory, current = read_org(hook.client, "grants")
    return make_scenario(directory, current, role=ROLE, **sizes)


def plan(tmp_path: Path, name: str, relation: str = "grants", **kwargs: Any) -> str:
    kwargs.setdefault("managed_roles", [ROLE] if relation == "grants" else None)
    operator = GenesysAccessPlanOperator(task_id="plan", relation=relation, plan_path=str(tmp_path / f"{name}.json"),
                                         **kwargs)
    return operator.execute({})["plan"]


def role_holders(emu: GenesysCloudEmulator, role_id: str) -> set[tuple[str, str]]:
    """(subject, division) of every direct grant of the role to a user or group, in the emulator's own model
    (OAuth clients and trustees, which a table cannot name, are outside the sync)."""
    return {(subject, division) for subject, kind, role, division in emu.org.iter_all_grants()
            if role == role_id and kind in ("PC_USER", "PC_GROUP")}


def intents_of(plan_uri: str) -> list[dict[str, Any]]:
    """The writes the ledger recorded before sending them (across every run of apply)."""
    ledger = Path(plan_uri.removeprefix("file://")).with_suffix(".ledger.ndjson")
    return [r for r in read_ledger(ledger.read_text().splitlines()).records if r["type"] == "intent"]


def sent_once(plan_uri: str) -> Counter:
    """How many times a write carrying each change was sent."""
    return Counter(i for r in intents_of(plan_uri) for i in r["changes"])


def not_received_twice(emu: GenesysCloudEmulator, plan_uri: str, not_applied: int = 0) -> bool:
    """No change was applied twice: a change is in two ledger intents only when the first is the one the kill
    cut off (no outcome; once reads caught up they still showed the old state: it was never sent, its body
    never arrived, which the emulator counts apart, or the emulator refused it), or one of the
    ``not_applied`` writes the emulator answered 503 without applying; the emulator received every other
    write the ledger recorded once, and nothing more. Under a propagation delay too: an unknown outcome is
    read back until reads catch up, never re-sent because a lagging read did not show it."""
    ledger = Path(plan_uri.removeprefix("file://")).with_suffix(".ledger.ndjson")
    records = read_ledger(ledger.read_text().splitlines()).records
    outcomes = {r["write"]: r for r in records if r["type"] == "outcome"}
    intents = [r for r in records if r["type"] == "intent"]
    twice = {i for i, n in sent_once(plan_uri).items() if n > 1}
    first = [next(r for r in intents if i in r["changes"]) for i in sorted(twice)]
    cut_off = {r["write"]: r for r in first if r["write"] not in outcomes}
    refused = {r["write"]: r for r in first if r["write"] in outcomes and outcomes[r["write"]].get("status") == 503
               and r["path"].endswith("/bulkremove")}
    assert len(cut_off) <= 1, cut_off
    assert len(refused) <= not_applied, refused
    assert twice <= {i for r in [*cut_off.values(), *refused.values()] for i in r["changes"]}, \
        "only a write cut off before it was sent, or answered 503 unapplied, is sent again"
    # The kill lands at most one write after the count that triggers it: that write may have reached the
    # emulator and been one of its 503 refusals, then killed before its outcome was written.
    refusals_recorded = sum(1 for r in intents if r["path"].endswith("/bulkremove")
                            and outcomes.get(r["write"], {}).get("status") == 503)
    refused_unrecorded = not_applied - refusals_recorded
    assert 0 <= refused_unrecorded <= len(cut_off), (not_applied, refusals_recorded, cut_off)
    assert writes_sent(emu) == len(intents) - len(cut_off) + refused_unrecorded, \
        "the emulator received each other intent once"
    return True


APPLY_CHILD = """
import sys
from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator
GenesysAccessApplyOperator(task_id="apply", plan=sys.argv[1]).execute({})
"""


def kill_9_after(emu: GenesysCloudEmulator, plan_uri: str, writes: int) -> None:
    """Run apply in a child process and kill -9 it once the emulator has received ``writes`` more writes."""
    start = writes_sent(emu)
    child = subprocess.Popen([sys.executable, "-c", APPLY_CHILD, plan_uri], env=dict(os.environ),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while writes_sent(emu) - start < writes:
        assert child.poll() is None, f"apply ended before it was killed: {child.stderr.read()[-3000:]}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "apply sent too few writes to be killed in the middle"
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL


@pytest.fixture(scope="module")
def big_org() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=10_000, seed=15, rate_limit=100_000) as emu:
        yield emu


def test_a_10000_user_org_equals_the_desired_tables_under_delay_faults_and_kill_9(
    big_org: GenesysCloudEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = use(big_org, monkeypatch)
    # apply waits for lagging reads on the emulator's clock (its client's sleep), never in real time
    monkeypatch.setattr("airflow_provider_genesys.operators.access.Applier",
                        partial(Applier, sleep=emu.advance_clock))
    scenario = current_scenario(gain=1000, move=200, lose=100, leave=20)
    grants_csv = write_csv(scenario.grants, tmp_path / "desired.csv", GRANT_COLUMNS)
    leavers_csv = write_csv(scenario.user_state, tmp_path / "leavers.csv", STATE_COLUMNS)
    rails = {"max_removals": 400, "max_removal_fraction": None}
    grants_plan = plan(tmp_path, "grants", desired=str(grants_csv), **rails)
    leavers_plan = plan(tmp_path, "leavers", "user_state", desired=str(leavers_csv), **rails)
    assert writes_sent(emu) == 0, "planning writes nothing"

    # Grants, under propagation delay: mixed faults (role and per-subject writes applied then answered
    # 503/502, or cut unanswered; two bulkremoves answered 503 and not applied) and a kill -9 in the middle,
    # then a rerun. Reads lag the writes, so an unknown outcome is decided only once reads caught up.
    emu.writes.delay_seconds = DELAY
    emu.faults.write_applied_then_5xx(503, method="POST", path=r"/api/v2/authorization/roles/[^/]+$", count=1)
    emu.faults.write_applied_then_5xx(502, method="POST", path=r"/bulkremove$", after=5, count=2)
    emu.faults.write_applied_then_cut(method="POST", path=r"/bulkremove$", after=40, count=1)
    not_applied = emu.faults.status(503, method="POST", path=r"/bulkremove$", after=20, count=2)
    kill_9_after(emu, grants_plan, writes=60)
    result = GenesysAccessApplyOperator(task_id="apply", plan=grants_plan).execute({})
    assert result["failed"] == []
    assert result["settled"] == result["changes"] == 1000 + 200 * 2 + 100
    assert not_received_twice(emu, grants_plan, not_applied.fired)
    assert emu.stats.by_path["POST /api/v2/authorization/roles/{roleId}"] <= 10, \
        "1,000 users gaining one role in one division: at most 10 writes"
    assert emu.stats.rate_limited == 0
    sensor = GenesysAccessVerifySensor(task_id="verify", plan=grants_plan)
    emu.advance_clock(DELAY + 1)
    assert sensor.poke({}) is True
    assert role_holders(emu, scenario.role_id) == scenario.desired, "the org equals the desired table exactly"

    # Leavers under propagation delay, one PATCH applied but cut: read back until reads caught up (apply
    # waits on the emulator's clock), never sent again; verify then sees every change.
    emu.faults.write_applied_then_cut(method="PATCH", path=r"/api/v2/users/", after=3, count=1)
    before = writes_sent(emu)
    GenesysAccessApplyOperator(task_id="apply", plan=leavers_plan).execute({})
    assert writes_sent(emu) - before == len(intents_of(leavers_plan)) == len(scenario.left)
    assert max(sent_once(leavers_plan).values()) == 1, "the cut PATCH was read back, not sent again"
    emu.advance_clock(DELAY + 1)
    assert GenesysAccessVerifySensor(task_id="verify", plan=leavers_plan).poke({}) is True
    assert {u for u in scenario.left if emu.org.user(u)["state"] == "inactive"} == set(scenario.left)
    assert role_holders(emu, scenario.role_id) == scenario.desired
    ledger = Path(leavers_plan.removeprefix("file://")).with_suffix(".ledger.ndjson").read_text().splitlines()
    snapshots = read_ledger(ledger).snapshots
    assert sorted(snapshots) == sorted(scenario.left), "each leaver's holdings are snapshotted before deactivation"

    # a new plan of the same tables finds nothing to do
    again = plan(tmp_path, "again", desired=str(grants_csv), **rails)
    assert json.loads(Path(again.removeprefix("file://")).read_text())["counts"]["add"] == 0


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=400, seed=4, rate_limit=100_000) as emu:
        yield use(emu, monkeypatch)


def test_a_subject_changed_between_plan_and_apply_is_refused_the_rest_applied(
    org: GenesysCloudEmulator, tmp_path: Path
) -> None:
    scenario = current_scenario(gain=3, move=1, lose=2)
    plan_uri = plan(tmp_path, "plan", rows=scenario.grants)
    victim = scenario.lost[0]
    with GenesysCloudHook() as hook:  # an administrator gives the leaver-to-be another role meanwhile
        other = read_org(hook.client, "grants")[0].roles.resolve("Quality Evaluator")
        hook.request("POST", f"/api/v2/authorization/subjects/{victim}/bulkadd",
                     json={"grants": [{"roleId": other, "divisionId": "*"}]})
    with pytest.raises(AirflowFailException, match=victim):
        GenesysAccessApplyOperator(task_id="apply", plan=plan_uri).execute({})
    held = role_holders(org, scenario.role_id)
    assert any(subject == victim for subject, _ in held), "the changed subject was not overwritten"
    assert held - {h for h in held if h[0] == victim} == scenario.desired, "every other subject was applied"


def admins_but_one(emu: GenesysCloudEmulator) -> tuple[str, list[dict[str, str]]]:
    """A role with * permissions and a table keeping one of its active user holders."""
    with GenesysCloudHook() as hook:
        directory, current = read_org(hook.client, "grants")
    for role in sorted(current.admin_roles):
        holders = sorted({(s, d) for s, held in current.held.items() for r, d in held if r == role
                          and current.user_states.get(s) == "active"})
        if len({s for s, _ in holders}) >= 2:
            subject, division = holders[0]
            return directory.roles.name(role), [{"subject": subject, "role": role, "division": division}]
    raise AssertionError("the emulator's org has no admin role with two active holders")


def roleless_case(emu: GenesysCloudEmulator) -> list[dict[str, str]]:
    """A new hire whose one role is Supervisor, and Supervisor's table without them."""
    (hire,) = emu.add_users(1)
    scenario = current_scenario(gain=0, move=0, lose=0)
    with GenesysCloudHook() as hook:
        start = read_org(hook.client, "grants")[1]
        if held := start.held.get(hire):  # the roles and groups a new user starts with
            hook.request("POST", f"/api/v2/authorization/subjects/{hire}/bulkremove",
                         json={"grants": [{"roleId": r, "divisionId": d} for r, d in held]})
        for group in start.user_groups.get(hire, ()):
            hook.request("DELETE", f"/api/v2/groups/{group}/members", params={"ids": hire})
        hook.request("POST", f"/api/v2/authorization/subjects/{hire}/bulkadd",
                     json={"grants": [{"roleId": scenario.role_id, "divisionId": "*"}]})
        _, current = read_org(hook.client, "grants")
    assert {r for r, _ in current.held[hire]} == {scenario.role_id}
    assert not current.user_groups.get(hire)
    return scenario.grants


def current_label(user_id: str) -> str:
    with GenesysCloudHook() as hook:
        return read_org(hook.client, "grants")[0].users.label(user_id)


@pytest.mark.parametrize("rule", ["max_removals", "max_removal_fraction", "protected_subjects", "min_admins",
                                  "allow_roleless", "max_plan_age"])
def test_every_guardrail_fires_on_a_case_made_for_it_and_nothing_is_written(
    rule: str, org: GenesysCloudEmulator, tmp_path: Path
) -> None:
    scenario = current_scenario(gain=0, move=0, lose=12)
    before = 0
    lenient: dict[str, Any] = {"max_removals": None, "max_removal_fraction": None, "allow_roleless": True}
    if rule == "max_removals":
        case = {"rows": scenario.grants, **lenient, "max_removals": 11}
    elif rule == "max_removal_fraction":
        case = {"rows": scenario.grants, **lenient, "max_removal_fraction": 0.01}
    elif rule == "protected_subjects":
        case = {"rows": scenario.grants, **lenient, "protected_subjects": [current_label(scenario.lost[0])]}
    elif rule == "min_admins":
        role, rows = admins_but_one(org)
        case = {"rows": rows, **lenient, "managed_roles": [role]}
    elif rule == "allow_roleless":
        case = {"rows": roleless_case(org), **lenient, "allow_roleless": False}
        before = writes_sent(org)
    else:
        plan_uri = plan(tmp_path, "old", rows=scenario.grants, **lenient)
        with pytest.raises(AirflowFailException, match="max_plan_age"):
            GenesysAccessApplyOperator(task_id="apply", plan=plan_uri, max_plan_age=0.001).execute({})
        assert writes_sent(org) == 0
        return
    with pytest.raises(AirflowFailException, match=rf"{rule}: .* for this run"):
        plan(tmp_path, "plan", **case)
    assert not (tmp_path / "plan.json").exists(), "a refused plan is not written"
    assert writes_sent(org) == before


def run_example_dag(env: dict[str, str], conf: dict[str, str], answer: str, cwd: Path, dag: str = DAG
                    ) -> dict[str, Any]:
    """``airflow dags test`` of an example DAG with one approval (``approve``), answered through Airflow's REST
    API from here (the api-server's app in-process, on the run's metadata database); the approval's details."""
    run = subprocess.Popen([sys.executable, "-m", "airflow", "dags", "test", dag, "--conf", json.dumps(conf)],
                           env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        api = InProcessAirflowApi()
        deadline = time.monotonic() + 240
        detail = None
        while detail is None:
            assert run.poll() is None, f"the run ended before its approval asked:\n{run.stdout.read()[-6000:]}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the approval did not ask within 240 s"
            run_id = running_run(api, dag)
            detail = run_id and pending_approval(api, dag, run_id, "approve")
            time.sleep(0.2)
        respond(api, dag, str(run_id), "approve", answer)
        output, _ = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, output[-6000:]
    return detail


def _airflow_line() -> tuple[int, int]:
    from airflow import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


# Airflow 3.1 and 3.2 defer the approval to a trigger, which `airflow dags test` runs inline; its in-process
# supervisor leaves the trigger's GetHITLDetailResponse request unhandled, so no approval DAG can finish
# under `dags test` there (a real deployment's triggerer serves it). 3.3 waits in `awaiting_input` instead.
@pytest.mark.skipif(_airflow_line() < (3, 3), reason="Airflow < 3.3's `dags test` cannot run a human-in-the-loop "
                    "trigger inline (GetHITLDetailResponse unhandled by its in-process supervisor)")
def test_the_example_dag_applies_an_approved_plan_and_nothing_when_rejected(
    dag_runner: DagRunner, org: GenesysCloudEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its own `airflow dags test` process (the run waits for an answer sent from here), on the metadata
    # database the session's runner migrated.
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    env = {**dag_runner.env, CONN_ENV: os.environ[CONN_ENV], "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    scenario = current_scenario(gain=4, move=2, lose=2)
    desired = write_csv(scenario.grants, tmp_path / "desired.csv", GRANT_COLUMNS)
    conf = {"desired": str(desired), "plan_dir": str(tmp_path / "plans")}

    rejected = run_example_dag(env, conf, REJECT, tmp_path)
    assert "**6 to add, 4 to remove**" in rejected["body"], "the approval shows the plan's summary"
    assert writes_sent(org) == 0, "a rejected plan changes nothing"
    assert not list((tmp_path / "plans").glob("*.ledger.ndjson")), "apply did not run"

    approved = run_example_dag(env, conf, APPROVE, tmp_path)
    assert approved["subject"] == "Genesys access changes"
    assert role_holders(org, scenario.role_id) == scenario.desired
    (report,) = (tmp_path / "plans").glob("*.report.ndjson")
    assert len(report.read_text().splitlines()) == 10
