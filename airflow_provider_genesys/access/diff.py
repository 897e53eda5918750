"""The diff: desired state x current state x scope -> the changes that make current equal desired in scope.

Pure: no I/O, no clock, no names looked up (``label`` turns ids into what a person reads in a reason). The
rules it keeps:

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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from airflow_provider_genesys.access.errors import DesiredTableError
from airflow_provider_genesys.access.names import DesiredItem
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
    """The changes (adds first), the warnings, and the numbers guardrails and summaries need."""

    relation: str
    scope: Scope
    managed: frozenset[str]
    changes: list[Change]
    notices: list[Notice]
    managed_held: int  # targets in scope held before the changes (the base of the removal fraction)
    desired_rows: int

    @property
    def adds(self) -> list[Change]:
        return [c for c in self.changes if c.action != "remove"]

    @property
    def removes(self) -> list[Change]:
        return [c for c in self.changes if c.action == "remove"]

    @property
    def subjects(self) -> list[str]:
        """Subjects the changes touch, in order of first change."""
        return list(dict.fromkeys(c.subject for c in self.changes))

    def counts(self) -> dict[str, int]:
        return {"add": sum(c.action == "add" for c in self.changes),
                "remove": sum(c.action == "remove" for c in self.changes),
                "set": sum(c.action == "set" for c in self.changes),
                "subjects": len(self.subjects), "desired_rows": self.desired_rows,
                "managed_held": self.managed_held}


def diff(
    items: Iterable[DesiredItem],
    current: CurrentState,
    scope: Scope,
    label: Callable[[str], str] = str,
) -> Diff:
    """The changes that make ``current`` equal ``items`` within ``scope``; ``items`` is read once."""
    notices = {kind: Notice(kind, message) for kind, message in NOTICES.items()}
    desired: dict[str, dict[Target, int]] = {}
    kinds: dict[str, str] = {}
    named: set[str] = set()
    rows = 0
    for item in items:
        rows += 1
        if item.subject_type == "user":
            state = current.user_states.get(item.subject)
            if state == "deleted":
                notices["deleted_user"].note(f"row {item.row}: {label(item.subject)}")
                continue
            if state == "inactive" and current.relation != "user_state":
                notices["inactive_user"].note(f"row {item.row}: {label(item.subject)}")
        key = item.target[0] if current.relation != "user_state" else item.subject
        if scope.managed is not None and key not in scope.managed:
            notices["out_of_scope"].note(
                f"row {item.row}: {SCOPE_KIND[current.relation]} {label(key)} is not managed")
            continue
        held = desired.setdefault(item.subject, {})
        kinds[item.subject] = item.subject_type
        named.add(key)
        if item.target in held:
            notices["duplicate"].note(f"row {item.row} repeats row {held[item.target]}")
            continue
        if current.relation == "user_state" and held:
            (other, first), = held.items()
            raise DesiredTableError(
                f"Rows {first} and {item.row} ask for {label(item.subject)} to be both {other[0]} and "
                f"{item.target[0]}: keep one"
            )
        held[item.target] = item.row
    managed = scope.managed if scope.managed is not None else frozenset(named)
    if current.relation == "user_state":
        changes, managed_held = _set_changes(desired, kinds, current, label)
    else:
        changes, managed_held = _membership_changes(desired, kinds, current, managed, scope, label, notices)
    return Diff(current.relation, scope, frozenset(managed), changes,
                [n for n in notices.values() if n.count], managed_held, rows)


def _membership_changes(
    desired: Mapping[str, Mapping[Target, int]],
    kinds: Mapping[str, str],
    current: CurrentState,
    managed: frozenset[str],
    scope: Scope,
    label: Callable[[str], str],
    notices: Mapping[str, Notice],
) -> tuple[list[Change], int]:
    what = SCOPE_KIND[current.relation]
    adds: list[Change] = []
    for subject in sorted(desired):
        held = current.held.get(subject, set())
        for target, row in sorted(desired[subject].items(), key=lambda kv: kv[1]):
            if target in held:
                continue
            adds.append(Change("add", subject, kinds[subject], target, f"row {row} of the desired table", row))
            if current.relation == "grants" and kinds[subject] == "user":
                groups = current.inherited(subject, target)
                if groups:
                    notices["inherited"].note(
                        f"row {row}: {label(subject)} already holds {label(target[0])} on "
                        f"{label(target[1])} through group {', '.join(label(g) for g in groups)}")
    removes: list[Change] = []
    managed_held = 0
    for subject in sorted(current.held):
        kind = current.subject_types.get(subject, "unknown")
        if kind not in ("user", "group") or current.user_states.get(subject) == "deleted":
            continue  # subjects a table cannot name are invisible to the sync
        wanted = desired.get(subject, {})
        for target in sorted(current.held[subject]):
            if target[0] not in managed:
                continue
            managed_held += 1
            if target not in wanted and scope.mode == "sync":
                removes.append(Change(
                    "remove", subject, kind, target,
                    f"holds managed {what} {label(target[0])}"
                    + (f" on {label(target[1])}" if len(target) > 1 else "")
                    + ", not in the desired state"))
    return adds + removes, managed_held


def _set_changes(
    desired: Mapping[str, Mapping[Target, int]],
    kinds: Mapping[str, str],
    current: CurrentState,
    label: Callable[[str], str],
) -> tuple[list[Change], int]:
    changes = []
    for subject in sorted(desired):
        ((target, row),) = desired[subject].items()
        if target not in current.held.get(subject, set()):
            changes.append(Change("set", subject, kinds[subject], target, f"row {row} of the desired table", row))
    return changes, len(desired)
