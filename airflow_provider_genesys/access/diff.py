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
from airflow_provider_genesys.access.registry import relation as relation_named
from airflow_provider_genesys.access.spill import Record, Spill, SpilledSequence
from airflow_provider_genesys.access.state import CurrentState, Target

Mode = Literal["sync", "add_only"]
MODES = ("sync", "add_only")
EXAMPLES = 20  # rows a warning quotes; its count says how many there are


@dataclass(frozen=True)
class Scope:
    """What the sync may touch: ``managed`` ids (roles, groups or queues; ``None``: those the table names);
    ``groups``: whether groups' own grants are managed too (``None``: when the table names a group)."""

    managed: frozenset[str] | None = None
    mode: Mode = "sync"
    groups: bool | None = None
    # Only these (subject, target) may be removed (None: whatever the table leaves out): a plan made to remove
    # exactly some holdings (an access review's revocations) keeps everything else, even what appeared since.
    removable: frozenset[tuple[str, Target]] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise DesiredTableError(f"mode={self.mode!r} is not one of {', '.join(MODES)}")


Action = Literal["add", "remove", "set", "update"]


@dataclass(frozen=True)
class Change:
    """One write the plan asks for, and why; ``was``: the value a ``set`` or ``update`` replaces."""

    action: Action
    subject: str
    subject_type: str
    target: Target
    reason: str
    row: int | None = None
    was: str | None = None


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
    "inactive_user": "",  # the relation's own words (Relation.inactive_notice)
    "deleted_user": "rows name deleted users and were dropped (a deleted user holds nothing)",
    "inherited": "desired direct grants are already held through a group (added anyway, as direct grants)",
    "out_of_scope": "rows name something outside managed scope and were ignored",
    "inactive_removed": "",  # the relation's own words (Relation.inactive_removal_notice)
    "not_removable": ("holdings in scope that the table leaves out were kept: they are not among the removals "
                      "this plan may make (removable=)"),
    "groups_kept": ("grants of managed roles held by groups were left alone: the table names no group (add the "
                    "groups' rows, or pass manage_groups=True to manage groups' grants too)"),
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
    problems: list[str] = field(default_factory=list)  # rows asking for one key with two values

    @property
    def spec(self):
        """The relation's module (``access/relations/``)."""
        return relation_named(self.relation)

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

    def changes_where(self, action: str, subject_type: str | None = None) -> Iterator[Change]:
        """The ``action`` changes (of subjects of ``subject_type``), in order."""
        return map(_change, self.spill.changes_where(action, subject_type))

    def changes_by_subject(self) -> Iterator[tuple[str, list[Change]]]:
        """Each touched subject with its changes, in order of first change (one subject's in memory)."""
        for subject, records in self.spill.changes_by_subject():
            yield subject, [_change(record) for record in records]

    def count(self, action: str) -> int:
        return self.spill.counts[action]

    def counts(self) -> dict[str, int]:
        counts = dict(self.spill.counts)
        if not self.spec.updates:
            del counts["update"]
        return {**counts, "subjects": self.spill.subject_count, "desired_rows": self.desired_rows,
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

    The desired set ``(subject, key) -> value, first row`` and the changes go to a spill (a temporary SQLite
    database with a small page cache): memory stays flat in the table's size and the number of changes.
    """
    spec = current.spec
    spill = Spill(width=len(spec.target_fields), key_width=spec.key_width)
    try:
        return _diff(items, current, scope, label, spill)
    except BaseException:
        spill.close()
        raise


def _diff(items: Iterable[DesiredItem], current: CurrentState, scope: Scope, label: Callable[[str], str],
          spill: Spill) -> Diff:
    spec = current.spec
    notices = {kind: Notice(kind, message) for kind, message in NOTICES.items()}
    notices["inactive_user"].message = spec.inactive_notice or ""
    notices["inactive_removed"].message = spec.inactive_removal_notice or ""
    groups: set[str] = set()  # subjects of type group (everything else in a table is a user)
    named: set[str] = set()
    problems: list[str] = []
    rows = 0
    for item in items:
        rows += 1
        if item.subject_type == "user":
            state = current.user_states.get(item.subject)
            if state == "deleted":
                notices["deleted_user"].note(f"row {item.row}: {label(item.subject)}")
                continue
            if state == "inactive" and spec.inactive_notice:
                notices["inactive_user"].note(f"row {item.row}: {label(item.subject)}")
        else:
            groups.add(item.subject)
        key = spec.scope_key(item.subject, item.target)
        if scope.managed is not None and key not in scope.managed:
            notices["out_of_scope"].note(f"row {item.row}: {spec.scope_word} {label(key)} is not managed")
            continue
        named.add(key)
        earlier = spill.desire(item.subject, item.target, item.row)
        if earlier is None:
            continue
        first, first_target = earlier
        if first_target == item.target:
            notices["duplicate"].note(f"row {item.row} repeats row {first}")
        else:
            problems.append(spec.conflict(first, item.row, item.subject, first_target, item.target, label))
    managed = scope.managed if scope.managed is not None else frozenset(named)
    managed_held = _changes(spill, groups, current, managed, scope, label, notices)
    return Diff(current.relation, scope, frozenset(managed), spill,
                [n for n in notices.values() if n.count], managed_held, rows, problems)


def _changes(
    spill: Spill,
    groups: set[str],
    current: CurrentState,
    managed: frozenset[str],
    scope: Scope,
    label: Callable[[str], str],
    notices: Mapping[str, Notice],
) -> int:
    """Adds (sets, updates) for what is desired and not held, by subject then row; then, in ``sync`` mode,
    removals of what is held in scope and not desired, by subject then target."""
    spec = current.spec
    for subject, target, row in spill.desired():  # only what is missing becomes a change
        held = current.held.get(subject, ())
        if target in held:
            continue
        key = spec.key(target)
        replaced = [t for t in held if spec.key(t) == key] if spec.key_width < len(target) else []
        kind = "group" if subject in groups else "user"
        reason = f"row {row} of the desired table"
        if spec.key_width == 0:
            spill.add("set", subject, kind, target, reason, row, replaced[0][-1] if replaced else None)
        elif replaced:
            spill.add("update", subject, kind, target, reason, row, replaced[0][-1])
        else:
            spill.add("add", subject, kind, target, reason, row)
            spec.added(Change("add", subject, kind, target, reason, row), current, label, notices)
    if not spec.removes:
        return spill.desired_count
    managed_held = 0
    # A table that names no group (an HR export of people) does not manage groups: their grants stay.
    groups_managed = scope.groups if scope.groups is not None else bool(groups)
    for subject in sorted(current.held):
        kind = current.subject_types.get(subject, "unknown")
        if kind not in spec.subject_types or current.user_states.get(subject) == "deleted":
            continue  # subjects a table cannot name are invisible to the sync
        for target in sorted(current.held[subject]):
            if spec.scope_key(subject, target) not in managed:
                continue
            if kind == "group" and not groups_managed:
                if scope.mode == "sync" and spill.desired_row(subject, target) is None:
                    notices["groups_kept"].note(f"group {label(subject)} holds {spec.describe_target(target, label)}")
                continue
            managed_held += 1
            if scope.mode == "sync" and spill.desired_row(subject, target) is None:
                if scope.removable is not None and (subject, target) not in scope.removable:
                    notices["not_removable"].note(f"{label(subject)}: {spec.describe_target(target, label)}")
                    continue
                spill.add("remove", subject, kind, target, spec.removal_reason(target, label))
                if spec.inactive_removal_notice and current.user_states.get(subject) == "inactive":
                    notices["inactive_removed"].note(f"{label(subject)}: {spec.describe_target(target, label)}")
    return managed_held
