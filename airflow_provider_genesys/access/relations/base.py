"""What a relation is: the small interface every stage of the access engine speaks to.

A relation (grants, group members, a user's state, ...) is one module of this package holding all it
knows: the columns of its desired table, how a row's names resolve, how its current state is read, what a
change's target is, how changes become writes, how a refused write is retried, how a change is read back,
and what counts as someone losing access. The stages (``desired``, ``names``, ``current``, ``diff``,
``guardrails``, ``plan``, ``apply``, ``report``, the verify sensor) know no relation by name.

**Targets.** What a subject holds is a set of targets, tuples of strings. The first ``key_width`` fields
identify a holding; the rest is its value. Grants are ``(role, division)``, all key; a membership is
``(group,)``; a state is ``(state,)``, all value (``key_width`` 0: a user has exactly one). A relation with
a value turns "holds the key with another value" into an ``update`` (or a ``set``, when the key is empty)
rather than a removal and an add, and such a change records the value it replaces (``was``).

Airflow-free. The defaults here serve most relations; a relation overrides what differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_genesys.access.errors import DesiredTableError
from airflow_provider_genesys.access.names import WILDCARD, DesiredItem, Directory, NameIndex
from airflow_provider_genesys.access.writes import Write

if TYPE_CHECKING:
    from airflow_provider_genesys.access.current import OrgReader
    from airflow_provider_genesys.access.diff import Change, Diff, Notice
    from airflow_provider_genesys.access.state import CurrentState

Target = tuple[str, ...]
Indexed = tuple[int, Mapping[str, Any]]  # (index in the plan, the plan's change record)
Label = Any  # Callable[[str], str]: id -> what a person reads


@dataclass(frozen=True)
class Columns:
    """The desired table's columns: the required ones, and the optional ones with the value of a blank cell."""

    required: tuple[str, ...]
    optional: Mapping[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + tuple(self.optional)


class Relation:
    """One relation's facts; subclasses set the class attributes and override the methods that differ."""

    name: ClassVar[str]
    columns: ClassVar[Columns]
    # The target's fields as the plan and the report name them (pinned: the desired table's column names).
    target_fields: ClassVar[tuple[str, ...]]
    # Target fields that are ids with a name beside them in the plan (``role`` -> ``role_name``).
    named_fields: ClassVar[tuple[str, ...]] = ()
    key_width: ClassVar[int]
    subject_types: ClassVar[tuple[str, ...]] = ("user",)
    # What the managed ids are, in reasons and warnings ("holds managed role X"); "user" when the scope is the
    # users the table names.
    scope_word: ClassVar[str]
    # The Directory index managed names resolve in (``managed_roles=``); None: the scope is the named users.
    managed_kind: ClassVar[str | None] = None
    held_word: ClassVar[str] = "entries"
    # The admin guardrail needs the org's grants (roles, grants, group members) for this relation too.
    needs_authz: ClassVar[bool] = False
    # Rows naming inactive users are kept with this warning (None: no warning).
    inactive_notice: ClassVar[str | None] = (
        "rows name inactive users (kept: the grants apply if the user is reactivated)")
    # Removals from inactive users are warned with these words (None: not): an export of active people only
    # removes what the people it leaves out hold.
    inactive_removal_notice: ClassVar[str | None] = None
    # The permission each kind of write needs (Genesys' API reference for each endpoint).
    permissions: ClassVar[Mapping[str, str]] = {}
    # Whether set/update changes write the value they replace into the plan (apply reads it to take them back).
    records_was: ClassVar[bool] = True
    # Target fields that name something of the org, and the Directory index that knows it: apply refuses
    # up front a change whose role (division, group, ...) was deleted since the plan.
    field_kinds: ClassVar[Mapping[str, str]] = {}

    # -- the desired table ---------------------------------------------------------------------------------

    def resolve(self, row: Any, directory: Directory) -> DesiredItem | None:
        """The row as ids, or None after recording its problems in ``directory``."""
        raise NotImplementedError

    def user_names(self, row: Any) -> Iterator[str]:
        """The user names a row holds (``user_key="external:..."`` looks each one up)."""
        yield row["user"]

    def check_row(self, item: DesiredItem, directory: Directory) -> None:
        """Problems of a resolved row's values (a relation with values checks them here)."""

    # -- the current state ---------------------------------------------------------------------------------

    def read(self, org: OrgReader, current: CurrentState) -> None:
        """Add the relation's own listings to ``current`` (roles, divisions, groups and users are read already)."""

    # The users listing's expand this relation reads its holdings from (``skills``), if any.
    user_expand: ClassVar[str | None] = None

    def user_extra(self, user: Mapping[str, Any]) -> dict[str, Any]:
        """What the relation keeps of a users-listing entry beyond id, email, state, name and version (kept
        small: the org's users are held while planning)."""
        return {}

    def hold_user(self, current: CurrentState, user: Mapping[str, Any]) -> None:
        """What a user payload (the users listing) says this relation holds."""

    def hold_member(self, current: CurrentState, group_id: str, user_id: str) -> bool:
        """Whether a group membership is a holding of this relation (else it only explains inherited grants)."""
        return False

    def indexes(self, org: OrgReader) -> Mapping[str, NameIndex]:
        """Name indexes this relation adds to the Directory (queues, skills, ...), by Directory attribute."""
        return {}

    # -- the diff ------------------------------------------------------------------------------------------

    @property
    def by_subject(self) -> bool:
        """The scope is the users the table names (not managed roles, groups, ...)."""
        return self.managed_kind is None

    @property
    def updates(self) -> bool:
        """Whether a held key can change value in place (an ``update``: a proficiency)."""
        return 0 < self.key_width < len(self.target_fields)

    @property
    def removes(self) -> bool:
        """Whether ``sync`` removes what is held and not desired (a state is replaced, never removed)."""
        return self.key_width > 0

    def key(self, target: Target) -> Target:
        return target[: self.key_width]

    def scope_key(self, subject: str, target: Target) -> str:
        """What ``managed`` ids are compared with: the subject, or the target's first id."""
        return subject if self.by_subject else target[0]

    def added(self, change: Change, current: CurrentState, label: Label, notices: Mapping[str, Notice]) -> None:
        """A hook for warnings about an add (grants: already held through a group)."""

    def describe_target(self, target: Target, label: Label) -> str:
        """A target for a person: ``Supervisor on Sales``."""
        return " on ".join(label(v) if f in self.named_fields else str(v) for f, v in zip(self.target_fields, target,
                                                                                          strict=True))

    def removal_reason(self, target: Target, label: Label) -> str:
        return f"holds managed {self.scope_word} {label(target[0])}, not in the desired state"

    def conflict(self, first: int, row: int, subject: str, first_target: Target, target: Target,
                 label: Label) -> str:
        """The problem line of two rows asking for one key with two values."""
        return (f"rows {first} and {row}: {label(subject)} is asked to hold {self._value_text(first_target, label)} "
                f"and {self._value_text(target, label)}: keep one")

    def _value_text(self, target: Target, label: Label) -> str:
        fields = self.target_fields[self.key_width:]
        return ", ".join(f"{name} {label(value) if name in self.named_fields else value}"
                         for name, value in zip(fields, target[self.key_width:], strict=True))

    # -- the plan ------------------------------------------------------------------------------------------

    def record(self, change: Change, label: Label) -> dict[str, Any]:
        """The plan's line for one change: ids with names beside them, the value it replaces, why."""
        record: dict[str, Any] = {"action": change.action, "subject": change.subject,
                                  "subject_type": change.subject_type, "subject_name": label(change.subject)}
        for name, value in zip(self.target_fields, change.target, strict=True):
            record[name] = self.field_value(name, value)
            if name in self.named_fields:
                record[f"{name}_name"] = label(value)
        if change.was is not None and self.records_was:
            value_field = self.target_fields[-1]
            record["was"] = self.field_value(value_field, change.was)
            if value_field in self.named_fields:
                record["was_name"] = label(change.was)
        record["reason"] = change.reason
        if change.row is not None:
            record["row"] = change.row
        return record

    def field_value(self, name: str, value: str) -> Any:
        """A target field as the plan writes it (ids and states as strings; a relation may write numbers)."""
        return value

    def target(self, record: Mapping[str, Any]) -> Target:
        """A plan line's target, as the model holds it."""
        return tuple(self.text(record[name]) for name in self.target_fields)

    @staticmethod
    def text(value: Any) -> str:
        return str(value)

    def describe(self, record: Mapping[str, Any]) -> str:
        """One change for a person: ``add ann@x: Supervisor, Sales``."""
        names = ", ".join(str(record.get(f"{f}_name", record.get(f))) for f in self.target_fields if f in record)
        return f"{record['action']} {record.get('subject_name', record['subject'])}: {names}"

    # -- apply ---------------------------------------------------------------------------------------------

    def gone(self, record: Mapping[str, Any], directory: Directory) -> list[str]:
        """What the change names that the org no longer has (``role Supervisor (id)``), from a fresh read."""
        missing = []
        for name, kind in self.field_kinds.items():
            value = str(record.get(name))
            if value != WILDCARD and value not in directory.index(kind).by_id:
                missing.append(f"{name} {record.get(f'{name}_name', value)} ({value})")
        return missing

    def visible(self, record: Mapping[str, Any], held: Iterable[Target]) -> bool:
        """Whether ``held`` (what the subject holds now) shows the change made."""
        target = self.target(record)
        if record["action"] == "remove":
            key = self.key(target)
            return all(self.key(t) != key for t in held)
        return target in (held if isinstance(held, set | frozenset) else set(held))

    def moved(self, record: Mapping[str, Any], held: Iterable[Target]) -> bool:
        """Whether ``held`` (read now) is neither what the plan saw before the change nor what it makes: a set
        or update whose key holds a third value (a user made deleted, moved to a third division)."""
        if record["action"] in ("add", "remove"):
            return False  # not visible means held as the plan saw it
        key = self.key(self.target(record))
        now = {t for t in held if self.key(t) == key}
        return bool(now) and now != {(*key, self.previous(record))}

    def undo(self, record: Mapping[str, Any], held: set[Target]) -> set[Target]:
        """``held`` with one change apply attempted taken back (what the subject held before it)."""
        target = self.target(record)
        before = set(held)
        if record["action"] == "remove":
            before.add(target)
        elif record["action"] == "add":
            before.discard(target)
        else:  # set / update: the key held the value it replaced
            key = self.key(target)
            before = {t for t in before if self.key(t) != key}
            before.add((*key, self.previous(record)))
        return before

    def previous(self, record: Mapping[str, Any]) -> str:
        """The value a set or update replaced."""
        return self.text(record["was"])

    def writes(self, items: list[Indexed], current: CurrentState | None = None,
               scope: Mapping[str, Any] | None = None) -> list[Write]:
        """The fewest writes that make ``items`` (plan changes with their indexes), adds first. ``current``: the
        state apply re-read (None when settling); ``scope``: the plan's."""
        raise NotImplementedError

    def fallback(self, write: Write, status: int | None,
                 changes: Mapping[Any, Mapping[str, Any]]) -> list[Write] | None:
        """The writes to send instead of a refused one (e.g. one grant at a time); None: no fallback."""
        return None

    def read_back(self, api: Any, record: Mapping[str, Any], cache: dict[str, Any]) -> set[Target]:
        """What the change's subject holds now, by a targeted read (``cache`` shares reads between changes)."""
        raise NotImplementedError

    def prefetch(self, api: Any, records: list[Mapping[str, Any]], cache: dict[str, Any]) -> None:
        """Fill ``cache`` for many read-backs at once where one listing serves them (grants of one role)."""

    def before_writes(self, applier: Any, pending: list[Any]) -> None:
        """A hook before apply's first write (leavers: snapshot what they hold)."""

    def phases(self, applier: Any, pending: list[Any]) -> Iterator[list[Any]]:
        """The pending changes in the order apply sends them, a phase at a time (each phase's unknown
        outcomes are settled before the next is made: a generator, so a phase may depend on the last)."""
        yield pending

    def restores(self, plan_changes: Any, snapshots: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Changes apply adds to the plan's own (leavers' restores), by a key of their own."""
        return {}

    def planned_restores(self, diff: Diff, snapshots: Mapping[str, Mapping[str, Any]], label: Label,
                         ) -> list[dict[str, Any]]:
        """Changes of other relations the plan makes beside its own (a leaver's restores)."""
        raise DesiredTableError(f"restore_from is for user_state plans (it restores what reactivated users held), "
                                f"not {self.name}")

    # -- guardrails ----------------------------------------------------------------------------------------

    # The allow_roleless rule applies (a subject left with no role at all).
    roleless_rule: ClassVar[bool] = False

    def admin_effect(self, diff: Diff, authz: CurrentState) -> AdminEffect | None:
        """How the plan changes who holds admin roles (None: it cannot)."""
        return None

    def losses(self, diff: Diff, current: CurrentState, label: Label) -> Losses:
        """What ``max_removals`` and ``max_removal_fraction`` count: here each removal is one person losing
        one thing (a relation whose removals take access from more people, or that takes access otherwise,
        counts its own way)."""
        return Losses(diff.count("remove"), diff.managed_held, diff.count("remove"))


@dataclass
class Losses:
    """People losing access through a plan, as the removal guardrails count it.

    ``count``: each removal counts at least once, and once more for each other person it takes access from
    (a group's grant: each active member who holds the role on the division through nothing else).
    ``base``: what the removal fraction divides by (holdings in scope now, in the same unit). ``removals``:
    the plan's own removals (or deactivations), for messages. ``details``: one line per change that takes
    access from several people (the plan file's ``losses`` and its summary)."""

    count: int
    base: int
    removals: int
    # How the count reads when it is not removals ("deactivates {n} user(s) (...)"), and what ``base`` counts.
    phrase: str | None = None
    base_words: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def plain(self) -> bool:
        """Whether every removal is one person losing one thing (the messages then say just that)."""
        return self.count == self.removals and not self.details and self.phrase is None


@dataclass
class AdminEffect:
    """What the admin guardrail counts after a plan: the admin roles it may touch, and the subjects whose
    direct grants, groups or state the plan changes (the others keep theirs)."""

    roles: set[str]
    held_after: dict[str, set[Target]] = field(default_factory=dict)
    groups_after: dict[str, set[str]] = field(default_factory=dict)
    state_after: Any = None  # Callable[[str, str | None], str | None]; None: the users' states now
