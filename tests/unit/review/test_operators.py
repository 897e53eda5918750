"""The review operators end to end against the emulator, as the example DAG chains them (open, one decision per
reviewer, close, the access plan and apply, evidence), answers given as the decision task receives them: the org
ends with exactly the revoked grants removed; a second close and apply change nothing; revocations past
``max_removals`` stop at the plan while the evidence records every decision; bad arguments fail at parse time."""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.access.review.model import FALLBACK, KEEP_ALL, REVOKE_ALL, REVOKE_SELECTED
from airflow_provider_genesys.operators import review as operators
from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator, GenesysAccessPlanOperator
from airflow_provider_genesys.operators.review import (
    GenesysAccessReviewCloseOperator,
    GenesysAccessReviewDecisionOperator,
    GenesysAccessReviewEvidenceOperator,
    GenesysAccessReviewOpenOperator,
)
from tests.unit.review.conftest import role_id, user_grants, users

WRITES = ("POST ", "PATCH ", "DELETE ")


class TaskInstance:
    """What the operators push besides their return value."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def writes(emu) -> int:
    return sum(n for route, n in emu.stats.by_path.items() if route.startswith(WRITES) and " /api/v2/" in route)


def open_review(emu, tmp_path: Path, **options) -> tuple[list[dict], TaskInstance]:
    fallback = next(u for u in users(emu).values() if u["state"] == "active")
    ti = TaskInstance()
    arguments = {"managed_roles": ["Supervisor"], "fallback_reviewers": [fallback["email"]],
                 "review_path": str(tmp_path / "q4.review.ndjson"), **options}
    reviews = GenesysAccessReviewOpenOperator(task_id="open", **arguments).execute({"ti": ti})
    return reviews, ti


def answered(review: dict, choice: str, revoke=(), *, by_default: bool = False) -> dict:
    """The decision task's result for one answer, as ``execute_complete`` gets it from Airflow."""
    event = {"chosen_options": [choice], "params_input": {"revoke": [str(n) for n in revoke], "justification": "why"},
             "responded_at": datetime(2026, 12, 8, tzinfo=timezone.utc),
             "responded_by_user": None if by_default else review["assigned_users"][0]}
    return GenesysAccessReviewDecisionOperator(task_id="decide", **review).execute_complete({}, event)


def campaign(emu, tmp_path: Path, revoke_per_reviewer: int = 1) -> list[dict]:
    """Open, then: the first reviewer keeps all, the others revoke their first ``revoke_per_reviewer`` items,
    the fallback does not answer. The decisions."""
    reviews, _ = open_review(emu, tmp_path)
    header = json.loads((tmp_path / "q4.review.ndjson").read_text().splitlines()[0])
    entries = {e["key"]: e for e in header["reviewers"]}
    decisions = []
    for n, review in enumerate(reviews):
        entry = entries[review["reviewer"]]
        if review["reviewer"] == FALLBACK:
            decisions.append(answered(review, KEEP_ALL, by_default=True))
        elif n == 0:
            decisions.append(answered(review, KEEP_ALL))
        else:
            first = entry["first_item"]
            decisions.append(answered(review, REVOKE_SELECTED, range(first, min(first + revoke_per_reviewer,
                                                                                 entry["last_item"] + 1))))
    return decisions


def close(tmp_path: Path, decisions: list[dict]) -> tuple[dict, TaskInstance]:
    ti = TaskInstance()
    result = GenesysAccessReviewCloseOperator(task_id="close", review=str(tmp_path / "q4.review.ndjson"),
                                              decisions=decisions).execute({"ti": ti})
    return result, ti


def plan_and_apply(tmp_path: Path, ti: TaskInstance, name: str, **rails) -> dict:
    plan = GenesysAccessPlanOperator(task_id="plan", relation="grants", mode="sync", rows=ti.xcom["rows"],
                                     managed_roles=ti.xcom["managed_roles"], removable=ti.xcom["revoked"],
                                     plan_path=str(tmp_path / f"{name}.json"), **rails).execute({})
    GenesysAccessApplyOperator(task_id="apply", plan=plan["plan"]).execute({})
    return plan


def evidence(tmp_path: Path, plan: str | None) -> dict:
    return GenesysAccessReviewEvidenceOperator(task_id="evidence", review=str(tmp_path / "q4.review.ndjson"),
                                               plan=plan).execute({})


def evidence_lines(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "q4.evidence.ndjson").read_text().splitlines()]


def test_the_open_task_returns_one_review_per_reviewer_for_expand_kwargs(emu, conn, tmp_path: Path) -> None:
    conn(emu)
    reviews, ti = open_review(emu, tmp_path)
    path = f"file://{tmp_path}/q4.review.ndjson"
    assert ti.xcom == {"reviews": reviews, "review": path}
    assert {tuple(r) for r in reviews} == {("review", "reviewer", "assigned_users")}
    everyone = users(emu)
    for review in reviews:
        assert review["review"] == path
        if review["reviewer"] != FALLBACK:
            email = everyone[review["reviewer"]]["email"]
            assert review["assigned_users"] == [{"id": email, "name": email}], "Airflow users named by email"
    by_id, _ = open_review(emu, tmp_path, assigned_users="id")
    assert all(r["assigned_users"][0]["id"] in everyone for r in by_id)
    people = {u["email"]: "17" for u in everyone.values()}
    mapped, _ = open_review(emu, tmp_path, assigned_users=people)
    assert {u["id"] for r in mapped for u in r["assigned_users"]} == {"17"}
    with pytest.raises(AirflowFailException, match=r"has no Airflow user in assigned_users"):
        open_review(emu, tmp_path, assigned_users={"someone@example.com": "1"})


def test_bad_arguments_fail_when_the_dag_is_parsed(tmp_path: Path) -> None:
    base = {"task_id": "open", "managed_roles": ["Supervisor"], "review_path": str(tmp_path / "r.ndjson")}
    for extra, message in (({"default_decision": "delete"}, "default_decision='delete' is not valid"),
                           ({"response_timeout": "soon"}, "response_timeout='soon' is not a duration"),
                           ({"reviewers_sql": "SELECT 1"}, "needs sql_conn_id"),
                           ({"assigned_users": "username"}, "assigned_users='username' is not valid")):
        with pytest.raises(ValueError, match=message):
            GenesysAccessReviewOpenOperator(**base, **extra)
    GenesysAccessReviewOpenOperator(**base, response_timeout="{{ params.days }}d")  # a template: checked at run time
    with pytest.raises(ValueError, match="options is set by the review"):
        GenesysAccessReviewDecisionOperator(task_id="d", review="r", reviewer="x", options=["Yes"])


def test_the_decision_task_asks_with_the_reviewers_form_and_the_reviews_deadline(emu, conn, tmp_path: Path) -> None:
    conn(emu)
    reviews, _ = open_review(emu, tmp_path, response_timeout="36h")
    fallback = next(r for r in reviews if r["reviewer"] == FALLBACK)
    task = GenesysAccessReviewDecisionOperator(task_id="decide", **fallback)
    asked = {}

    def ask(self, context):
        asked.update(subject=self.subject, body=self.body, defaults=self.defaults, params=self.params.dump(),
                     wait=getattr(self, operators.WAIT_ATTRIBUTE), assigned=self.assigned_users)

    with mock.patch.object(operators.HITLOperator, "execute", ask):
        task.execute({})
    assert asked["subject"].startswith("Access review: ")
    assert "| # | person | state | role | division | also through group | why you |" in asked["body"]
    assert asked["defaults"] == [KEEP_ALL]
    assert set(asked["params"]) == {"revoke", "justification"}
    assert timedelta(hours=35) < asked["wait"] <= timedelta(hours=36)
    assert asked["assigned"] == fallback["assigned_users"]


def test_an_answer_naming_another_reviewers_items_fails_the_task(emu, conn, tmp_path: Path) -> None:
    conn(emu)
    reviews, _ = open_review(emu, tmp_path)
    with pytest.raises(AirflowFailException, match="not among this reviewer's items"):
        answered(reviews[0], REVOKE_SELECTED, [99999])


def test_the_campaign_removes_exactly_the_revoked_grants_and_a_second_close_and_apply_change_nothing(
    fresh, conn, tmp_path: Path
) -> None:
    conn(fresh)
    supervisor = role_id(fresh, "Supervisor")
    before = user_grants(fresh, supervisor)
    others = {(s, d) for s, kind, r, d in fresh.org.iter_all_grants() if (r != supervisor or kind != "PC_USER")}
    decisions = campaign(fresh, tmp_path)
    closed, ti = close(tmp_path, decisions)
    lines = evidence_lines(tmp_path)
    revoked = {(line["user_id"], line["division_id"]) for line in lines if line["decision"] == "revoke"}
    assert revoked
    assert closed["counts"]["pending"] == len(revoked)
    plan = plan_and_apply(tmp_path, ti, "plan-1", max_removal_fraction=0.5)
    assert user_grants(fresh, supervisor) == before - revoked, "exactly the revoked grants are gone"
    assert {(s, d) for s, kind, r, d in fresh.org.iter_all_grants() if (r != supervisor or kind != "PC_USER")} == others
    done = evidence(tmp_path, plan["plan"])
    assert done["counts"]["removed"] == len(revoked)
    lines = evidence_lines(tmp_path)
    assert {(line["user_id"], line["division_id"]) for line in lines if line["result"] == "removed"} == revoked
    assert all("removed by apply (write " in line["result_detail"] for line in lines if line["result"] == "removed")
    table = list(csv.DictReader((tmp_path / "q4.evidence.csv").open()))
    assert [row["result"] for row in table] == [line["result"] for line in lines]
    summary = (tmp_path / "q4.summary.md").read_text()
    assert f"{len(revoked)} removed" in summary
    fallback_line = next(line for line in lines if line["reviewer_key"] == FALLBACK)
    assert (fallback_line["default_applied"], fallback_line["decided_by"]) == (True, "")

    sent = writes(fresh)
    _, again = close(tmp_path, decisions)
    second = plan_and_apply(tmp_path, again, "plan-2")
    assert "**0 to add, 0 to remove**" in second["summary"]
    assert writes(fresh) == sent, "a second close and apply change nothing"
    evidence(tmp_path, second["plan"])
    assert {(line["user_id"], line["division_id"]) for line in evidence_lines(tmp_path)
            if line["result"] == "removed"} == revoked


def test_a_grant_made_between_close_and_the_plan_is_kept_only_the_revocations_go(fresh, conn, tmp_path: Path) -> None:
    """close reads the org, the plan reads it again: a Supervisor grant given in between is not in close's rows,
    and without ``removable`` a sync plan would remove it. With the revocations as the only removable grants,
    the plan removes exactly them."""
    conn(fresh)
    supervisor = role_id(fresh, "Supervisor")
    decisions = campaign(fresh, tmp_path)
    closed, ti = close(tmp_path, decisions)
    newcomer = next(u for u in fresh.org.user_ids("active")
                    if (supervisor, "*") not in {(r, d) for s, _, r, d in fresh.org.iter_all_grants() if s == u})
    fresh.org.change_grants([fresh.org.index_of(newcomer)], time.time(),
                            add=[(fresh.org.role_index(supervisor), fresh.org.division_index("*"))])
    plan = plan_and_apply(tmp_path, ti, "plan-1", max_removal_fraction=0.5)
    assert plan["summary"].count("| remove |") == closed["counts"]["pending"] > 0
    assert (newcomer, supervisor, "*") in {(s, r, d) for s, _, r, d in fresh.org.iter_all_grants()}, \
        "the grant given after close is kept"
    assert "they are not among the removals this plan may make" in plan["summary"]


def test_revocations_past_max_removals_stop_at_the_plan_and_the_evidence_still_records_every_decision(
    fresh, conn, tmp_path: Path
) -> None:
    conn(fresh)
    decisions = campaign(fresh, tmp_path)
    _, ti = close(tmp_path, decisions)
    pending = [line for line in evidence_lines(tmp_path) if line["result"] == "pending"]
    assert len(pending) > 1
    with pytest.raises(AirflowFailException, match=r"max_removals: .*max_removals=1\b"):  # the rule, named
        plan_and_apply(tmp_path, ti, "plan", max_removals=1, max_removal_fraction=None)
    assert not (tmp_path / "plan.json").exists()
    with pytest.raises(AirflowFailException, match=rf"{len(pending)} revocation\(s\) were not applied"):
        evidence(tmp_path, "")
    lines = evidence_lines(tmp_path)
    assert len(lines) == sum(1 for _ in (tmp_path / "q4.review.ndjson").open()) - 2, "one line per item"
    assert {line["item"] for line in lines if line["result"] == "not_applied"} == {line["item"] for line in pending}
    assert all(line["result_detail"].startswith("not applied: no plan was made") for line in lines
               if line["result"] == "not_applied")
    assert all(line["decision"] in ("keep", "revoke") and line["decided_at"] for line in lines)


def test_the_evidence_task_declares_its_files_as_assets(tmp_path: Path) -> None:
    static = GenesysAccessReviewEvidenceOperator(task_id="e", review=str(tmp_path / "q4.review.ndjson"))
    assert [a.uri for a in static.outlets] == [f"file://{tmp_path}/q4.evidence.ndjson",
                                               f"file://{tmp_path}/q4.evidence.csv", f"file://{tmp_path}/q4.summary.md"]
    templated = GenesysAccessReviewEvidenceOperator(task_id="e", review="{{ params.dir }}/{{ run_id }}.review.ndjson")
    assert [a.name for a in templated.outlets] == [
        "genesys-access-review-evidence {{ params.dir }}/{{ run_id }}.evidence.ndjson",
        "genesys-access-review-evidence-csv {{ params.dir }}/{{ run_id }}.evidence.csv",
        "genesys-access-review-summary {{ params.dir }}/{{ run_id }}.summary.md"]


def test_a_reviewer_table_from_a_file_or_a_query_assigns_the_same_reviewers(
    emu, conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn(emu)
    everyone = users(emu)
    reviewer = next(u for u in everyone.values() if u["state"] == "active")
    holders = sorted({u for u, _ in user_grants(emu, role_id(emu, "Supervisor"))} - {reviewer["id"]})
    pairs = [(everyone[u]["email"], reviewer["email"]) for u in holders]
    (tmp_path / "reviewers.csv").write_text("user,reviewer\n" + "".join(f"{u},{r}\n" for u, r in pairs))
    database = tmp_path / "hr.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE org_chart (employee TEXT, approver TEXT)")
        db.executemany("INSERT INTO org_chart VALUES (?, ?)", pairs)
    monkeypatch.setenv("AIRFLOW_CONN_HR_DB", json.dumps({"conn_type": "sqlite", "host": str(database)}))
    from_file, _ = open_review(emu, tmp_path, reviewers=str(tmp_path / "reviewers.csv"))
    from_sql, _ = open_review(emu, tmp_path, reviewers_sql="SELECT employee AS user, approver AS reviewer FROM "
                                                          "org_chart", sql_conn_id="hr_db")
    assert from_file == from_sql
    assert [r["reviewer"] for r in from_sql] == [reviewer["id"]], "every holder but the reviewer has the reviewer"
    with pytest.raises(AirflowFailException, match=r"reviewers .*missing.csv cannot be read"):
        open_review(emu, tmp_path, reviewers=str(tmp_path / "missing.csv"))


def test_revoke_by_default_only_when_asked_and_still_under_the_guardrails(fresh, conn, tmp_path: Path) -> None:
    conn(fresh)
    reviews, _ = open_review(fresh, tmp_path, default_decision="revoke")
    fallback = next(r for r in reviews if r["reviewer"] == FALLBACK)
    decisions = [answered(r, REVOKE_ALL if r is fallback else KEEP_ALL, by_default=r is fallback) for r in reviews]
    assert decisions[-1]["choice"] == REVOKE_ALL
    assert decisions[-1]["default_applied"] is True
    _, ti = close(tmp_path, decisions)
    unanswered = [line for line in evidence_lines(tmp_path) if line["reviewer_key"] == FALLBACK]
    assert unanswered
    assert all((line["decision"], line["default_applied"]) == ("revoke", True) for line in unanswered)
    assert all(line["result"] in ("pending", "removed") for line in unanswered)
    with pytest.raises(AirflowFailException, match="max_removals"):
        plan_and_apply(tmp_path, ti, "plan", max_removals=1)
