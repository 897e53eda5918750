"""A write: one request apply sends, and the plan changes it carries (pure: no I/O).

Each relation (``access/relations/``) turns its changes into the fewest writes Genesys offers; apply sends
them in order, recording each in the ledger by the indexes of the plan changes it carries, so the ledger
and the report can say what each write did.
"""

from __future__ import annotations

from collections.abc import Iterable
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

    def describe(self) -> str:
        return f"{self.method} {self.path} ({len(self.changes)} change(s))"


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ = ["Write", "chunks"]
