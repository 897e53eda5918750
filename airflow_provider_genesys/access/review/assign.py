"""Who reviews each item: the user's Genesys manager, or the reviewer a table names; else the fallback.

``reviewers="manager"``: the user's ``manager`` when that manager is an active user (and not the user); an
inactive, deleted or missing manager (or none) sends the user's items to ``fallback_reviewers``. A table
(``user``, ``reviewer``, users named by id or email): its reviewer for each user it names; users it does not
name go to the fallback. The fallback reviewers answer together (one decision, any of them).

Everything wrong is collected and raised as one :class:`ReviewError` before anything is asked of anyone:
an empty scope, a table naming unknown users or reviewers (or an inactive reviewer, or one user twice with two
reviewers), unknown or inactive fallback reviewers, users with no reviewer and no fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from airflow_provider_genesys.access.errors import listing
from airflow_provider_genesys.access.review.model import FALLBACK, MANAGER, ReviewError
from airflow_provider_genesys.access.review.scope import Snapshot
from airflow_provider_genesys.access.review.table import Row

EXAMPLES = 20  # users without a reviewer named in the error (its count says how many there are)


def assign(snapshot: Snapshot, reviewers: str | Iterable[Row], fallback_reviewers: Sequence[str] = ()) -> list[str]:
    """Fill the snapshot's ``items`` with each in-scope grant and its reviewer; the fallback reviewers' ids."""
    if isinstance(reviewers, str) and reviewers != MANAGER:
        raise ReviewError(f"reviewers={reviewers!r} is not valid: use 'manager' or a table (user, reviewer)")
    store = snapshot.store
    problems: list[str] = []
    fallback = _fallback(snapshot, fallback_reviewers, problems)
    table = None if isinstance(reviewers, str) else _table(snapshot, reviewers, problems)
    divisions = snapshot.divisions
    query = ("SELECT g.subject, g.role, g.division, u.manager, m.email, m.state FROM grants g "
             "JOIN users u ON u.id = g.subject LEFT JOIN users m ON m.id = u.manager "
             "WHERE g.kind = 'user' AND u.state != 'deleted' ORDER BY g.subject, g.role, g.division")
    items = orphans = 0
    examples: list[str] = []
    for user, role, division, manager, manager_email, manager_state in store.rows(query):
        if divisions is not None and division not in divisions:
            continue
        items += 1
        if table is None:
            reviewer, why = _manager(user, manager, manager_email, manager_state)
        else:
            reviewer, why = table(user)
        if reviewer is None and fallback:
            reviewer, why = FALLBACK, f"fallback: {why}"
        elif reviewer is None:
            orphans += 1
            if len(examples) < EXAMPLES and not any(e.startswith(f"{_label(snapshot, user)} ") for e in examples):
                examples.append(f"{_label(snapshot, user)} ({why})")
        store.add_item(user, role, division, reviewer, why)
    if items == 0:
        scope = ", ".join(snapshot.names.roles.name(r) for r in snapshot.roles)
        where_text = "" if divisions is None else " on " + ", ".join(snapshot.names.division(d) for d in divisions)
        problems.insert(0, f"the scope is empty: no user holds {scope}{where_text} directly; nothing to review "
                           "(check managed_roles and divisions)")
    if orphans:
        problems.append(f"{orphans} item(s) have no reviewer and no fallback_reviewers are given: "
                        + "; ".join(examples) + (" ..." if orphans > len(examples) else "")
                        + ". Give fallback_reviewers=[...] (ids or emails of active users)"
                        + ("" if table is None else " or name these users in the reviewer table"))
    if problems:
        raise ReviewError(f"The review cannot be opened (nothing was asked of anyone):\n{listing(problems)}")
    return fallback


def _label(snapshot: Snapshot, user: str) -> str:
    found = snapshot.store.user(user)
    return (found[1] or found[2] or user) if found else user


def _manager(user: str, manager: str | None, email: str | None, state: str | None) -> tuple[str | None, str]:
    if not manager:
        return None, "no manager in Genesys"
    if manager == user:
        return None, "the user is their own manager"
    if state is None:
        return None, f"the manager {manager} is not a user of this org"
    if state != "active":
        return None, f"the manager {email or manager} is {state}"
    return manager, MANAGER


def _fallback(snapshot: Snapshot, names: Sequence[str] | str, problems: list[str]) -> list[str]:
    ids = []
    for name in [names] if isinstance(names, str) else list(names or ()):
        user = snapshot.store.user_named(str(name).strip())
        found = snapshot.store.user(user) if user else None
        if found is None:
            problems.append(f"fallback reviewer {name!r} is not a user of this org (name them by id or email)")
        elif found[3] != "active":
            problems.append(f"fallback reviewer {name!r} is {found[3]}: only an active user can answer")
        else:
            ids.append(found[0])
    return list(dict.fromkeys(ids))


def _table(snapshot: Snapshot, rows: Iterable[Row], problems: list[str]):
    """Read the reviewer table into the store; the lookup ``user id -> (reviewer id or None, why)``."""
    store = snapshot.store
    store.execute("CREATE TABLE assign (user TEXT PRIMARY KEY, reviewer TEXT NOT NULL, row INTEGER NOT NULL) "
                  "WITHOUT ROWID")
    count = 0
    for number, user_text, reviewer_text in rows:
        count += 1
        user = store.user_named(user_text) if user_text else None
        reviewer = store.user_named(reviewer_text) if reviewer_text else None
        bad = [f"user {user_text!r} is not a user of this org" if user is None else "",
               f"reviewer {reviewer_text!r} is not a user of this org" if reviewer is None else ""]
        if reviewer is not None and (state := store.user(reviewer)[3]) != "active":  # type: ignore[index]
            bad.append(f"reviewer {reviewer_text!r} is {state}: only an active user can answer")
        if any(bad):
            problems.append(f"row {number} of the reviewer table: " + "; ".join(b for b in bad if b))
            continue
        earlier = store.one("SELECT reviewer, row FROM assign WHERE user = ?", (user,))
        if earlier is None:
            store.execute("INSERT INTO assign VALUES (?, ?, ?)", (user, reviewer, number))
        elif earlier[0] != reviewer:
            problems.append(f"row {number} of the reviewer table: user {user_text!r} already has another reviewer "
                            f"(row {earlier[1]}): give each user one reviewer")
    if count == 0:
        problems.append("the reviewer table has no rows: give one row (user, reviewer) per reviewed user, or use "
                        "reviewers='manager'")

    def lookup(user: str) -> tuple[str | None, str]:
        found = store.one("SELECT reviewer, row FROM assign WHERE user = ?", (user,))
        if found is None:
            return None, "not in the reviewer table"
        if found[0] == user:
            return None, f"row {found[1]} of the reviewer table makes the user their own reviewer"
        return found[0], f"reviewer table row {found[1]}"

    return lookup
