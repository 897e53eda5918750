"""Apply and verify against the emulator: the org ends equal to the plan; a kill in the middle (an injected
exception, and a real kill -9 of a process running apply) and a rerun give the same org with nothing sent
twice; a subject changed between plan and apply is refused, not overwritten; a write applied but answered
503 is read back, not re-sent; the verify sensor waits out the propagation delay; leavers are snapshotted
and restored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from airflow.providers.openlineage.extractors.base import DefaultExtractor
from airflow.sdk import Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_genesys._compat import (
    AirflowException,
    AirflowFailException,
    AirflowProviderDeprecationWarning,
    AirflowSensorTimeout,
)
from airflow_provider_genesys.access.apply import Applier
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.ledger import Ledger, read_ledger
from airflow_provider_genesys.access.plan import checksum, loads
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator, GenesysAccessPlanOperator
from airflow_provider_genesys.sensors.access import GenesysAccessVerifySensor
from airflow_provider_genesys.testing import GenesysCloudEmulator

CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"
ROLE = "Supervisor"
WRITE_METHODS = ("POST ", "PATCH ", "DELETE ")


def start(monkeypatch: pytest.MonkeyPatch, **options: Any) -> GenesysCloudEmulator:
    emu = GenesysCloudEmulator(users=60, seed=3, **options).start()
    monkeypatch.setenv(CONN_ENV, json.dumps(emu.connection_dict(max_retry_wait=0, max_attempts=3)))
    return emu


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    emulator = start(monkeypatch)
    yield emulator
    emulator.stop()


def org_state(relation: str = "grants"):
    with GenesysCloudHook() as hook:
        return read_org(hook.client, relation)


def writes_sent(emu: GenesysCloudEmulator) -> Counter:
    """API writes the emulator received, by route (token requests are not writes)."""
    return Counter({route: n for route, n in emu.stats.by_path.items()
                    if route.startswith(WRITE_METHODS) and " /api/v2/" in route})


def audited_removals(emu: GenesysCloudEmulator) -> Counter:
    """The audit log's grant removals (Role ``MemberRemove``), as (user, role, division) -> how many."""
    org = emu.org
    return Counter((org.user_id(i), org.roles[role]["id"], org.division_id(division))
                   for _, i, action, role, division in org.grant_events() if action == "Remove")


def desired_rows() -> list[dict[str, str]]:
    """Supervisor: the holders now, minus three, plus eight users on one division, two moved to another."""
    directory, current = org_state()
    role = directory.roles.resolve(ROLE)
    divisions = sorted(directory.divisions.by_id)
    holders = sorted((s, d) for s, held in current.held.items() for r, d in held
                     if r == role and current.subject_types.get(s) == "user" and current.user_states[s] == "active")
    holder_ids = {s for s, _ in holders}
    rows = [{"subject": s, "role": ROLE, "division": d} for s, d in holders[3:]]
    for row in rows[:2]:  # movers: another division
        row["division"] = next(x for x in divisions if x != row["division"])
    others = sorted(u for u, state in current.user_states.items() if state == "active" and u not in holder_ids)
    rows += [{"subject": u, "role": ROLE, "division": divisions[1]} for u in others[:8]]
    return rows


def make_plan(tmp_path: Path, rows: list[dict], relation: str = "grants", name: str = "plan.json") -> str:
    operator = GenesysAccessPlanOperator(task_id="plan", relation=relation, rows=rows,
                                         plan_path=str(tmp_path / name), allow_roleless=True)
    return operator.execute({})["plan"]


def replan(tmp_path: Path, rows: list[dict]) -> list[dict]:
    """The changes a new plan of the same table finds."""
    uri = make_plan(tmp_path, rows, name="again.json")
    return loads(Path(uri.removeprefix("file://")).read_text(), org_id=org_id()).changes


def org_id() -> str:
    with GenesysCloudHook() as hook:
        return hook.get_organization()["id"]


def apply(plan: str, **kwargs: Any) -> dict[str, Any]:
    return GenesysAccessApplyOperator(task_id="apply", plan=plan, **kwargs).execute({})


def test_apply_makes_the_org_equal_the_plan_and_reports_every_write(emu, tmp_path: Path) -> None:
    rows = desired_rows()
    plan_uri = make_plan(tmp_path, rows)
    plan = loads(Path(plan_uri.removeprefix("file://")).read_text(), org_id=org_id())
    assert plan.counts["add"] == 10
    # three users, two movers; the two groups holding the role keep it: the table names no group
    assert plan.counts["remove"] == 5
    assert [w["kind"] for w in plan.warnings] == ["groups_kept"]
    result = apply(plan_uri)
    assert result["settled"] == len(plan.changes) == 15
    assert replan(tmp_path, rows) == [], "a new plan of the same table finds nothing to change"
    sent = writes_sent(emu)
    assert sent["POST /api/v2/authorization/roles/{roleId}"] == 1, "8 users gaining one role: one write"
    assert sum(sent.values()) == result["writes"]
    report = [json.loads(line) for line in (tmp_path / "plan.report.ndjson").read_text().splitlines()]
    assert len(report) == 15
    assert {r["outcome"] for r in report} == {"done"}
    assert all(r["correlation_id"] and r["status"] in (200, 202, 204) for r in report)
    assert {(r["action"], r["subject"], r["role"], r["division"]) for r in report} == {
        (c["action"], c["subject"], c["role"], c["division"]) for c in plan.changes}


def test_a_rerun_after_a_failure_in_the_middle_sends_nothing_twice(emu, tmp_path: Path) -> None:
    rows = desired_rows()
    plan_uri = make_plan(tmp_path, rows)
    plan_file = Path(plan_uri.removeprefix("file://"))
    plan = loads(plan_file.read_text(), org_id=org_id())

    class Killed(Exception):
        pass

    def kill_after_two(write) -> None:
        if applier.result.writes == 2:
            raise Killed

    ledger = Ledger(tmp_path / "plan.ledger.ndjson", checksum(plan.document()))
    with GenesysCloudHook() as hook, closing(ledger):
        applier = Applier(plan, hook.client, ledger, on_write=kill_after_two)
        with pytest.raises(Killed):
            applier.apply()
    assert sum(writes_sent(emu).values()) == 2
    result = apply(plan_uri)
    assert result["settled"] == len(plan.changes)
    assert sum(writes_sent(emu).values()) == 2 + result["writes"]
    assert replan(tmp_path, rows) == []
    intents = Counter(i for r in read_ledger((tmp_path / "plan.ledger.ndjson").read_text().splitlines()).records
                      if r["type"] == "intent" for i in r["changes"])
    assert set(intents.values()) == {1}, "every change was sent exactly once"


KILLER = """
import os, signal, sys
from airflow_provider_genesys.access.apply import Applier
from airflow_provider_genesys.access.ledger import Ledger
from airflow_provider_genesys.access.plan import checksum, loads
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook

plan_file, ledger_file, after = sys.argv[1], sys.argv[2], int(sys.argv[3])
with GenesysCloudHook() as hook:
    plan = loads(open(plan_file).read(), org_id=hook.get_organization()["id"])
    real = hook.client.request
    sent = []

    def request(method, path, **kw):
        answer = real(method, path, **kw)
        if method != "GET":
            sent.append(path)
            if len(sent) == after:  # the write landed; its outcome is not in the ledger yet
                os.kill(os.getpid(), signal.SIGKILL)
        return answer

    hook.client.request = request
    Applier(plan, hook.client, Ledger(ledger_file, checksum(plan.document()))).apply()
"""


def test_kill_9_between_a_write_and_its_outcome_then_a_rerun_gives_the_same_org(emu, tmp_path: Path) -> None:
    rows = desired_rows()
    plan_uri = make_plan(tmp_path, rows)
    plan_file = Path(plan_uri.removeprefix("file://"))
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(plan_file), str(tmp_path / "plan.ledger.ndjson"), "3"],
        env={**os.environ}, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    before = sum(writes_sent(emu).values())
    assert before == 3
    records = read_ledger((tmp_path / "plan.ledger.ndjson").read_text().splitlines()).records
    assert sum(r["type"] == "intent" for r in records) == 3
    assert sum(r["type"] == "outcome" for r in records) == 2
    result = apply(plan_uri)
    assert replan(tmp_path, rows) == []
    assert sum(writes_sent(emu).values()) == before + result["writes"]
    state = read_ledger((tmp_path / "plan.ledger.ndjson").read_text().splitlines())
    sent_for = Counter(i for r in state.records if r["type"] == "intent" for i in r["changes"])
    assert set(sent_for.values()) == {1}, "the write cut off by the kill was read back, not sent again"
    plan = loads(plan_file.read_text(), org_id=org_id())
    removed = {(c["subject"], c["role"], c["division"]) for c in plan.changes
               if c["action"] == "remove" and c["subject_type"] == "user"}
    assert removed
    assert {k: n for k, n in audited_removals(emu).items() if k in removed} == dict.fromkeys(removed, 1), (
        "the audit log shows each removal once")


def test_a_subject_changed_between_plan_and_apply_is_refused_not_overwritten(emu, tmp_path: Path) -> None:
    rows = desired_rows()
    plan_uri = make_plan(tmp_path, rows)
    plan = loads(Path(plan_uri.removeprefix("file://")).read_text(), org_id=org_id())
    victim = next(c["subject"] for c in plan.changes if c["action"] == "remove")
    directory, _ = org_state()
    other = directory.roles.resolve("Quality Evaluator")
    with GenesysCloudHook() as hook:  # someone gives the user another role meanwhile
        hook.request("POST", f"/api/v2/authorization/subjects/{victim}/bulkadd",
                     json={"grants": [{"roleId": other, "divisionId": "*"}]})
    with pytest.raises(AirflowFailException, match=victim):
        apply(plan_uri)
    _, current = org_state()
    assert (other, "*") in current.held[victim]
    victims_change = next(c for c in plan.changes if c["subject"] == victim)
    assert (victims_change["role"], victims_change["division"]) in current.held[victim], "not overwritten"
    remaining = replan(tmp_path, rows)
    assert {c["subject"] for c in remaining} == {victim}, "every other subject was applied"


def test_a_role_deleted_between_plan_and_apply_is_refused_up_front_in_one_line(emu, tmp_path: Path) -> None:
    rows = desired_rows()
    plan_uri = make_plan(tmp_path, rows)
    plan = loads(Path(plan_uri.removeprefix("file://")).read_text(), org_id=org_id())
    role = plan.changes[0]["role"]
    emu.org.delete_role(role)  # its grants vanish with it: their holders changed since the plan (stale)
    emu.stats.reset()
    with pytest.raises(AirflowFailException) as failed:
        apply(plan_uri)
    assert sum(writes_sent(emu).values()) == 0, "no doomed write was sent"
    report = [json.loads(line) for line in (tmp_path / "plan.report.ndjson").read_text().splitlines()]
    outcomes = Counter(r["outcome"] for r in report)
    assert outcomes == {"refused": 8, "stale": 7}, "the 8 gainers refused up front; those who lost it: stale"
    assert f"role {ROLE} ({role}) was deleted since the plan: its 8 change(s) were not sent" in str(failed.value)
    assert str(failed.value).count("was deleted since the plan") == 1, "one line for the role, not one per change"


def test_a_write_applied_but_answered_503_is_read_back_not_sent_again(emu, tmp_path: Path) -> None:
    rows = desired_rows()
    role_reads, subject_reads = ("GET /api/v2/authorization/roles/{roleId}/subjectgrants",
                                 "GET /api/v2/authorization/subjects/{subjectId}")
    emu.stats.reset()
    plan_uri = make_plan(tmp_path, rows)
    reads_to_plan = emu.stats.by_path[role_reads]
    emu.faults.write_applied_then_5xx(503, method="POST", path=r"/api/v2/authorization/roles/[^/]+$")
    result = apply(plan_uri)
    assert writes_sent(emu)["POST /api/v2/authorization/roles/{roleId}"] == 1
    # the role write is read back through the role's subject grants (one listing), not one read per subject
    assert emu.stats.by_path[role_reads] == 2 * reads_to_plan + 1
    assert emu.stats.by_path[subject_reads] == 0
    assert result["failed"] == []
    assert replan(tmp_path, rows) == []
    report = [json.loads(line) for line in (tmp_path / "plan.report.ndjson").read_text().splitlines()]
    # the role write's nine subjects: unknown, then confirmed by the read-back; the other writes: done
    assert Counter(r["outcome"] for r in report) == {"unknown": 9, "confirmed": 9, "done": 6}


def test_the_verify_sensor_waits_out_the_propagation_delay(monkeypatch, tmp_path: Path) -> None:
    emu = start(monkeypatch, propagation_delay_seconds=120)
    try:
        rows = desired_rows()
        plan_uri = make_plan(tmp_path, rows)
        apply(plan_uri)
        sensor = GenesysAccessVerifySensor(task_id="verify", plan=plan_uri, timeout=900, mode="reschedule")
        assert sensor.poke({}) is False
        assert len(sensor.missing) == 15
        # a rerun while reads still lag sends nothing: the ledger says done
        before = sum(writes_sent(emu).values())
        apply(plan_uri)
        assert sum(writes_sent(emu).values()) == before
        emu.advance_clock(121)
        assert sensor.poke({}) is True
    finally:
        emu.stop()


def test_the_verify_sensor_times_out_naming_what_is_not_visible(monkeypatch, tmp_path: Path) -> None:
    emu = start(monkeypatch, propagation_delay_seconds=3600)
    try:
        plan_uri = make_plan(tmp_path, desired_rows())
        apply(plan_uri)
        sensor = GenesysAccessVerifySensor(task_id="verify", plan=plan_uri, timeout=0, mode="poke")
        with pytest.raises(AirflowSensorTimeout, match=r"15 applied change\(s\) are still not visible") as caught:
            sensor.execute({})
        assert "add grace.adeyemi.41@emulated-org-3.example.com: Supervisor, APAC Operations" in str(caught.value)
    finally:
        emu.stop()


def test_an_edited_an_old_or_a_missing_plan_fails_and_writes_nothing(emu, tmp_path: Path) -> None:
    plan_uri = make_plan(tmp_path, desired_rows())
    with pytest.raises(AirflowFailException, match="max_plan_age"):
        apply(plan_uri, max_plan_age=timedelta(microseconds=1))
    plan_file = Path(plan_uri.removeprefix("file://"))
    plan_file.write_text(plan_file.read_text().replace('"remove"', '"add"', 1))
    with pytest.raises(AirflowFailException, match="edited after it was made"):
        apply(plan_uri)
    with pytest.raises(AirflowFailException, match="cannot be read"):
        apply(str(tmp_path / "nowhere.json"))
    assert sum(writes_sent(emu).values()) == 0


def test_a_connection_without_write_permission_fails_and_writes_nothing_more(emu, tmp_path: Path) -> None:
    plan_uri = make_plan(tmp_path, desired_rows())
    emu.faults.status(403, method="POST", count=None)
    with pytest.raises(AirflowFailException, match="authorization:grant:add"):
        apply(plan_uri)
    assert sum(writes_sent(emu).values()) == 1


def a_leaver(tmp_path: Path) -> tuple[str, set, set, str]:
    """A user with grants and groups, deactivated by an applied plan (snapshotted), then stripped of its grants
    and groups as an org may do to a deactivated user. Returns the user, what it held, and the leave plan."""
    _, current = org_state()
    leaver = next(u for u, held in sorted(current.held.items())
                  if current.user_states.get(u) == "active" and len(held) >= 2 and current.user_groups.get(u))
    held, groups = set(current.held[leaver]), set(current.user_groups[leaver])
    leave = make_plan(tmp_path, [{"user": leaver, "state": "inactive"}], "user_state", "leave.json")
    apply(leave)
    snapshot = read_ledger((tmp_path / "leave.ledger.ndjson").read_text().splitlines()).snapshots[leaver]
    assert {tuple(g) for g in snapshot["grants"]} == held
    assert set(snapshot["groups"]) == groups
    _, states = org_state("user_state")
    assert states.held[leaver] == {("inactive",)}
    with GenesysCloudHook() as hook:  # what an org may do to a deactivated user: its grants and groups go
        hook.request("POST", f"/api/v2/authorization/subjects/{leaver}/bulkremove",
                     json={"grants": [{"roleId": r, "divisionId": d} for r, d in held]})
        for group in groups:
            hook.request("DELETE", f"/api/v2/groups/{group}/members", params={"ids": leaver})
    return leaver, held, groups, leave


def restore_plan(tmp_path: Path, leaver: str, leave: str) -> str:
    operator = GenesysAccessPlanOperator(task_id="plan", relation="user_state", rows=[{"user": leaver,
                                         "state": "active"}], plan_path=str(tmp_path / "back.json"),
                                         restore_from=[leave])
    result = operator.execute({})
    assert "to restore" in result["summary"], "the restores are in the plan people approve"
    return result["plan"]


def test_leavers_are_snapshotted_and_the_reactivating_plan_restores_them(emu, tmp_path: Path) -> None:
    leaver, held, groups, leave = a_leaver(tmp_path)
    back = restore_plan(tmp_path, leaver, leave)
    plan = loads(Path(back.removeprefix("file://")).read_text(), org_id=org_id())
    assert plan.counts["restore"] == len(plan.changes) - 1 >= len(held) + len(groups)
    assert {"grants", "group_members"} <= {c["relation"] for c in plan.changes[1:]}
    assert all(c["reason"].startswith("restored from the leaver snapshot of ") for c in plan.changes[1:])
    result = apply(back)
    assert result["settled"] == len(plan.changes)
    _, after = org_state()
    assert after.held[leaver] == held
    assert after.user_groups[leaver] == groups
    assert after.user_states[leaver] == "active"
    assert apply(back)["writes"] == 0, "a rerun finds everything done"


@pytest.mark.parametrize("planned", [True, False], ids=["restore_from on the plan", "restore_from on apply"])
def test_a_restore_whose_write_never_went_through_is_sent_by_the_rerun_not_lost(emu, tmp_path: Path,
                                                                                planned: bool) -> None:
    """A 429 on the restore's write fails the run retryable; the rerun sends it (before, it skipped every
    restore already attempted and reported success while the change stayed undone)."""
    leaver, held, _, leave = a_leaver(tmp_path)
    if planned:
        back, options = restore_plan(tmp_path, leaver, leave), {}
    else:
        back = make_plan(tmp_path, [{"user": leaver, "state": "active"}], "user_state", "back.json")
        options = {"restore_from": [leave]}
    emu.faults.rate_limit(retry_after=1, count=1, method="POST", path=r"/api/v2/authorization/")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AirflowProviderDeprecationWarning)
        with pytest.raises(GenesysCloudApiError):
            apply(back, **options)
        _, between = org_state()
        assert not held <= between.held.get(leaver, set())
        apply(back, **options)
    _, after = org_state()
    assert after.held[leaver] == held


def test_a_restore_applied_but_answered_503_is_read_back_not_sent_again(emu, tmp_path: Path) -> None:
    leaver, held, _, leave = a_leaver(tmp_path)
    back = restore_plan(tmp_path, leaver, leave)
    emu.faults.write_applied_then_5xx(503, method="POST", path=r"/api/v2/authorization/(subjects/[^/]+/bulkadd|roles/)")
    emu.stats.reset()
    result = apply(back)
    assert result["failed"] == []
    grant_writes = sum(n for route, n in writes_sent(emu).items() if "/authorization/" in route)
    assert grant_writes == 1, "the restore's grant write was read back, not sent again"
    _, after = org_state()
    assert after.held[leaver] == held


def test_restore_from_given_to_apply_still_works_with_a_deprecation_warning(emu, tmp_path: Path) -> None:
    leaver, held, groups, leave = a_leaver(tmp_path)
    back = make_plan(tmp_path, [{"user": leaver, "state": "active"}], "user_state", "back.json")
    with pytest.warns(AirflowProviderDeprecationWarning, match="give restore_from to GenesysAccessPlanOperator"):
        operator = GenesysAccessApplyOperator(task_id="apply", plan=back, restore_from=[leave])
    operator.execute({})
    _, after = org_state()
    assert after.held[leaver] == held
    assert after.user_groups[leaver] == groups
    with pytest.warns(AirflowProviderDeprecationWarning):
        again = GenesysAccessApplyOperator(task_id="apply", plan=back, restore_from=[leave]).execute({})
    assert again["writes"] == 0, "the restores are keyed by what they add: the rerun finds them done"


def test_the_report_is_the_runs_output_asset_and_openlineage_output(emu, tmp_path: Path) -> None:
    plan_uri = make_plan(tmp_path, desired_rows())
    template = "{{ ti.xcom_pull(task_ids='plan')['plan'] }}"
    op = GenesysAccessApplyOperator(task_id="apply", plan=template)
    (alias,) = op.outlets
    assert alias == AssetAlias(f"genesys-access-report {template}.report.ndjson")
    op.plan = plan_uri  # as rendering the template does
    context = {"outlet_events": OutletEventAccessors()}
    op.execute(context)
    (event,) = context["outlet_events"][alias].asset_alias_events
    assert event.dest_asset_key.uri == Asset(f"file://{tmp_path}/plan.report.ndjson").uri
    static = GenesysAccessApplyOperator(task_id="apply", plan=str(tmp_path / "plan.json"))
    assert static.outlets == [Asset(f"file://{tmp_path}/plan.report.ndjson")]
    lineage = DefaultExtractor(static).extract_on_complete(mock.MagicMock())
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("file", f"{tmp_path}/plan.json")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("file", f"{tmp_path}/plan.report.ndjson"),
        (f"genesys://{emu.host}:{emu.port}", f"{emu.org.org_id}/access/grants"),
    ]


@pytest.mark.parametrize(("relation", "column", "per_call"), [("group_members", "group", 50),
                                                              ("queue_members", "queue", 100)])
def test_member_apply_makes_the_org_equal_the_plan(emu, tmp_path: Path, relation, column, per_call) -> None:
    directory, current = org_state(relation)
    index = directory.groups if column == "group" else directory.queues
    target = sorted(index.by_id)[0]
    members = sorted(s for s, held in current.held.items() if (target,) in held)
    active = sorted(u for u, state in current.user_states.items() if state == "active")
    rows = [{column: target, "user": u} for u in members[2:]]  # two leave
    rows += [{column: target, "user": u} for u in active if u not in members][:5]  # five join
    plan_uri = make_plan(tmp_path, rows, relation)
    plan = loads(Path(plan_uri.removeprefix("file://")).read_text(), org_id=org_id())
    assert plan.counts["add"] == 5
    assert plan.counts["remove"] == 2
    result = apply(plan_uri)
    assert result["writes"] == 2, "one add and one remove write"
    _, after = org_state(relation)
    assert {s for s, held in after.held.items() if (target,) in held} == {r["user"] for r in rows}


def test_a_user_created_moments_ago_is_retried_not_lost(monkeypatch, tmp_path: Path) -> None:
    emu = start(monkeypatch, new_subject_404_seconds=30)
    try:
        (new_user,) = emu.add_users(1)  # listed at once, but 404 to writes for 30 s
        rows = desired_rows()
        rows.append({"subject": new_user, "role": ROLE, "division": rows[-1]["division"]})
        plan_uri = make_plan(tmp_path, rows)
        with pytest.raises(AirflowException, match="404") as caught:
            apply(plan_uri)
        assert not isinstance(caught.value, AirflowFailException), "a task retry may fix it"
        assert {c["subject"] for c in replan(tmp_path, rows)} == {new_user}, "everyone else was applied"
        emu.advance_clock(31)
        apply(plan_uri)  # the task's retry
        assert replan(tmp_path, rows) == []
    finally:
        emu.stop()
