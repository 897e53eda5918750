"""Public names that moved: their old places keep working, with a warning naming the new place.

``MOVED`` is the one table of them. A module at an old place (or a module that lost a name) sets
``__getattr__ = moved_getattr(__name__)``: a moved name is looked up at its new place on use, and each use
warns ``AirflowProviderDeprecationWarning``, as Airflow's own providers do, so ``from old import name``
gives the very object ``from new import name`` gives. docs/public-api.md lists the table (generated from
it) and the deprecation policy: an old place stays at least one minor release after the one that
deprecated it.

No Airflow at import: shims live inside the Airflow-free core (``extract/``). The warning class is looked
up when a moved name is used (``tests/unit/test_import_contract.py`` allows exactly that lazy import), and
the new place is imported then too: it may sit in a layer above the shim, which is fine for an alias
nobody in the package uses (the contract test checks that nothing does).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DOC = "docs/public-api.md"


@dataclass(frozen=True)
class Moved:
    """``old.name`` is now ``new.name``; deprecated in ``since``, removed in ``removal`` at the earliest."""

    old: str  # the module the name was documented in
    name: str
    new: str  # the public module to import it from now
    since: str
    removal: str

    @property
    def old_path(self) -> str:
        return f"{self.old}.{self.name}"

    @property
    def new_path(self) -> str:
        return f"{self.new}.{self.name}"

    def message(self) -> str:
        return (f"{self.old_path} is deprecated since airflow-provider-genesys {self.since}: import {self.name} "
                f"from {self.new} instead (the same object). The old place goes in {self.removal} at the "
                f"earliest; see {DOC}.")


_PACKAGE = "airflow_provider_genesys"
_SINCE, _REMOVAL = "0.2.0", "0.3.0"


def _moved(old: str, new: str, *names: str) -> tuple[Moved, ...]:
    return tuple(Moved(f"{_PACKAGE}.{old}", name, f"{_PACKAGE}.{new}", _SINCE, _REMOVAL) for name in names)


MOVED: tuple[Moved, ...] = (
    # The SQL loaders left extract/ for their own package (0.1.0's docs and example DAG imported them here).
    *_moved("extract.database", "loaders", "insert_rows", "load_extracts", "replace_tables"),
    *_moved("extract.conversations_database", "loaders", "load_conversations"),
    # interval_chunks, a helper for mapped DAG tasks, was shown at the analytics plans' two homes in turn.
    *_moved("extract.analytics", "dag_helpers", "interval_chunks"),
    *_moved("extract.plans.analytics", "dag_helpers", "interval_chunks"),
)


def moved_from(module: str) -> dict[str, Moved]:
    """The names that moved away from ``module``, by name."""
    return {entry.name: entry for entry in MOVED if entry.old == module}


def warning_category() -> type[DeprecationWarning]:
    """Airflow's ``AirflowProviderDeprecationWarning`` (``airflow.exceptions`` on every supported line, 3.1 to
    3.3); plain ``DeprecationWarning`` when the core is used without Airflow installed."""
    try:
        from airflow.exceptions import AirflowProviderDeprecationWarning
    except ImportError:
        return DeprecationWarning
    return AirflowProviderDeprecationWarning


def moved_getattr(module: str) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` (PEP 562) for ``module``: moved names warn and resolve at their new place;
    any other missing name is the usual ``AttributeError``."""
    table = moved_from(module)

    def __getattr__(name: str) -> Any:
        entry = table.get(name)
        if entry is None:
            moved = f" (moved away from it and still found here: {', '.join(sorted(table))}; see {DOC})"
            raise AttributeError(f"module {module!r} has no attribute {name!r}{moved if table else ''}")
        warning = warning_category()(entry.message())
        if hasattr(warning, "deprecated_provider_since"):  # read by Airflow's tooling for provider deprecations
            warning.deprecated_provider_since = entry.since
        warnings.warn(warning, stacklevel=2)
        return getattr(importlib.import_module(entry.new), name)

    return __getattr__


def moved_dir(module: str) -> Callable[[], list[str]]:
    """A ``__dir__`` for a module that is only an old place: ``dir()`` and completion list the moved names."""
    return lambda: sorted(moved_from(module))


def markdown_table() -> str:
    """The "Deprecated places" table of docs/public-api.md (``python -m tests.docs_tables`` rewrites it)."""
    lines = ["| old place | import it from | deprecated in | removed in, at the earliest |", "|---|---|---|---|"]
    lines += [f"| `{e.old_path}` | `{e.new}` | {e.since} | {e.removal} |" for e in MOVED]
    return "\n".join(lines)
