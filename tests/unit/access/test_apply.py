"""Apply against a mocked API (requests-mock): unknown outcomes are read back before anything is sent again,
stale subjects are refused, a 403 stops everything, version conflicts re-read the version, a refused
bulkremove falls back to one-grant DELETEs, and a rerun reads the ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_genesys.access.apply import Applier, WritePermissionError, as_planned
from airflow_provider_genesys.access.ledger import Ledger
from airflow_provider_genesys.access.plan import Plan
from airflow_provider_genesys.access.report import lines
from airflow_provider_genesys.access.state import CurrentState, fingerprint
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from tests.unit.conftest import API

ANN, BOB = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
SUBJECT = API + "/api/v2/authorization/subjects/{}"


def grant(action: str, subject: str, role: str, division: str) -> dict[str, Any]:
    return {"action": action, "subject": subject, "subject_type": "user", "subject_name": subject[-1],
            "role": role, "role_name": role, "division": division, "division_name": division, "reason": "test"}


def grants_state(held: dict[str, set[tuple[str, ...]]]) -> CurrentState:
    state = CurrentState("grants")
    for subject, targets in held.items():
        state.subject_types[subject] = "user"
        state.held[subject] = set(targets)
    return state


def make_plan(relation: str, changes: list[dict], before: CurrentState) -> Plan:
    subjects = {c["subject"] for c in changes}
    return Plan("org-1", "2026-12-04T10:00:00+00:00", relation, {"mode": "sync"}, changes,
                {s: before.fingerprint(s) for s in subjects}, {"add": 0})


def subject_body(subject: str, grants: set[tuple[str, str]]) -> dict[str, Any]:
    return {"id": subject, "grants": [{"subjectId": subject, "role": {"id": r}, "division": {"id": d}}
                                      for r, d in sorted(grants)]}


@pytest.fixture
def client(make_client):
    return make_client(max_retry_wait=0)


def applier(plan: Plan, client, tmp_path: Path, current: CurrentState, **options: Any) -> Applier:
    ledger = Ledger(tmp_path / "plan.ledger.ndjson", "sha256:test")
    return Applier(plan, client, ledger, reader=lambda relation: current, **options)


def ledger_lines(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "plan.ledger.ndjson").read_text().splitlines()]


def test_a_write_answered_503_that_the_read_back_shows_done_is_not_sent_again(client, requests_mock, tmp_path):
    before = grants_state({ANN: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales")], before)
    bulkadd = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", status_code=503)
    read = requests_mock.get(SUBJECT.format(ANN), json=subject_body(ANN, {("r-sup", "d-sales")}))
    result = applier(plan, client, tmp_path, before).apply()
    assert bulkadd.call_count == 1
    assert read.call_count == 1
    assert result.ok
    assert result.settled == 1
    outcomes = [(r["outcome"], r.get("status")) for r in ledger_lines(tmp_path) if r["type"] == "outcome"]
    assert outcomes == [("unknown", 503), ("confirmed", None)]


@pytest.mark.parametrize("failure", [{"status_code": 502}, {"exc": requests.exceptions.ReadTimeout},
                                     {"exc": requests.exceptions.ConnectionError("reset by peer")}])
def test_an_unknown_outcome_still_not_shown_after_settle_timeout_is_sent_once_more(
        client, clock, requests_mock, tmp_path, failure):
    before = grants_state({ANN: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales")], before)
    bulkadd = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd",
                                 [failure, {"status_code": 204, "headers": {"inin-correlation-id": "c-2"}}])
    read = requests_mock.get(SUBJECT.format(ANN), json=subject_body(ANN, set()))
    applier_ = applier(plan, client, tmp_path, before, settle_timeout=300)
    result = applier_.apply()
    # no later write tells whether reads caught up: the read-backs go on, with backoff, for settle_timeout
    assert sum(clock.sleeps) == 300
    assert read.call_count == len(clock.sleeps) + 1 < 15
    assert bulkadd.call_count == 2
    assert result.ok
    report = list(lines(applier_.state, applier_.changes, "grants"))
    assert [(r["outcome"], r["status"], r["correlation_id"]) for r in report] == [
        ("unknown", 502 if failure.get("status_code") else None, None), ("done", 204, "c-2")]
    assert report[1]["role"] == "r-sup"
    assert report[1]["division"] == "d-sales"
    assert report[1]["method"] == "POST"


def test_an_unknown_outcome_shown_once_reads_catch_up_is_not_sent_again(client, clock, requests_mock, tmp_path):
    before = grants_state({ANN: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales")], before)
    bulkadd = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", status_code=503)
    lagging = {"json": subject_body(ANN, set())}  # reads lag the write that was applied
    read = requests_mock.get(SUBJECT.format(ANN), [lagging, lagging, lagging,
                                                  {"json": subject_body(ANN, {("r-sup", "d-sales")})}])
    result = applier(plan, client, tmp_path, before).apply()
    assert bulkadd.call_count == 1, "sent once, although the first read-backs did not show it"
    assert read.call_count == 4
    assert clock.sleeps == [2, 4, 8]
    assert result.ok
    outcomes = [r["outcome"] for r in ledger_lines(tmp_path) if r["type"] == "outcome"]
    assert outcomes == ["unknown", "confirmed"]


def two_subjects(requests_mock, ann_reads: list[dict], bob_reads: list[dict]):
    before = grants_state({ANN: set(), BOB: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales"), grant("add", BOB, "r-qe", "d-home")],
                     before)
    ann = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", [{"status_code": 503}, {"status_code": 204}])
    bob = requests_mock.post(SUBJECT.format(BOB) + "/bulkadd", status_code=204)
    requests_mock.get(SUBJECT.format(ANN), ann_reads)
    requests_mock.get(SUBJECT.format(BOB), bob_reads)
    return before, plan, ann, bob


def test_reads_showing_a_later_write_mean_an_unknown_one_not_shown_was_not_applied(
        client, clock, requests_mock, tmp_path):
    before, plan, ann, bob = two_subjects(
        requests_mock, [{"json": subject_body(ANN, set())}],
        [{"json": subject_body(BOB, set())}, {"json": subject_body(BOB, {("r-qe", "d-home")})}])
    result = applier(plan, client, tmp_path, before).apply()
    assert clock.sleeps == [2], "decided as soon as Bob's later write showed, not after settle_timeout"
    assert ann.call_count == 2
    assert bob.call_count == 1
    assert result.ok


def test_reads_still_lagging_at_settle_timeout_fail_retryable_without_sending_again(
        client, clock, requests_mock, tmp_path):
    before, plan, ann, _ = two_subjects(
        requests_mock, [{"json": subject_body(ANN, set())}], [{"json": subject_body(BOB, set())}])
    result = applier(plan, client, tmp_path, before, settle_timeout=60).apply()
    assert sum(clock.sleeps) == 60
    assert ann.call_count == 1, "never re-sent while reads lag"
    assert len(result.retry) == 1
    assert "nothing was sent again" in result.retry[0]
    assert not result.ok
    # the task's retry (reads caught up, Ann's write was applied): the ledger's unknown is read back, not sent
    requests_mock.get(SUBJECT.format(ANN), json=subject_body(ANN, {("r-sup", "d-sales")}))
    after = grants_state({ANN: {("r-sup", "d-sales")}, BOB: {("r-qe", "d-home")}})
    rerun = applier(plan, client, tmp_path, after).apply()
    assert ann.call_count == 1
    assert rerun.ok
    assert rerun.settled == 2


def test_a_rerun_reads_an_intent_without_outcome_as_unknown_and_waits_for_reads(
        client, clock, requests_mock, tmp_path):
    before = grants_state({ANN: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales")], before)
    Ledger(tmp_path / "plan.ledger.ndjson", "sha256:test").append(  # killed between send and outcome
        {"type": "intent", "write": "1-1", "kind": "bulkadd", "method": "POST", "path": "/x", "changes": [0]})
    bulkadd = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", status_code=204)
    lagging = {"json": subject_body(ANN, set())}
    requests_mock.get(SUBJECT.format(ANN), [lagging, {"json": subject_body(ANN, {("r-sup", "d-sales")})}])
    result = applier(plan, client, tmp_path, before).apply()  # the first read (the bulk re-read) lags too
    assert bulkadd.call_count == 0
    assert result.ok
    assert result.settled == 1


def test_a_subject_changed_since_the_plan_is_refused_and_the_rest_proceed(client, requests_mock, tmp_path):
    before = grants_state({ANN: set(), BOB: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales"), grant("add", BOB, "r-qe", "d-home")],
                     before)
    now = grants_state({ANN: {("r-emp", "d-home")}, BOB: set()})  # someone gave Ann another role
    bob = requests_mock.post(SUBJECT.format(BOB) + "/bulkadd", status_code=204)
    ann = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", status_code=204)
    result = applier(plan, client, tmp_path, now).apply()
    assert bob.call_count == 1
    assert ann.call_count == 0
    assert list(result.refused_subjects) == [ANN]
    assert not result.ok


def test_a_403_stops_everything_and_names_the_permission(client, requests_mock, tmp_path):
    before = grants_state({ANN: set(), BOB: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales"), grant("add", BOB, "r-qe", "d-home")],
                     before)
    ann = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", status_code=403,
                             json={"code": "missing.permissions",
                                   "message": "Missing permission authorization:grant:add"})
    bob = requests_mock.post(SUBJECT.format(BOB) + "/bulkadd", status_code=204)
    with pytest.raises(WritePermissionError, match="authorization:grant:add"):
        applier(plan, client, tmp_path, before).apply()
    assert ann.call_count == 1
    assert bob.call_count == 0


def test_a_refused_bulkremove_becomes_one_delete_per_grant_and_404_counts_as_done(client, requests_mock, tmp_path):
    before = grants_state({ANN: {("r-sup", "d-sales"), ("r-gone", "d-home")}})
    plan = make_plan("grants", [grant("remove", ANN, "r-sup", "d-sales"), grant("remove", ANN, "r-gone", "d-home")],
                     before)
    requests_mock.post(SUBJECT.format(ANN) + "/bulkremove", status_code=400, json={"message": "role not found"})
    first = requests_mock.delete(SUBJECT.format(ANN) + "/divisions/d-sales/roles/r-sup", status_code=204)
    gone = requests_mock.delete(SUBJECT.format(ANN) + "/divisions/d-home/roles/r-gone", status_code=404)
    result = applier(plan, client, tmp_path, before).apply()
    assert first.call_count == 1
    assert gone.call_count == 1
    assert result.ok
    assert result.settled == 2


def test_a_stale_group_version_is_read_again_and_the_write_resent(client, requests_mock, tmp_path):
    before = CurrentState("group_members")
    before.held[ANN] = set()
    before.versions["g1"] = 4
    change = {"action": "add", "subject": ANN, "subject_type": "user", "group": "g1", "reason": "test"}
    plan = make_plan("group_members", [change], before)
    members = requests_mock.post(API + "/api/v2/groups/g1/members",
                                 [{"status_code": 409, "json": {"message": "version 4 does not match 6"}},
                                  {"status_code": 202, "json": {}}])
    requests_mock.get(API + "/api/v2/groups/g1", json={"id": "g1", "version": 6})
    listing = requests_mock.get(API + "/api/v2/groups/g1/members", json={"entities": [{"id": BOB}], "pageCount": 1})
    result = applier(plan, client, tmp_path, before).apply()
    assert [r.json()["version"] for r in members.request_history] == [4, 6]
    assert listing.call_count == 1, "the group is read before sending again: someone else changed it"
    assert result.ok


def test_after_a_version_conflict_a_change_someone_else_made_is_confirmed_not_sent_again(
        client, requests_mock, tmp_path):
    before = CurrentState("group_members")
    before.held[ANN] = set()
    before.held[BOB] = set()
    before.versions["g1"] = 4
    plan = make_plan("group_members", [
        {"action": "add", "subject": ANN, "subject_type": "user", "group": "g1", "reason": "test"},
        {"action": "add", "subject": BOB, "subject_type": "user", "group": "g1", "reason": "test"}], before)
    members = requests_mock.post(API + "/api/v2/groups/g1/members",
                                 [{"status_code": 409, "json": {"message": "version 4 does not match 5"}},
                                  {"status_code": 202, "json": {}}])
    requests_mock.get(API + "/api/v2/groups/g1", json={"id": "g1", "version": 5})
    requests_mock.get(API + "/api/v2/groups/g1/members", json={"entities": [{"id": ANN}], "pageCount": 1})
    result = applier(plan, client, tmp_path, before).apply()
    assert [r.json()["memberIds"] for r in members.request_history] == [[ANN, BOB], [BOB]]
    assert result.ok
    assert result.settled == 2


def test_after_a_version_conflict_a_user_whose_state_moved_is_refused_by_name(client, requests_mock, tmp_path):
    """The plan reactivates Ann; meanwhile someone deleted her: the conflict's read shows a third state, so the
    write is not sent again over the newer edit."""
    before = CurrentState("user_state")
    before.add_users([{"id": ANN, "state": "inactive", "version": 3}])
    plan = make_plan("user_state", [{"action": "set", "subject": ANN, "subject_type": "user", "subject_name": "Ann",
                                     "state": "active", "reason": "test"}], before)
    patch = requests_mock.patch(API + f"/api/v2/users/{ANN}", status_code=409,
                                json={"message": "version 3 does not match the current version"})
    requests_mock.get(API + f"/api/v2/users/{ANN}", json={"id": ANN, "state": "deleted", "version": 4})
    result = applier(plan, client, tmp_path, before).apply()
    assert patch.call_count == 1
    assert list(result.refused_subjects) == [ANN]
    assert "changed by someone else while apply was writing it" in result.refused_subjects[ANN]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_the_client_never_resends_an_apply_write_of_an_idempotent_method(make_client, requests_mock, tmp_path,
                                                                         method):
    """PUT and DELETE are safe twice for the client's retry table; apply's are the ledger's to settle (a PUT of
    a user's whole skill set resent after someone changed it would overwrite them)."""
    client = make_client(max_retry_wait=0)
    before = CurrentState("user_skills")
    before.subject_types[ANN] = "user"
    before.held[ANN] = {("s-1", "2"), ("s-2", "3")}
    change = {"action": "remove" if method == "DELETE" else "update", "subject": ANN, "subject_type": "user",
              "skill": "s-1", "proficiency": 2 if method == "DELETE" else 4, "reason": "test"}
    if method == "PUT":
        change["was"] = 2
    plan = make_plan("user_skills", [change], before)
    plan.scope["managed"] = ["s-1", "s-2"] if method == "PUT" else ["s-1"]  # a replace only if all is managed
    target = API + f"/api/v2/users/{ANN}/routingskills" + ("/bulk" if method == "PUT" else "/s-1")
    if method == "PUT":  # a whole set managed: a replace; the test's plan has no removal, so force it
        plan.changes.append({"action": "remove", "subject": ANN, "subject_type": "user", "skill": "s-2",
                             "proficiency": 3, "reason": "test"})
        plan.fingerprints[ANN] = before.fingerprint(ANN)
    write = requests_mock.register_uri(method, target, [{"status_code": 503}, {"status_code": 200, "json": {}}])
    requests_mock.get(API + f"/api/v2/users/{ANN}/routingskills",
                      json={"entities": [{"id": "s-1", "proficiency": 4.0}] if method == "PUT" else [
                          {"id": "s-2", "proficiency": 3.0}], "pageCount": 1})
    result = applier(plan, client, tmp_path, before).apply()
    assert write.call_count == 1
    assert result.ok


def test_apply_never_lets_the_client_resend_a_write_whatever_the_connection_says(make_client, requests_mock,
                                                                                 tmp_path):
    """retry_non_idempotent=True in the connection lets the client resend a POST answered 503; apply's own
    writes are the ledger's to settle: sent once, then read back."""
    client = make_client(max_retry_wait=0, retry_non_idempotent=True)
    before = grants_state({ANN: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales")], before)
    bulkadd = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", [{"status_code": 503}, {"status_code": 204}])
    requests_mock.get(SUBJECT.format(ANN), json=subject_body(ANN, {("r-sup", "d-sales")}))
    result = applier(plan, client, tmp_path, before).apply()
    assert bulkadd.call_count == 1
    assert result.ok


def test_a_rerun_skips_what_the_ledger_settled_and_accepts_its_own_changes(client, requests_mock, tmp_path):
    before = grants_state({ANN: set(), BOB: {("r-qe", "d-home")}})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales"), grant("remove", BOB, "r-qe", "d-home")],
                     before)
    ann = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", status_code=204)
    bob = requests_mock.post(SUBJECT.format(BOB) + "/bulkremove", status_code=204)

    class Killed(Exception):
        pass

    def kill(write) -> None:
        raise Killed

    with pytest.raises(Killed):
        applier(plan, client, tmp_path, before, on_write=kill).apply()
    assert (ann.call_count, bob.call_count) == (1, 0)
    # the rerun reads Ann with the grant (her fingerprint moved: by apply itself) -- or not yet (propagation)
    for shown in ({ANN: {("r-sup", "d-sales")}, BOB: {("r-qe", "d-home")}}, {ANN: set(), BOB: {("r-qe", "d-home")}}):
        result = applier(plan, client, tmp_path, grants_state(shown)).apply()
        assert result.ok
        assert result.settled == 2
    assert (ann.call_count, bob.call_count) == (1, 1), "nothing applied twice, nothing skipped"


def test_as_planned_takes_back_only_what_apply_attempted() -> None:
    held = {("r-sup", "d-sales"), ("r-emp", "d-home")}
    planned = fingerprint("grants", ANN, {("r-emp", "d-home")})
    assert as_planned("grants", ANN, [grant("add", ANN, "r-sup", "d-sales")], held) == planned
    assert as_planned("grants", ANN, [], held) != planned


def test_a_refused_bulkadd_is_split_so_the_grants_that_still_exist_go_in(client, requests_mock, tmp_path):
    before = grants_state({ANN: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales"), grant("add", ANN, "r-gone", "d-home")],
                     before)

    def answer(request, context):
        context.status_code = 400 if any(g["roleId"] == "r-gone" for g in request.json()["grants"]) else 204
        return {"message": "role r-gone not found"} if context.status_code == 400 else None

    bulkadd = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", json=answer)
    result = applier(plan, client, tmp_path, before).apply()
    assert [len(r.json()["grants"]) for r in bulkadd.request_history] == [2, 1, 1]
    assert result.settled == 1
    assert len(result.failed) == 1
    assert "role r-gone not found" in result.failed[0]


def test_a_write_never_processed_fails_retryable_and_the_rerun_sends_it(client, requests_mock, tmp_path):
    before = grants_state({ANN: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales")], before)
    bulkadd = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd",
                                 [{"status_code": 429, "headers": {"Retry-After": "1"}}, {"status_code": 204}])
    with pytest.raises(GenesysCloudApiError) as caught:
        applier(plan, client, tmp_path, before).apply()
    assert caught.value.retryable
    assert [r["outcome"] for r in ledger_lines(tmp_path) if r["type"] == "outcome"] == ["not_sent"]
    assert applier(plan, client, tmp_path, before).apply().settled == 1
    assert bulkadd.call_count == 2


def test_an_outcome_unknown_twice_is_left_for_a_later_run_not_sent_a_third_time(client, requests_mock, tmp_path):
    before = grants_state({ANN: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales")], before)
    bulkadd = requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", status_code=504)
    read = requests_mock.get(SUBJECT.format(ANN), json=subject_body(ANN, set()))
    result = applier(plan, client, tmp_path, before, settle_timeout=30).apply()
    assert bulkadd.call_count == 2
    assert read.call_count == 5, "read back at 0, 2, 6, 14 and 30 s (settle_timeout), none after the second unknown"
    assert len(result.retry) == 1
    assert "outcome unknown twice" in result.retry[0]
    assert not result.ok


def test_apply_says_what_it_does_while_it_waits_for_reads(client, clock, requests_mock, tmp_path, caplog):
    """A rerun waiting its settle_timeout is not a hang: the log says what it waits for, how long, and what
    it decided."""
    before = grants_state({ANN: set()})
    plan = make_plan("grants", [grant("add", ANN, "r-sup", "d-sales")], before)
    requests_mock.post(SUBJECT.format(ANN) + "/bulkadd", [{"status_code": 503}, {"status_code": 204}])
    requests_mock.get(SUBJECT.format(ANN), json=subject_body(ANN, set()))
    with caplog.at_level("INFO", logger="airflow_provider_genesys.access.apply"):
        applier(plan, client, tmp_path, before, settle_timeout=300).apply()
    lines = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_genesys.access.apply"]
    assert lines[0] == "Re-reading the org's grants state before writing (the plan has 1 change(s))"
    assert lines[1].startswith("1 change(s) to send; 0 done already")
    assert ("Reading back 1 change(s) whose write's outcome is unknown (1 answered 503); waiting up to 300s for "
            "Genesys' reads to catch up, re-reading every 2-60 s; nothing is sent again before") in lines
    assert "Read back after 0s: 0 shown (confirmed), 1 not shown yet" in lines
    assert ("Reads have caught up (settle_timeout=300s passed) and 1 change(s) still do not show: their writes "
            "were not applied; sending them again, once") in lines
    assert len(lines) < 20, "a line per re-read (about ten in 5 minutes), not per request"


def test_a_bulk_write_refused_as_a_concurrent_change_goes_whole_again_when_part_of_it_shows(
        client, clock, requests_mock, tmp_path):
    """One user's bulk skills write carries two changes; refused 409, the read-back shows one made (by someone
    else): the write cannot be cut, so it goes whole again (idempotent) and both settle."""
    before = CurrentState("user_skills")
    before.subject_types[ANN] = "user"
    before.held[ANN] = {("s-1", "2")}
    changes = [{"action": "update", "subject": ANN, "subject_type": "user", "skill": "s-1", "proficiency": 4,
                "was": 2, "reason": "test"},
               {"action": "add", "subject": ANN, "subject_type": "user", "skill": "s-2", "proficiency": 3,
                "reason": "test"}]
    plan = make_plan("user_skills", changes, before)
    bulk = requests_mock.patch(API + f"/api/v2/users/{ANN}/routingskills/bulk",
                               [{"status_code": 409, "json": {"message": "concurrent change"}},
                                {"status_code": 200, "json": {}}])
    requests_mock.get(API + f"/api/v2/users/{ANN}/routingskills",
                      json={"entities": [{"id": "s-1", "proficiency": 4.0}], "pageCount": 1})
    result = applier(plan, client, tmp_path, before).apply()
    assert bulk.call_count == 2
    assert [len(r.json()) for r in bulk.request_history] == [2, 2]
    assert result.ok
    assert result.settled == 2
