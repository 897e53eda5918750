"""The relations the access engine knows, by name.

Each relation is one module of ``access/relations/`` that registers itself here when it is imported
(``access/relations/__init__.py`` imports them all, in the order users see them listed). The stages
(desired table, names, current state, diff, guardrails, plan, apply, report, verify) look a relation up
by the name a plan or an operator carries and speak only to its interface
(:class:`~airflow_provider_genesys.access.relations.base.Relation`); none of them knows a relation by name.
This module is a leaf so that the model (``state.py``) can look relations up without importing them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_genesys.access.errors import DesiredTableError

_RELATIONS: dict[str, Any] = {}


class _Registered(Mapping[str, Any]):
    """The registered relations by name, in registration order (a live view)."""

    def __getitem__(self, name: str) -> Any:
        return _RELATIONS[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_RELATIONS)

    def __len__(self) -> int:
        return len(_RELATIONS)


RELATIONS: Mapping[str, Any] = _Registered()


def register(relation: Any) -> Any:
    """Add ``relation`` (a ``Relation`` instance) under its ``name``; returns it (for module-level use)."""
    _RELATIONS[relation.name] = relation
    return relation


def relation(name: str) -> Any:
    """The relation called ``name``, or an error listing the ones there are."""
    found = _RELATIONS.get(name)
    if found is None:
        raise DesiredTableError(f"Unknown relation {name!r}: use one of {', '.join(sorted(_RELATIONS))}")
    return found


def names() -> tuple[str, ...]:
    """The relations' names, in the order they were registered."""
    return tuple(_RELATIONS)
