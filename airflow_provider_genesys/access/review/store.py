"""The snapshot of a review (and the state close compares it with) in a private temporary SQLite database.

A review of a 10,000-user org would otherwise hold every user and every item in memory; here they live in
:func:`~airflow_provider_genesys.extract.writer.temporary_database` (as planning's spill does: a 2 MiB page
cache, the rest in a file SQLite deletes itself, even after ``kill -9``) and are read back in order, a batch
at a time. Tables: ``users`` (every user of every state, with the manager), ``grants`` (the managed roles'
direct grants of every subject, users and groups), ``members`` (the users of the groups holding a managed
role) and ``items`` (the reviewed grants with their reviewer, in the order the review file lists them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_provider_genesys.extract.writer import ScratchTables

_SCHEMA = (
    "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, ekey TEXT, name TEXT, state TEXT NOT NULL, "
    "manager TEXT) WITHOUT ROWID",
    "CREATE INDEX users_by_email ON users (ekey)",
    "CREATE TABLE grants (subject TEXT NOT NULL, kind TEXT NOT NULL, role TEXT NOT NULL, division TEXT NOT NULL, "
    "PRIMARY KEY (subject, role, division)) WITHOUT ROWID",
    "CREATE TABLE members (grp TEXT NOT NULL, user TEXT NOT NULL, PRIMARY KEY (user, grp)) WITHOUT ROWID",
    "CREATE TABLE items (seq INTEGER PRIMARY KEY, user TEXT NOT NULL, role TEXT NOT NULL, division TEXT NOT NULL, "
    "reviewer TEXT, assigned_by TEXT)",
)


class Store(ScratchTables):
    """One snapshot; :meth:`close` (or losing the last reference) deletes it."""

    def __init__(self) -> None:
        super().__init__(_SCHEMA)

    # -- filling -------------------------------------------------------------------------------------------

    def add_users(self, users: Iterable[dict[str, Any]]) -> None:
        """``GET /api/v2/users`` entities (every state): id, email, name, state and the manager's id."""
        self._db.executemany(
            "INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, ?, ?)",
            ((str(u["id"]), u.get("email"), str(u.get("email") or u.get("username") or "").casefold() or None,
              u.get("name"), str(u.get("state") or "active"), (u.get("manager") or {}).get("id"))
             for u in users))

    def add_grants(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """``(subject, kind, role, division)`` direct grants (kind: user, group, oauth_client, ...)."""
        self._db.executemany("INSERT OR IGNORE INTO grants VALUES (?, ?, ?, ?)", rows)

    def add_members(self, group: str, users: Iterable[str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?)", ((group, u) for u in users))

    def add_item(self, user: str, role: str, division: str, reviewer: str | None, assigned_by: str | None) -> None:
        self._db.execute("INSERT INTO items (user, role, division, reviewer, assigned_by) VALUES (?, ?, ?, ?, ?)",
                         (user, role, division, reviewer, assigned_by))

    # -- questions -----------------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple]:
        """The rows of a query, a batch at a time (never the whole result in memory)."""
        return self._rows(sql, params)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self._db.execute(sql, params).fetchone()

    def user(self, user_id: str) -> tuple[str, str | None, str | None, str, str | None] | None:
        """``(id, email, name, state, manager)`` of a user, or None."""
        return self.one("SELECT id, email, name, state, manager FROM users WHERE id = ?", (user_id,))

    def user_named(self, text: str) -> str | None:
        """The id of the user ``text`` names: an id (any case), an email or a username (any case)."""
        found = self.one("SELECT id FROM users WHERE id = ? OR id = ?", (text, text.lower()))
        if found is None:
            found = self.one("SELECT id FROM users WHERE ekey = ?", (text.casefold(),))
        return found[0] if found else None

    def held(self, user: str) -> list[list[str]]:
        """The user's direct grants of the managed roles, ``[role, division]`` sorted."""
        return [[r, d] for r, d in self.rows(
            "SELECT role, division FROM grants WHERE subject = ? ORDER BY role, division", (user,))]

    def through_groups(self, user: str, role: str, division: str) -> list[str]:
        """The groups of ``user`` holding ``role`` on ``division`` or on every division (``*``)."""
        return [g for (g,) in self.rows(
            "SELECT DISTINCT m.grp FROM members m JOIN grants g ON g.subject = m.grp "
            "WHERE m.user = ? AND g.role = ? AND g.division IN (?, '*') ORDER BY m.grp", (user, role, division))]

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        found = self.one(sql, params)
        return int(found[0]) if found and found[0] is not None else 0
