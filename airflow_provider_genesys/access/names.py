"""Resolving the names a desired table uses to Genesys ids, reporting every offending row at once.

Roles, divisions, groups and queues are named by id or by name (names case-insensitive). Users are named
by id (UUID form) or email (contains ``@``), told apart by their form; with ``user_key="external:<authority>"``
by the HR key kept in Genesys' external ids under that authority. A name that matches nothing, or several
things (two divisions called "Sales"), is a problem of its row; the resolver keeps going and the caller
raises :class:`UnresolvedNamesError` with all of them, each with the closest names Genesys has.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from airflow_provider_genesys.access.errors import DesiredTableError
from airflow_provider_genesys.access.registry import relation as relation_named

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
WILDCARD = "*"  # a grant on every division, present and future
SUGGESTIONS = 3
# difflib compares against every name: past this many unknown names the rest are listed without suggestions
SUGGESTED_PROBLEMS = 25


class Unresolved(Exception):
    """Why one name did not resolve; the resolver turns it into a line naming the row."""


@dataclass
class NameIndex:
    """Things of one kind (roles, divisions, groups, queues) by id and by case-folded name."""

    kind: str
    by_id: dict[str, str] = field(default_factory=dict)  # id -> name
    by_name: dict[str, list[str]] = field(default_factory=dict)  # casefolded name -> ids
    suggest: bool = True

    @classmethod
    def of(cls, kind: str, entities: Iterable[Mapping]) -> NameIndex:
        """From Genesys entities (``{"id", "name", ...}``) as listings return them."""
        index = cls(kind)
        for entity in entities:
            index.add(str(entity["id"]), str(entity.get("name") or ""))
        return index

    def add(self, entity_id: str, name: str) -> None:
        self.by_id[entity_id] = name
        if name:
            self.by_name.setdefault(name.casefold(), []).append(entity_id)

    def resolve(self, text: str) -> str:
        """The id ``text`` names (an id, or a name in any case); :class:`Unresolved` otherwise."""
        if text in self.by_id:
            return text
        lowered = text.casefold()
        if UUID.match(text) and lowered in self.by_id:
            return lowered
        ids = self.by_name.get(lowered)
        if not ids:
            raise Unresolved(f"no {self.kind} is called {text!r}{self._closest(lowered)}")
        if len(ids) > 1:
            raise Unresolved(
                f"{len(ids)} {self.kind}s are called {text!r} ({', '.join(sorted(ids))}): name it by id"
            )
        return ids[0]

    def name(self, entity_id: str) -> str:
        return self.by_id.get(entity_id) or entity_id

    def _closest(self, lowered: str) -> str:
        if not self.suggest:
            return ""
        close = difflib.get_close_matches(lowered, list(self.by_name), n=SUGGESTIONS, cutoff=0.6)
        if not close:
            return ""
        names = [self.by_id[self.by_name[c][0]] for c in close]
        return f" (closest: {', '.join(repr(n) for n in names)})"


@dataclass
class UserIndex:
    """Users by id, by email and, for one authority, by external id; with each user's state."""

    by_id: dict[str, str] = field(default_factory=dict)  # id -> state (active, inactive, deleted)
    email: dict[str, str] = field(default_factory=dict)  # casefolded email -> id
    labels: dict[str, str] = field(default_factory=dict)  # id -> email or name, for plans people read
    external: dict[str, str] = field(default_factory=dict)  # external key -> id (only with user_key)
    authority: str | None = None
    suggest: bool = True
    _locals: dict[str, str] = field(default_factory=dict, repr=False)  # local part -> email (suggestions)
    names_by_id: dict[str, str] = field(default_factory=dict, repr=False)  # id -> display name (hints)
    _names: dict[str, list[str]] = field(default_factory=dict, repr=False)  # casefolded name -> ids

    @classmethod
    def of(cls, users: Iterable[Mapping], *, user_key: str = "id_or_email",
           external_ids: Mapping[str, str] | None = None) -> UserIndex:
        """From ``GET /api/v2/users`` entities (``id``, ``email``, ``state``, ``name``), all states.

        ``external_ids`` maps the authority's external keys to user ids (the operator reads them through the
        Users API's external id lookup); required when ``user_key`` is ``external:<authority>``.
        """
        index = cls(authority=parse_user_key(user_key))
        for user in users:
            user_id = str(user["id"])
            index.by_id[user_id] = str(user.get("state") or "active")
            label = user.get("email") or user.get("username") or user.get("name")
            if label:
                index.labels[user_id] = str(label)
            if user.get("name"):
                index.names_by_id[user_id] = str(user["name"])
            for key in ("email", "username"):
                if user.get(key):
                    index.email.setdefault(str(user[key]).casefold(), user_id)
        if index.authority is not None:
            if external_ids is None:
                raise DesiredTableError(
                    f"user_key={user_key!r} needs the external ids of authority {index.authority!r}"
                )
            index.external = {str(k): str(v) for k, v in external_ids.items()}
        return index

    def resolve(self, text: str, *, external: bool = True) -> str:
        """The user id ``text`` names; :class:`Unresolved` otherwise.

        With an authority, ``text`` is an external key; ``external=False`` reads it as an id or email even
        then (``protected_subjects`` name users by id or email whatever the table's ``user_key``).
        """
        if self.authority is not None and external:
            user_id = self.external.get(text)
            if user_id is None or user_id not in self.by_id:
                raise Unresolved(f"no user has external id {text!r} under authority {self.authority!r}")
            return user_id
        if "@" in text:
            user_id = self.email.get(text.casefold())
            if user_id is None:
                raise Unresolved(f"no user has the email {text!r}{self._closest(text.casefold())}")
            return user_id
        if UUID.match(text):
            lowered = text.lower()
            if lowered in self.by_id:
                return lowered
            if text in self.by_id:
                return text
            raise Unresolved(f"no user has the id {text!r}")
        raise Unresolved(f"{text!r} is neither a user id (UUID) nor an email: name users by one of them")

    def state(self, user_id: str) -> str:
        return self.by_id.get(user_id, "deleted")

    def named(self, text: str) -> str:
        """``; a user is called that (ann@x): name users by email or id`` when ``text`` is a person's name."""
        if "@" in text or UUID.match(text):
            return ""
        if not self._names:
            for user_id, name in self.names_by_id.items():
                self._names.setdefault(name.casefold(), []).append(user_id)
        ids = self._names.get(text.casefold(), [])
        if not ids:
            return ""
        shown = ", ".join(self.label(i) for i in ids[:3])
        what = "a user is" if len(ids) == 1 else f"{len(ids)} users are"
        return f"; {what} called that ({shown}): name users by email or id"

    def label(self, user_id: str) -> str:
        return self.labels.get(user_id, user_id)

    def _closest(self, lowered: str) -> str:
        if not self.suggest:
            return ""
        # Compare the parts before @: whole addresses of one domain all look alike to difflib.
        if not self._locals:
            for email in self.email:
                self._locals.setdefault(email.partition("@")[0], email)
        local = lowered.partition("@")[0]
        close = difflib.get_close_matches(local, list(self._locals), n=SUGGESTIONS, cutoff=0.6)
        return f" (closest: {', '.join(repr(self._locals[c]) for c in close)})" if close else ""


def parse_user_key(user_key: str) -> str | None:
    """The external-id authority of ``user_key`` (``None`` for ids and emails); a clear error if malformed."""
    if user_key in ("id_or_email", "", None):
        return None
    kind, _, authority = user_key.partition(":")
    if kind != "external" or not authority.strip():
        raise DesiredTableError(
            f"user_key={user_key!r} is not understood: leave it unset (users by id or email) or use "
            "'external:<authority>' (users by the external id kept under that authority)"
        )
    return authority.strip()


@dataclass
class Directory:
    """Everything a desired table can name, with the problems found so far (one line per offending row)."""

    roles: NameIndex
    divisions: NameIndex
    groups: NameIndex
    queues: NameIndex
    users: UserIndex
    problems: list[str] = field(default_factory=list)
    more: dict[str, NameIndex] = field(default_factory=dict)  # a relation's own kinds (skills, languages, ...)

    def index(self, kind: str) -> NameIndex:
        """The index of ``kind`` (``roles``, ``groups``, ... or a relation's own, e.g. ``skills``)."""
        if kind in self.more:
            return self.more[kind]
        return getattr(self, kind)

    def indexes(self) -> list[NameIndex]:
        """Every name index but the users'."""
        return [self.roles, self.divisions, self.groups, self.queues, *self.more.values()]

    def at(self, row: int, values: Iterable[str] = ()) -> None:
        """The row being resolved: its number and its values, which every problem line names (rows from a
        query without ORDER BY have no other order: the number alone would point nowhere)."""
        shown = [v for v in values if v]
        self._where = f"row {row} ({', '.join(shown)})" if shown else f"row {row}"

    def where(self, row: int) -> str:
        where = getattr(self, "_where", "")
        return where if where.startswith(f"row {row} (") or where == f"row {row}" else f"row {row}"

    def lookup(self, index: NameIndex | UserIndex, row: int, column: str, text: str,
               hint: Callable[[str], str | None] | None = None) -> str | None:
        """The id for ``text`` in ``column`` of ``row``, or ``None`` after recording the problem (with what
        the org does have under that name, when it is something else: ``hint`` says what to do then)."""
        if not text:
            self.problems.append(f"{self.where(row)}: the {column} is blank")
            return None
        if len(self.problems) >= SUGGESTED_PROBLEMS:  # keep a table of many typos fast
            index.suggest = False
        try:
            return index.resolve(text)
        except Unresolved as why:
            self.problems.append(f"{self.where(row)}: {column} {text!r}: {why}{self._elsewhere(index, text, hint)}")
            return None

    def _elsewhere(self, index: NameIndex | UserIndex, text: str, hint: Callable[[str], str | None] | None) -> str:
        """``; a group is called that: ...`` when another kind of thing has this exact name or id."""
        for other in self.indexes():
            if other is index:
                continue
            try:
                found = other.resolve(text)
            except Unresolved:
                continue
            advice = (hint(other.kind) if hint else None) or "is it in the right column?"
            shown = f" ({found})" if found != text else ""
            return f"; a {other.kind} is called that{shown}: {advice}"
        if isinstance(index, UserIndex):
            return index.named(text)
        return ""

    def division(self, row: int, text: str) -> str | None:
        if text == WILDCARD:
            return WILDCARD
        return self.lookup(self.divisions, row, "division", text)

    def invalid(self, row: int, column: str, text: str, allowed: Iterable[str]) -> None:
        self.problems.append(f"{self.where(row)}: {column} {text!r} is not one of {', '.join(allowed)}")


@dataclass(frozen=True)
class DesiredItem:
    """One resolved row: the subject (id and type) and the target it should hold, as ids."""

    row: int
    subject: str
    subject_type: str
    target: tuple[str, ...]


def resolve(rows: Iterable, rel: str, directory: Directory) -> Iterable[DesiredItem]:
    """Resolve desired rows one at a time, as the relation ``rel`` reads them; rows that do not resolve are
    recorded in ``directory.problems``.

    The caller raises :class:`UnresolvedNamesError` once the stream is consumed, so every offending row is
    reported together.
    """
    spec = relation_named(rel)
    columns = spec.columns
    for row in rows:
        directory.at(row.number, [row[c] for c in columns.required]
                     + [row[c] for c, default in columns.optional.items() if row[c] != default])
        item = spec.resolve(row, directory)
        if item is not None:
            yield item
