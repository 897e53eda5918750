"""Closing a review: every decision gathered, checked against Genesys now, written as evidence, and the
desired table that makes the plan revoke exactly the revoked items.

For each item, the decision of its reviewer (or the default). Then, per user, the stale rule: the user's
direct grants of the managed roles now are compared with the snapshot's. Grants only *lost* since, and only
among the user's revoked items, are what an earlier apply of this review (or anyone) already removed; any
other difference (a grant added, or one the reviewer kept that is gone) means the reviewer judged a state that
is no more: that user's revocations are refused, not applied blindly. The connection's own user is never
revoked. What is left to revoke is ``pending``.

The desired table (``rows``) is the managed roles' direct grants of every user and group **now**, minus the
pending revocations: ``GenesysAccessPlanOperator(rows=..., relation="grants", mode="sync",
managed_roles=<the review's>)`` then plans exactly those removals, and everything else in scope stays as it is.
``revoked`` lists the pending revocations alone: given to the plan as ``removable=``, they are the only grants
it may remove, so a grant made between this read and the plan's is kept, not removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from airflow_provider_genesys.access.errors import listing
from airflow_provider_genesys.access.review.decide import Decision
from airflow_provider_genesys.access.review.evidence import (
    KEPT,
    PENDING,
    REFUSED,
    REMOVED,
    EvidenceWriter,
    Tally,
    summary,
)
from airflow_provider_genesys.access.review.file import Review, reviewer_label
from airflow_provider_genesys.access.review.model import KEEP, REVOKE, ReviewError
from airflow_provider_genesys.access.review.scope import managed_grants
from airflow_provider_genesys.access.review.store import Store
from airflow_provider_genesys.extract.fetch import ApiClient, PageFetcher

DESIRED_KINDS = ("user", "group")  # the subjects a desired table can name; others are never touched anyway


@dataclass
class Closed:
    """The desired rows for the plan, the managed roles' ids, the summary and the counts."""

    rows: list[dict[str, str]]
    managed_roles: list[str]
    revoked: list[dict[str, str]]  # the pending revocations: the only grants the plan may remove
    summary: str
    counts: dict[str, int] = field(default_factory=dict)


def decisions_by_reviewer(review: Review, decisions: Iterable[Mapping[str, Any] | Decision]) -> dict[str, Decision]:
    """One decision per reviewer of the review; a missing, duplicate or foreign one is an error naming it."""
    found: dict[str, Decision] = {}
    problems = []
    for raw in decisions:
        if raw is None:
            continue
        one = raw if isinstance(raw, Decision) else Decision.of(raw)
        if one.review_checksum != review.checksum:
            problems.append(f"a decision of {one.reviewer!r} answers another review ({one.review_checksum})")
        elif one.reviewer in found:
            problems.append(f"reviewer {one.reviewer!r} answered twice")
        else:
            found[one.reviewer] = one
    keys = {entry["key"] for entry in review.reviewers}
    problems += [f"{k!r} is not a reviewer of this review" for k in found if k not in keys]
    problems += [f"no decision of {reviewer_label(e)} (reviewer {e['key']!r}): did every decision task succeed?"
                 for e in review.reviewers if e["key"] not in found]
    if problems:
        raise ReviewError(f"The review cannot close (nothing was changed):\n{listing(problems)}")
    return found


def read_current(client: ApiClient, roles: Sequence[str], *, max_workers: int = 4) -> Store:
    """The managed roles' direct grants now (every subject), in a new store the caller closes."""
    store = Store()
    try:
        with PageFetcher(client, max_workers=max_workers) as fetcher:
            store.add_grants(managed_grants(fetcher, roles))
    except BaseException:
        store.close()
        raise
    return store


def close_review(review: Review, decisions: Mapping[str, Decision], current: Store, out: EvidenceWriter, *,
                 protected: Iterable[str] = ()) -> Closed:
    """Write the evidence of every item to ``out``; the desired rows and the summary."""
    protected = set(protected)
    current.execute("CREATE TABLE pending (subject TEXT, role TEXT, division TEXT, PRIMARY KEY (subject, role, "
                    "division)) WITHOUT ROWID")
    tally = Tally()
    labels = {entry["key"]: reviewer_label(entry) for entry in review.reviewers}
    for user, items in groupby(review.items(), key=lambda item: item["user"]):
        for line in _user_lines(list(items), decisions, current, user in protected, review.checksum):
            line["reviewer"] = labels[line["reviewer_key"]]
            if line["result"] == PENDING:
                current.execute("INSERT OR IGNORE INTO pending VALUES (?, ?, ?)",
                                (line["user_id"], line["role_id"], line["division_id"]))
            out.write(line)
            tally.add(line)
    rows = [{"subject": s, "subject_type": k, "role": r, "division": d} for s, k, r, d in current.rows(
        "SELECT g.subject, g.kind, g.role, g.division FROM grants g LEFT JOIN pending p ON p.subject = g.subject "
        "AND p.role = g.role AND p.division = g.division WHERE p.subject IS NULL AND g.kind IN (?, ?) "
        "ORDER BY g.role, g.division, g.kind, g.subject", DESIRED_KINDS)]
    revoked = [{"subject": s, "subject_type": "user", "role": r, "division": d} for s, r, d in current.rows(
        "SELECT subject, role, division FROM pending ORDER BY role, division, subject")]
    roles = [r["id"] for r in review.header["managed_roles"]]
    text = summary(review.header, tally, checksum=review.checksum, completed=False)
    return Closed(rows, roles, revoked, text, dict(tally.total))


def _user_lines(items: list[dict[str, Any]], decisions: Mapping[str, Decision], current: Store, protected: bool,
                checksum: str) -> list[dict[str, Any]]:
    """The evidence lines of one user's items (all of one reviewer), the stale rule applied to the user."""
    decision = decisions[items[0]["reviewer"]]
    revoked = set(decision.revoke)
    user = items[0]["user"]
    then = {tuple(g) for g in items[0]["user_held"]}
    now = {tuple(g) for g in current.held(user)}
    revoking = {(i["role"], i["division"]) for i in items if i["item"] in revoked}
    stale = bool(now - then) or bool((then - now) - revoking)
    lines = []
    for item in items:
        target = (item["role"], item["division"])
        line = _line(item, decision, checksum, REVOKE if item["item"] in revoked else KEEP)
        if line["decision"] == KEEP:
            result, detail = KEPT, "kept by the reviewer" if not decision.default_applied else (
                "kept: no answer by the deadline (default keep)")
        elif target not in now:
            result, detail = REMOVED, "already gone when the review closed"
        elif protected:
            result, detail = REFUSED, ("not revoked: the connection's own user is never revoked (change it by hand "
                                       "or through another connection)")
        elif stale:
            result, detail = REFUSED, (
                "not revoked: the user's grants of the managed roles changed since the snapshot (now: "
                f"{_held(now)}; then: {_held(then)}); the reviewer judged another state: review again")
        else:
            result, detail = PENDING, "to be removed by the plan and apply"
        line.update(result=result, result_detail=detail)
        lines.append(line)
    return lines


def _line(item: Mapping[str, Any], decision: Decision, checksum: str, choice: str) -> dict[str, Any]:
    by = decision.decided_by or {}
    return {
        "item": item["item"], "user": item.get("user_email") or "", "user_id": item["user"],
        "user_name": item.get("user_name") or "", "role": item["role_name"], "role_id": item["role"],
        "division": item["division_name"], "division_id": item["division"],
        "through_groups": list(item.get("through_groups") or ()), "reviewer": "", "reviewer_key": item["reviewer"],
        "assigned_by": item.get("assigned_by") or "", "decision": choice, "decided_by": by.get("name") or "",
        "decided_by_id": by.get("id") or "", "decided_at": decision.decided_at or "",
        "default_applied": decision.default_applied, "justification": decision.justification,
        "result": "", "result_detail": "", "review_checksum": checksum,
    }


def _held(grants: set[tuple[str, ...]]) -> str:
    return ", ".join("/".join(g) for g in sorted(grants)) or "none"
