"""Closing a review against the emulator, and completing its evidence with apply's report: every item gets one
evidence line with its decision and result; a user whose managed grants changed since the snapshot keeps them
(the stale rule); the connection's own user is never revoked; the desired rows make the plan remove exactly the
pending revocations, and after they are removed a second close plans nothing."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest

import airflow_provider_genesys.testing.org.catalogue as cat
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.desired import read_rows
from airflow_provider_genesys.access.guardrails import Guardrails
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.access.review import (
    FIELDS,
    EvidenceWriter,
    Report,
    ReviewError,
    close_review,
    complete,
    decision,
    decisions_by_reviewer,
    read_current,
)
from airflow_provider_genesys.access.review.evidence import read_lines
from airflow_provider_genesys.access.review.model import KEEP_ALL, REVOKE_SELECTED
from tests.conftest import client_for
from tests.unit.review.conftest import loaded, review_text, role_id, users

AT = "2026-12-08T10:00:00+00:00"


def opened(emu):
    """A review of ``emu``'s Supervisors with a second grant for one user (so some user has two items)."""
    org = emu.org
    everyone = users(emu)
    fallback = next(u for u in everyone.values() if u["state"] == "active")
    review = loaded(review_text(emu, fallback_reviewers=[fallback["email"]]), org.org_id)
    return review


def answers(review, revoke: set[int], *, unanswered: set[str] = frozenset()) -> dict:
    """Each reviewer revokes the items of ``revoke`` they have (Revoke selected) or keeps all."""
    made = {}
    for entry in review.reviewers:
        items = range(entry["first_item"], entry["last_item"] + 1)
        mine = [n for n in items if n in revoke]
        by = None if entry["key"] in unanswered else {"id": entry["reviewers"][0]["email"], "name": "R"}
        made[entry["key"]] = decision(review, entry["key"], items, chosen=[REVOKE_SELECTED if mine else KEEP_ALL],
                                      params={"revoke": mine, "justification": "moved on" if mine else ""},
                                      responded_by=by, responded_at=AT)
    return made


def close(emu, review, made, **options):
    ndjson, table = io.StringIO(), io.StringIO()
    current = read_current(client_for(emu), [r["id"] for r in review.header["managed_roles"]])
    try:
        closed = close_review(review, made, current, EvidenceWriter(ndjson, table), **options)
    finally:
        current.close()
    lines = [json.loads(line) for line in ndjson.getvalue().splitlines()]
    assert list(csv.DictReader(io.StringIO(table.getvalue()))) == [
        {**{k: str(v) for k, v in line.items()}, "through_groups": "; ".join(line["through_groups"]),
         "default_applied": str(line["default_applied"]).lower()} for line in lines]
    return closed, lines


def plan_of(emu, closed):
    """Plan the close's rows as the example DAG does (sync, the review's roles); (adds, removes)."""
    client = client_for(emu)
    directory, current = read_org(client, "grants")
    with plan_access(read_rows(closed.rows, "grants"), relation="grants", directory=directory, current=current,
                     org_id=emu.org.org_id, created_at=datetime.now(timezone.utc), managed=closed.managed_roles,
                     rails=Guardrails(max_removals=None, max_removal_fraction=None, allow_roleless=True)) as plan:
        changes = list(plan.changes)
    return ({(c["subject"], c["division"]) for c in changes if c["action"] == "add"},
            {(c["subject"], c["division"]) for c in changes if c["action"] == "remove"})


def test_every_item_has_one_evidence_line_and_the_rows_remove_exactly_the_revocations(fresh) -> None:
    review = opened(fresh)
    items = list(review.items())
    revoke = {items[0]["item"], items[len(items) // 2]["item"], items[-1]["item"]}
    silent = {items[1]["reviewer"]} - {i["reviewer"] for i in items if i["item"] in revoke}
    closed, lines = close(fresh, review, answers(review, revoke, unanswered=silent))
    revoking = {i["reviewer"] for i in items if i["item"] in revoke}
    assert [line["item"] for line in lines] == [i["item"] for i in items]
    assert list(lines[0]) == list(FIELDS)
    for line, item in zip(lines, items, strict=True):
        revoked = item["item"] in revoke
        assert (line["user_id"], line["role_id"], line["division_id"]) == (item["user"], item["role"], item["division"])
        assert line["decision"] == ("revoke" if revoked else "keep")
        assert line["result"] == ("pending" if revoked else "kept")
        assert line["justification"] == ("moved on" if item["reviewer"] in revoking else ""), "the answer's, per item"
        assert line["review_checksum"] == review.checksum
        assert line["default_applied"] is (item["reviewer"] in silent)
        assert line["decided_by"] == ("" if item["reviewer"] in silent else "R")
        assert line["decided_at"] == AT
    assert closed.counts["revoked"] == closed.counts["pending"] == 3
    assert closed.managed_roles == [role_id(fresh, "Supervisor")]
    kinds = {row["subject_type"] for row in closed.rows}
    assert kinds == {"user", "group"}, "OAuth clients and trustees are not rows (the plan never touches them)"
    adds, removes = plan_of(fresh, closed)
    assert adds == set()
    assert removes == {(i["user"], i["division"]) for i in items if i["item"] in revoke}
    assert "| fallback (" in closed.summary


def test_a_user_whose_grants_changed_since_the_snapshot_keeps_them_and_gone_ones_count_as_removed(fresh) -> None:
    org = fresh.org
    review = opened(fresh)
    items = list(review.items())
    added, gone, lost_kept = items[0], items[1], items[2]
    other = next(d for d in range(1, len(cat.DIVISIONS)) if org.division_id(d) != added["division"])
    org.change_grants([org.index_of(added["user"])], 0.0, add=[(cat.SUPERVISOR, other)])
    for item in (gone, lost_kept):
        org.change_grants([org.index_of(item["user"])], 0.0,
                          remove=[(cat.SUPERVISOR, org.division_index(item["division"]))])
    revoke = {added["item"], gone["item"]}
    closed, lines = close(fresh, review, answers(review, revoke))
    result = {line["item"]: line for line in lines}
    assert result[added["item"]]["result"] == "refused"
    assert "changed since the snapshot" in result[added["item"]]["result_detail"]
    assert (result[gone["item"]]["result"], result[gone["item"]]["result_detail"]) == (
        "removed", "already gone when the review closed")
    assert result[lost_kept["item"]]["result"] == "kept"
    _, removes = plan_of(fresh, closed)
    assert removes == set(), "nothing is revoked blindly: the changed user keeps the grant, the gone one is gone"


def test_losing_a_kept_grant_since_the_snapshot_also_refuses_the_users_revocations(fresh) -> None:
    org = fresh.org
    review = opened(fresh)
    item = next(review.items())
    user = org.index_of(item["user"])
    other = next(d for d in range(1, len(cat.DIVISIONS)) if org.division_id(d) != item["division"])
    org.change_grants([user], 0.0, add=[(cat.SUPERVISOR, other)])
    review = opened(fresh)  # now the user has two items
    mine = [i for i in review.items() if i["user"] == item["user"]]
    assert len(mine) == 2
    org.change_grants([user], 0.0, remove=[(cat.SUPERVISOR, other)])
    revoked = next(i for i in mine if i["division"] == item["division"])
    _, lines = close(fresh, review, answers(review, {revoked["item"]}))
    line = next(x for x in lines if x["item"] == revoked["item"])
    assert line["result"] == "refused"
    assert "then: " in line["result_detail"]


def test_the_connections_own_user_is_never_revoked(fresh) -> None:
    review = opened(fresh)
    item = next(review.items())
    closed, lines = close(fresh, review, answers(review, {item["item"]}), protected=[item["user"]])
    assert lines[0]["result"] == "refused"
    assert "the connection's own user is never revoked" in lines[0]["result_detail"]
    assert {"subject": item["user"], "subject_type": "user", "role": item["role"], "division": item["division"]} in (
        closed.rows)


def test_after_the_revocations_are_removed_a_second_close_plans_nothing(fresh) -> None:
    org = fresh.org
    review = opened(fresh)
    items = list(review.items())
    revoke = {items[0]["item"], items[-1]["item"]}
    closed, _ = close(fresh, review, answers(review, revoke))
    for item in items:
        if item["item"] in revoke:
            org.change_grants([org.index_of(item["user"])], 0.0,
                              remove=[(cat.SUPERVISOR, org.division_index(item["division"]))])
    again, lines = close(fresh, review, answers(review, revoke))
    results = {line["item"]: line["result"] for line in lines if line["item"] in revoke}
    assert results == dict.fromkeys(revoke, "removed")
    assert again.counts["pending"] == 0
    assert plan_of(fresh, again) == (set(), set())
    assert len(again.rows) == len(closed.rows)


def test_decisions_must_be_one_per_reviewer_of_this_review(emu) -> None:
    review = opened(emu)
    made = answers(review, set())
    first, *rest = review.reviewers
    with pytest.raises(ReviewError, match=rf"no decision of .* \(reviewer '{first['key']}'\)"):
        decisions_by_reviewer(review, [made[e["key"]].as_dict() for e in rest])
    foreign = {**made[first["key"]].as_dict(), "review_checksum": "sha256:other"}
    with pytest.raises(ReviewError, match="answers another review"):
        decisions_by_reviewer(review, [foreign, *[made[e["key"]] for e in rest]])
    with pytest.raises(ReviewError, match="answered twice"):
        decisions_by_reviewer(review, [*made.values(), made[first["key"]]])
    assert decisions_by_reviewer(review, [d.as_dict() for d in made.values()]) == made


def report_line(item: dict, outcome: str, **extra) -> dict:
    return {"write": "1-1", "subject": item["user_id"], "subject_name": item["user"], "relation": "grants",
            "role": item["role_id"], "division": item["division_id"], "action": "remove", "outcome": outcome,
            "status": 200, "correlation_id": "c-1", "time": AT, "method": "POST", "path": "/p", **extra}


def test_the_evidence_gets_what_apply_did_with_each_revocation(fresh) -> None:
    review = opened(fresh)
    items = list(review.items())
    revoke = {i["item"] for i in items[:5]}
    _, lines = close(fresh, review, answers(review, revoke))
    done, stale, unsent, missing, confirmed = lines[:5]
    report = [report_line(done, "done"), report_line(stale, "stale", message="changed"),
              report_line(unsent, "not_sent"), report_line(confirmed, "unknown"), report_line(confirmed, "confirmed"),
              report_line({**lines[7], "user": "x"}, "done")]  # a removal of a kept item: not the review's decision

    def run(evidence_lines):
        out = io.StringIO()
        text, tally, unreviewed = complete(review.header, review.checksum, evidence_lines, Report(report),
                                           EvidenceWriter(out, io.StringIO()), why_missing="not in the report")
        return list(read_lines(io.StringIO(out.getvalue()))), text, tally, unreviewed

    completed, text, tally, unreviewed = run(lines)
    result = {line["item"]: (line["result"], line["result_detail"]) for line in completed}
    assert result[done["item"]][0] == "removed"
    assert "write 1-1, HTTP 200, correlation id c-1" in result[done["item"]][1]
    assert result[stale["item"]] == ("refused", "apply refused: the user's grants changed between the plan and apply "
                                                "(make a new plan): changed (write 1-1, HTTP 200, correlation id c-1)")
    assert result[unsent["item"]][0] == "not_applied"
    assert result[missing["item"]] == ("not_applied", "not in the report")
    assert result[confirmed["item"]][0] == "removed", "the report's latest line for a change counts"
    assert [line["result"] for line in completed[5:]] == ["kept"] * (len(completed) - 5)
    assert len(unreviewed) == 1
    assert "Changes apply made that the review did not decide: 1" in text
    assert (tally.total["removed"], tally.total["refused"], tally.total["not_applied"]) == (2, 1, 2)
    again, *_ = run(completed)
    assert [line["result"] for line in again] == [line["result"] for line in completed], "completing twice is stable"
