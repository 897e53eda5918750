"""The diff: desired state x current state x scope -> the changes that make current equal desired in scope.

Pure but for its spill: no network, no clock, no names looked up (``label`` turns ids into what a person
reads in a reason); the desired set and the changes go to a temporary SQLite database (``access/spill.py``)
so memory stays flat. The rules it keeps:

- Only targets in scope are compared: grants of ``managed`` roles (default: the roles the table names),
  memberships of managed groups or queues; everything else is invisible, never added or removed.
- ``mode="add_only"`` never removes.
- Grants a user holds through a group are not direct grants: they are never removed from the user, and a
  desired grant already held that way is still added (the table asks for a direct grant) with a warning.
- Subjects the table cannot name (OAuth clients, trustees) are never touched.
- Deleted users cannot hold anything: their rows are dropped with a warning. Inactive users' rows are kept,
  with a warning.
- A row repeating an earlier one is collapsed into it, with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from airflow_provider_genesys.access.errors import DesiredTableError
from airflow_provider_genesys.access.names import DesiredItem
from airflow_provider_genesys.access.spill import Record, Spill, SpilledSequence
from airflow_provider_genesys.access.state import CurrentState, Target

Mode = Literal["sync", "add_only"]
MODES = ("sync", "add_only")
EXAMPLES = 20  # rows a warning quotes; its count says how many there are
# What a target's managed key is called in reasons, per relation.
SCOPE_KIND = {"grants": "role", "group_members": "group", "queue_members": "queue", "user_state": "user"}


@dataclass(frozen=True)
class Scope:
    """What the sync may touch: ``managed`` ids (roles, groups or queues; ``None``: those the table names)."""

    managed: frozenset[str] | None = None
    mode: Mode = "sync"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise DesiredTableError(f"mode={self.mode!r} is not one of {', '.join(MODES)}")


@dataclass(frozen=True)
class Change:
    """One write the plan asks for, and why."""

    action: Literal["add", "remove", "set"]
    subject: str
    subject_type: str
    target: Target
    reason: str
    row: int | None = None


@dataclass
class Notice:
    """A warning of one kind: how many rows it concerns and the first few of them."""

    kind: str
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)


NOTICES = {
    "duplicate": "rows repeat an earlier row and were collapsed into it",
    "inactive_user": "rows name inactive users (kept: the grants apply if the user is reactivated)",
    "deleted_user": "rows name deleted users and were dropped (a deleted user holds nothing)",
    "inherited": "desired direct grants are already held through a group (added anyway, as direct grants)",
    "out_of_scope": "rows name something outside managed scope and were ignored",
}


@dataclass
class Diff:
    """The changes (adds first), the warnings, and the numbers guardrails and summaries need.

    The desired set and the changes live in a :class:`~airflow_provider_genesys.access.spill.Spill` (a
    temporary SQLite database): ``changes`` reads them back in order, a change at a time. :meth:`close` (or
    ``with``) deletes it; a :class:`~airflow_provider_genesys.access.plan.Plan` made from the diff shares it.
    """

    relation: str
    scope: Scope
    managed: frozenset[str]
    spill: Spill
    notices: list[Notice]
    managed_held: int  # targets in scope held before the changes (the base of the removal fraction)
    desired_rows: int

    @property
    def changes(self) -> SpilledSequence[Change]:
        return SpilledSequence(self.spill, _change)

    @property
    def subjects(self) -> Iterator[str]:
        """Subjects the changes touch, in order of first change."""
        return self.spill.subjects()

    def changes_on(self, first_ids: Iterable[str]) -> Iterator[Change]:
        """The changes whose target's first id (role, group, queue, state) is one of ``first_ids``."""
        return map(_change, self.spill.changes_on(first_ids))

    def changes_by_subject(self) -> Iterator[tuple[str, list[Change]]]:
        """Each touched subject with its changes, in order of first change (one subject's in memory)."""
        for subject, records in self.spill.changes_by_subject():
            yield subject, [_change(record) for record in records]

    def count(self, action: str) -> int:
        return self.spill.counts[action]

    def counts(self) -> dict[str, int]:
        return {**self.spill.counts, "subjects": self.spill.subject_count, "desired_rows": self.desired_rows,
                "managed_held": self.managed_held}

    def close(self) -> None:
        self.spill.close()

    def __enter__(self) -> Diff:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _change(record: Record) -> Change:
    return Change(*record)


def diff(
    items: Iterable[DesiredItem],
    current: CurrentState,
    scope: Scope,
    label: Callable[[str], str] = str,
) -> Diff:
    """The changes that make ``current`` equal ``items`` within ``scope``; ``items`` is read once.

    The desired set ``(subject, *target) -> first row`` and the changes go to a spill (a temporary SQLite
    database with a small page cache): memory stays flat in the table's size and the number of changes.
    """
    spill = Spill(width=2 if current.relation == "grants" else 1)
    try:
        return _diff(items, current, scope, label, spill)
    except BaseException:
        spill.close()
        raise


def _diff(items: Iterable[DesiredItem], current: CurrentState, scope: Scope, label: Callable[[str], str],
          spill: Spill) -> Diff:
    notices = {kind: Notice(kind, message) for kind, message in NOTICES.items()}
    groups: set[str] = set()  # subjects of type group (everything else in a table is a user)
    named: set[str] = set()
    rows = 0
    states = current.relation == "user_state"
    for item in items:
        rows += 1
        if item.subject_type == "user":
            state = current.user_states.get(item.subject)
            if state == "deleted":
                notices["deleted_user"].note(f"row {item.row}: {label(item.subject)}")
                continue
            if state == "inactive" and not states:
                notices["inactive_user"].note(f"row {item.row}: {label(item.subject)}")
        else:
            groups.add(item.subject)
        key = item.subject if states else item.target[0]
        if scope.managed is not None and key not in scope.managed:
            notices["out_of_scope"].note(
                f"row {item.row}: {SCOPE_KIND[current.relation]} {label(key)} is not managed")
            continue
        named.add(key)
        first = spill.desire(item.subject, item.target, item.row)
        if first is not None:
            notices["duplicate"].note(f"row {item.row} repeats row {first}")
            continue
        if states:
            other = "active" if item.target[0] == "inactive" else "inactive"
            earlier = spill.desired_row(item.subject, (other,))
            if earlier is not None:
                raise DesiredTableError(
                    f"Rows {earlier} and {item.row} ask for {label(item.subject)} to be "
                    f"both {other} and {item.target[0]}: keep one"
                )
    managed = scope.managed if scope.managed is not None else frozenset(named)
    if states:
        managed_held = _set_changes(spill, current)
    else:
        managed_held = _membership_changes(spill, groups, current, managed, scope, label, notices)
    return Diff(current.relation, scope, frozenset(managed), spill,
                [n for n in notices.values() if n.count], managed_held, rows)


def _membership_changes(
    spill: Spill,
    groups: set[str],
    current: CurrentState,
    managed: frozenset[str],
    scope: Scope,
    label: Callable[[str], str],
    notices: Mapping[str, Notice],
) -> int:
    what = SCOPE_KIND[current.relation]
    for subject, target, row in spill.desired():  # by subject then row; only what is missing becomes a change
        if target in current.held.get(subject, ()):
            continue
        kind = "group" if subject in groups else "user"
        spill.add("add", subject, kind, target, f"row {row} of the desired table", row)
        if current.relation == "grants" and kind == "user":
            through = current.inherited(subject, target)
            if through:
                notices["inherited"].note(
                    f"row {row}: {label(subject)} already holds {label(target[0])} on "
                    f"{label(target[1])} through group {', '.join(label(g) for g in through)}")
    managed_held = 0
    for subject in sorted(current.held):
        kind = current.subject_types.get(subject, "unknown")
        if kind not in ("user", "group") or current.user_states.get(subject) == "deleted":
            continue  # subjects a table cannot name are invisible to the sync
        for target in sorted(current.held[subject]):
            if target[0] not in managed:
                continue
            managed_held += 1
            if scope.mode == "sync" and spill.desired_row(subject, target) is None:
                spill.add(
                    "remove", subject, kind, target,
                    f"holds managed {what} {label(target[0])}"
                    + (f" on {label(target[1])}" if len(target) > 1 else "")
                    + ", not in the desired state")
    return managed_held


def _set_changes(spill: Spill, current: CurrentState) -> int:
    for subject, target, row in spill.desired():  # a user has one desired state: by subject is by state too
        if target not in current.held.get(subject, ()):
            spill.add("set", subject, "user", target, f"row {row} of the desired table", row)
    return spill.desired_count
