"""A write: one request apply sends, and the plan changes it carries (pure: no I/O).

Each relation (``access/relations/``) turns its changes into the fewest writes Genesys offers; apply sends
them in order, recording each in the ledger by the indexes of the plan changes it carries, so the ledger
and the report can say what each write did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Write:
    """One request apply sends, and the plan changes it carries."""

    kind: str  # role_grant, bulkadd, bulkremove, grant_delete, group_add, group_remove, queue_add, ...
    method: str
    path: str
    changes: list[int]
    body: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    versioned: str | None = None  # a group or user id whose current version goes into the body
    version_path: str | None = None  # where that version is read (GET)
    absent_on_404: bool = False  # a removal of one thing: 404 means there is nothing to remove (done)
    # Refused as a concurrent change (409, or 400 naming the version) without a version to send: read back and
    # sent again after a short wait (Genesys' Terraform provider retries user updates so).
    retry_on_conflict: bool = False
    # A write carrying many subjects (or members, users) can be split: ``parts`` are the changes of each, in
    # body order, and ``rebuild`` makes the same write for some of them (apply halves a write refused for
    # its size, which Genesys does not publish for every endpoint).
    parts: list[list[int]] | None = field(default=None, repr=False)
    rebuild: Callable[[list[list[int]]], Write] | None = field(default=None, repr=False, compare=False)
    unit: str = "subjects"  # what a part is, for people: subjects, members, users

    def describe(self) -> str:
        return f"{self.method} {self.path} ({len(self.changes)} change(s))"

    @property
    def splittable(self) -> bool:
        return self.parts is not None and self.rebuild is not None and len(self.parts) > 1

    def split(self, size: int) -> list[Write]:
        """The same write as several of at most ``size`` parts each, in order."""
        if self.parts is None or self.rebuild is None:
            return [self]
        return [self.rebuild(chunk) for chunk in chunks(self.parts, max(1, size))]


def splittable(kind: str, method: str, path: str, parts: list[list[int]], make: Callable[[list[list[int]]], Any],
               unit: str = "subjects", **write: Any) -> Write:
    """A write of ``parts`` whose body ``make(parts)`` builds (``{"body": ..., "params": ...}``); it can be
    rebuilt for any subset of its parts, in the same shape."""
    def rebuild(subset: list[list[int]]) -> Write:
        return splittable(kind, method, path, subset, make, unit, **write)

    return Write(kind, method, path, [i for part in parts for i in part], parts=parts, rebuild=rebuild, unit=unit,
                 **make(parts), **write)


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ = ["Write", "chunks", "splittable"]
