"""Opening a review: the snapshot's in-scope grants, each with its reviewer, written as the review file.

The caller reads the snapshot (``scope.read_snapshot``) and gives the reviewers (``"manager"`` or table rows);
this assigns every item (``assign.py``: every problem in one error, before anything is asked of anyone) and
streams the review file (``file.py``) from the store: items ordered by reviewer (the fallback last), then by
person, role and division, numbered from 1 in that order, so each reviewer's items are contiguous.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from airflow_provider_genesys.access.review import file
from airflow_provider_genesys.access.review.assign import assign
from airflow_provider_genesys.access.review.model import FALLBACK, MANAGER, SCHEMA, default_decision
from airflow_provider_genesys.access.review.scope import Snapshot
from airflow_provider_genesys.access.review.table import Row

# Items by reviewer (by email; the fallback reviewers last), then person, role and division.
_REVIEWERS = ("SELECT i.reviewer, COUNT(*), COUNT(DISTINCT i.user) FROM items i LEFT JOIN users r ON r.id = i.reviewer "
              "GROUP BY i.reviewer ORDER BY i.reviewer = 'fallback', r.ekey, i.reviewer")
_ITEMS = ("SELECT i.user, i.role, i.division, i.reviewer, i.assigned_by, u.email, u.name, u.state FROM items i "
          "JOIN users u ON u.id = i.user LEFT JOIN users r ON r.id = i.reviewer "
          "ORDER BY i.reviewer = 'fallback', r.ekey, i.reviewer, u.ekey, u.name, i.user, i.role, i.division")


@dataclass
class Opened:
    """What the open task returns besides the file: its checksum, the reviewers and the counts."""

    checksum: str
    reviewers: list[dict[str, Any]]
    counts: dict[str, int]


def open_review(snapshot: Snapshot, out: Callable[[], AbstractContextManager[IO[str]]], *, org_id: str,
                created_at: datetime, due_at: datetime, reviewers: str | Iterable[Row] = MANAGER,
                fallback_reviewers: Sequence[str] = (), default: str = "keep") -> Opened:
    """Assign every item a reviewer, then (only if that worked) write the review file to ``out()``."""
    default_decision(default)
    fallback = assign(snapshot, reviewers, fallback_reviewers)
    store, names = snapshot.store, snapshot.names
    entries: list[dict[str, Any]] = []
    first = 1
    for key, count, users in store.rows(_REVIEWERS):
        people = fallback if key == FALLBACK else [key]
        entries.append({"key": key, "reviewers": [_person(snapshot, p) for p in people], "items": count,
                        "users": users, "first_item": first, "last_item": first + count - 1})
        first += count
    counts = {"items": first - 1, "users": store.count("SELECT COUNT(DISTINCT user) FROM items"),
              "reviewers": len(entries)}
    header = {
        "schema": SCHEMA, "org_id": org_id, "created_at": created_at.isoformat(), "due_at": due_at.isoformat(),
        "default_decision": default,
        "managed_roles": [{"id": r, "name": names.roles.name(r)} for r in snapshot.roles],
        "divisions": None if snapshot.divisions is None else
        [{"id": d, "name": names.division(d)} for d in snapshot.divisions],
        "reviewers_from": MANAGER if isinstance(reviewers, str) else "table",
        "fallback_reviewers": [_person(snapshot, p) for p in fallback],
        "counts": counts, "reviewers": entries,
    }
    with out() as target:
        checksum = file.write(target, header, _items(snapshot))
    return Opened(checksum, entries, counts)


def _items(snapshot: Snapshot) -> Iterator[dict[str, Any]]:
    store, names = snapshot.store, snapshot.names
    for number, (user, role, division, reviewer, why, email, name, state) in enumerate(store.rows(_ITEMS), 1):
        yield {
            "item": number, "reviewer": reviewer, "user": user, "user_email": email, "user_name": name,
            "user_state": state, "role": role, "role_name": names.roles.name(role), "division": division,
            "division_name": names.division(division),
            "through_groups": [names.groups.name(g) for g in store.through_groups(user, role, division)],
            "assigned_by": why, "user_held": store.held(user),
        }


def _person(snapshot: Snapshot, user_id: str) -> dict[str, Any]:
    found = snapshot.store.user(user_id)
    return {"id": user_id, "email": found[1] if found else None, "name": found[2] if found else None}
