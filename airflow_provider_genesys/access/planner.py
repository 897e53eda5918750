"""Making a plan from the pieces: resolve the desired rows, diff them with the current state, run the
guardrails, write the plan. No I/O: the caller reads the table and the current state and stores the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from airflow_provider_genesys.access.desired import DesiredRow
from airflow_provider_genesys.access.diff import Mode, Scope, diff
from airflow_provider_genesys.access.errors import GenesysAccessError, UnresolvedNamesError
from airflow_provider_genesys.access.guardrails import Guardrails, Protected, check
from airflow_provider_genesys.access.names import WILDCARD, Directory, NameIndex, Unresolved, resolve
from airflow_provider_genesys.access.plan import Plan, make_plan
from airflow_provider_genesys.access.registry import relation as relation_named
from airflow_provider_genesys.access.state import CurrentState


def labeller(directory: Directory):
    """Id -> what a person reads (email, role name, ...); ``*`` reads as all divisions."""
    indexes = directory.indexes()

    def label(entity_id: str) -> str:
        if entity_id == WILDCARD:
            return "all divisions (*)"
        if entity_id in directory.users.by_id:
            return directory.users.label(entity_id)
        for index in indexes:
            if entity_id in index.by_id:
                return index.name(entity_id)
        return entity_id

    return label


def managed_ids(names: Iterable[str] | None, relation: str, directory: Directory) -> frozenset[str] | None:
    """``managed_roles`` (or groups, queues, skills, ...) by id or name, as ids; every unknown one in one error."""
    spec = relation_named(relation)
    if names is None or spec.managed_kind is None:
        return None
    if isinstance(names, str):
        names = [names]
    index: NameIndex = directory.index(spec.managed_kind)
    ids, problems = set(), []
    for name in names:
        try:
            ids.add(index.resolve(str(name).strip()))
        except Unresolved as why:
            problems.append(f"managed {spec.managed_kind} {name!r}: {why}")
    if problems:
        raise UnresolvedNamesError(problems)
    return frozenset(ids)


def removable_ids(rows: Iterable[DesiredRow], relation: str, directory: Directory) -> frozenset[tuple[str, Any]]:
    """The holdings ``rows`` name, as ids; their problems go with the table's, marked as the removable rows'."""
    before = len(directory.problems)
    found = frozenset((item.subject, item.target) for item in resolve(rows, relation, directory))
    directory.problems[before:] = [f"removable {line}" for line in directory.problems[before:]]
    return found


def protected_ids(subjects: Iterable[str], directory: Directory) -> list[str]:
    """``protected_subjects`` (user ids or emails, group ids or names) as ids; unknown ones are an error."""
    ids, problems = [], []
    for subject in subjects:
        text = str(subject).strip()
        try:
            ids.append(directory.users.resolve(text, external=False))
            continue
        except Unresolved:
            pass
        try:
            ids.append(directory.groups.resolve(text))
        except Unresolved:
            problems.append(f"protected subject {text!r} is neither a user nor a group of this org")
    if problems:
        raise UnresolvedNamesError(problems)
    return ids


def plan_access(
    rows: Iterable[DesiredRow],
    *,
    relation: str,
    directory: Directory,
    current: CurrentState,
    org_id: str,
    created_at: datetime,
    managed: Iterable[str] | None = None,
    mode: Mode = "sync",
    rails: Guardrails | None = None,
    protected_subjects: Iterable[str] = (),
    oauth_client_id: str | None = None,
    token_user_id: str | None = None,
    manage_groups: bool | None = None,
    restore: Mapping[str, Mapping[str, Any]] | None = None,
    removable: Iterable[DesiredRow] | None = None,
) -> Plan:
    """The plan that makes ``current`` equal the desired ``rows`` in scope, or the error saying what to fix.

    The plan reads its changes from the planning spill: write it and close it (``with plan:``).
    ``restore``: leaver snapshots by user (earlier ledgers'); a user the plan reactivates gets back what its
    snapshot holds, as changes of the plan (reviewed, checksummed, applied once like the others).
    ``removable``: rows of the relation's table naming the only holdings the plan may remove (``sync``).
    """
    relation_named(relation)
    if current.relation != relation:
        raise GenesysAccessError(f"The current state is of {current.relation!r}, the plan of {relation!r}")
    rails = rails or Guardrails()
    scope = Scope(managed_ids(managed, relation, directory), mode, manage_groups,
                  removable_ids(removable, relation, directory) if removable is not None else None)
    protected = Protected.of(protected_ids(protected_subjects, directory),
                             oauth_client_id=oauth_client_id, token_user_id=token_user_id)
    label = labeller(directory)
    changes = diff(resolve(rows, relation, directory), current, scope, label)
    try:
        if directory.problems or changes.problems:
            what = ("name something Genesys does not have" if not changes.problems else
                    "contradict another row" if not directory.problems else
                    "name something Genesys does not have or contradict another row")
            raise UnresolvedNamesError(directory.problems + changes.problems, what)
        losses = changes.spec.losses(changes, current, label)
        check(changes, current, rails, protected, label, losses)
        extra = changes.spec.planned_restores(changes, restore, label) if restore else []
        return make_plan(changes, current, org_id=org_id, created_at=created_at, label=label, losses=losses.details,
                         extra=extra)
    except BaseException:
        changes.close()  # the spill goes with the refused plan
        raise
