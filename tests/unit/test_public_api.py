"""The public interface users build on (docs/public-api.md) holds: what the docs tell users to import imports,
the declared surface and the code agree, and old places of moved names still work, with a warning.

A user's DAG written against any page of the docs or an example DAG must import after an upgrade; this
reads every ``from airflow_provider_genesys... import ...`` of the README, README-pypi, ``docs/*.md`` and the
example DAGs, and every dotted ``airflow_provider_genesys.x.y`` name they mention, and imports it.
"""

from __future__ import annotations

import ast
import importlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys._deprecation import MOVED, Moved, moved_from

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_genesys"
PUBLIC_DOC = "docs/public-api.md"
DOCS = ["README.md", "README-pypi.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
DAGS = sorted(f"dags_examples/{p.name}" for p in (ROOT / "dags_examples").glob("*.py"))
# Only the page that lists the deprecated places may name them.
MAY_NAME_OLD_PLACES = {PUBLIC_DOC}


@dataclass(frozen=True)
class Reference:
    """One name a doc points users at: ``module`` and ``name`` (None: the module itself), where it was seen."""

    file: str
    line: int
    module: str
    name: str | None

    def __str__(self) -> str:
        what = f"from {self.module} import {self.name}" if self.name else self.module
        return f"{self.file}:{self.line}: {what}"


# -- reading the docs ------------------------------------------------------------------------------------
FROM_IMPORT = re.compile(rf"^\s*(?:>>>\s*)?from\s+({PACKAGE}(?:\.\w+)*)\s+import\s+(.*)$")
PLAIN_IMPORT = re.compile(rf"\bimport\s+({PACKAGE}(?:\.\w+)*)")
DOTTED = re.compile(rf"\b{PACKAGE}(?:\.[A-Za-z_]\w*)+")


def _names(text: str) -> list[str]:
    """``a, b as c, (d,`` -> ``[a, b, d]`` (comments and parentheses dropped)."""
    text = text.split("#", 1)[0].replace("(", " ").replace(")", " ")
    return [part.split()[0] for part in text.split(",") if part.strip()]


def markdown_imports(path: str, text: str) -> Iterator[Reference]:
    """Every import of the package in a Markdown page, code blocks and prose alike, parenthesised ones too."""
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        match = FROM_IMPORT.match(line)
        if match:
            module, rest = match.groups()
            if "(" in rest.split("#", 1)[0] and ")" not in rest:
                follow = number
                while ")" not in rest.split("#", 1)[0] and follow < len(lines):
                    rest += " " + lines[follow].split("#", 1)[0]
                    follow += 1
            for name in _names(rest):
                yield Reference(path, number, module, name)
        elif "from " not in line:
            for module in PLAIN_IMPORT.findall(line):
                yield Reference(path, number, module, None)


def python_imports(path: str, text: str) -> Iterator[Reference]:
    for node in ast.walk(ast.parse(text, path)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE) and not node.level:
            for alias in node.names:
                yield Reference(path, node.lineno, node.module or "", alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE):
                    yield Reference(path, node.lineno, alias.name, None)


def dotted_names(path: str, text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        for dotted in DOTTED.findall(line):
            yield number, dotted


def imports_in(path: str) -> list[Reference]:
    text = (ROOT / path).read_text(encoding="utf-8")
    return list((python_imports if path.endswith(".py") else markdown_imports)(path, text))


# -- resolving ---------------------------------------------------------------------------------------------
def resolve(module: str, name: str | None) -> tuple[Any, list[warnings.WarningMessage]]:
    """The object, and the warnings importing it gave (each import counts: the module may be loaded already)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = importlib.import_module(module)
        if name is not None:
            found = getattr(found, name)
    return found, [w for w in caught if issubclass(w.category, DeprecationWarning)]


def resolve_dotted(dotted: str) -> tuple[Any, list[warnings.WarningMessage]]:
    """``a.b.c.Name``: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            found, caught = resolve(module, None)
        except ModuleNotFoundError:
            continue
        with warnings.catch_warnings(record=True) as more:
            warnings.simplefilter("always")
            for attribute in parts[cut:]:
                found = getattr(found, attribute)
        return found, caught + [w for w in more if issubclass(w.category, DeprecationWarning)]
    raise ModuleNotFoundError(dotted)


def problem(reference: Reference, public: dict[str, list[str]]) -> str | None:
    """What is wrong with a doc's import, or None."""
    try:
        _, caught = resolve(reference.module, reference.name)
    except (ImportError, AttributeError) as err:
        return f"{reference} does not import: {type(err).__name__}: {err}"
    if caught and reference.file not in MAY_NAME_OLD_PLACES:
        return f"{reference} warns: {caught[0].message}"
    if reference.name is not None and reference.name not in public.get(reference.module, ()):
        return f"{reference} is not in the public interface ({PUBLIC_DOC}): show a public place, or declare it there"
    return None


# -- the declaration: docs/public-api.md -------------------------------------------------------------------
def table(marker: str) -> list[list[list[str]]]:
    """The rows of the table between ``<!-- marker -->`` and ``<!-- end marker -->``: each cell's `code` items."""
    text = (ROOT / PUBLIC_DOC).read_text(encoding="utf-8")
    block = re.search(rf"<!-- {marker} -->(.*?)<!-- end {marker} -->", text, re.DOTALL)
    assert block, f"{PUBLIC_DOC} has no <!-- {marker} --> ... <!-- end {marker} --> table"
    rows = [line for line in block.group(1).strip().splitlines()[2:] if line.startswith("|")]
    return [[re.findall(r"`([^`]+)`", cell) for cell in row.strip("|").split("|")] for row in rows]


def public_surface() -> dict[str, list[str]]:
    return {row[0][0]: row[1] for row in table("public surface")}


def earlier_places() -> list[tuple[str, str]]:
    return [(row[0][0], row[1][0]) for row in table("earlier places")]


# -- the docs' imports ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", DOCS + DAGS)
def test_every_import_the_docs_show_imports_a_public_name(path: str) -> None:
    public = public_surface()
    wrong = [p for reference in imports_in(path) if (p := problem(reference, public))]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", DOCS + DAGS)
def test_every_dotted_name_the_docs_mention_exists(path: str) -> None:
    wrong = []
    for number, dotted in dotted_names(path, (ROOT / path).read_text(encoding="utf-8")):
        try:
            _, caught = resolve_dotted(dotted)
        except (ImportError, AttributeError) as err:
            wrong.append(f"{path}:{number}: {dotted} does not exist ({type(err).__name__}: {err})")
            continue
        if caught and path not in MAY_NAME_OLD_PLACES:
            wrong.append(f"{path}:{number}: {dotted} is a deprecated place: {caught[0].message}")
    assert not wrong, "\n".join(wrong)


def test_the_docs_and_example_dags_are_read(tmp_path: Path) -> None:
    """The readers see what the docs hold: multi-line imports, prose, DAG files; without this the checks above
    could pass on nothing."""
    seen = {(r.module, r.name) for path in DOCS + DAGS for r in imports_in(path)}
    assert (f"{PACKAGE}.dag_helpers", "interval_chunks") in seen  # docs/operators.md and an example DAG
    assert (f"{PACKAGE}.operators.genesys", "GenesysCloudAuditQueryOperator") in seen  # a (...) import
    assert (f"{PACKAGE}.sensors.access", "GenesysAccessVerifySensor") in seen  # an example DAG
    page = "text\n    from airflow_provider_genesys.operators.genesys import (\n        A,  # a\n        B,\n    )\n"
    assert [(r.line, r.name) for r in markdown_imports("x.md", page)] == [(2, "A"), (2, "B")]


def test_a_doc_showing_a_missing_old_or_internal_name_fails_naming_file_and_line() -> None:
    public = public_surface()
    gone = Reference("docs/x.md", 7, f"{PACKAGE}.extract.plans.analytics", "no_such_helper")
    old = Reference("docs/x.md", 8, f"{PACKAGE}.extract.analytics", "interval_chunks")
    internal = Reference("docs/x.md", 9, f"{PACKAGE}.extract.plans", "PLANS")
    assert problem(gone, public).startswith("docs/x.md:7: from airflow_provider_genesys.extract.plans.analytics "
                                            "import no_such_helper does not import")
    assert problem(old, public).startswith("docs/x.md:8: from airflow_provider_genesys.extract.analytics import "
                                           "interval_chunks warns: ")
    assert "not in the public interface" in problem(internal, public)
    assert problem(Reference("docs/x.md", 10, f"{PACKAGE}.dag_helpers", "interval_chunks"), public) is None


# -- the declaration and the code --------------------------------------------------------------------------
@pytest.mark.parametrize("module", sorted(public_surface()))
def test_each_declared_name_imports_without_a_warning_and_matches___all__(module: str) -> None:
    names = public_surface()[module]
    for name in names:
        _, caught = resolve(module, name)
        assert not caught, f"{module}.{name} warns: {caught[0].message}"
    declared_all = getattr(importlib.import_module(module), "__all__", None)
    if declared_all is not None:
        assert sorted(names) == sorted(declared_all), f"{PUBLIC_DOC} and {module}.__all__ disagree"


def test_the_declared_surface_holds_what_users_use() -> None:
    """A guard on the parser: the table is read whole, and the helper module DAGs need is in it."""
    public = public_surface()
    assert len(public) >= 15
    assert public[f"{PACKAGE}.dag_helpers"] == ["resolve_data_interval", "interval_chunks", "parse_interval",
                                                 "AtomicNdjsonWriter"]


@pytest.mark.parametrize(("earlier", "public"), earlier_places())
def test_earlier_places_give_the_public_object_without_a_warning(earlier: str, public: str) -> None:
    old, old_warnings = resolve_dotted(earlier)
    new, _ = resolve_dotted(public)
    assert old is new
    assert not old_warnings


# -- deprecated places ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", MOVED, ids=lambda e: e.old_path)
def test_an_old_place_warns_with_the_new_place_and_gives_the_same_object(entry: Moved) -> None:
    from airflow.exceptions import AirflowProviderDeprecationWarning

    module = importlib.import_module(entry.old)
    with pytest.warns(AirflowProviderDeprecationWarning, match=re.escape(f"from {entry.new} instead")) as caught:
        old = getattr(module, entry.name)
    assert old is getattr(importlib.import_module(entry.new), entry.name)
    assert entry.old_path in str(caught[0].message)
    assert caught[0].message.deprecated_provider_since == entry.since


@pytest.mark.parametrize("old", ["extract.analytics", "extract.database", "extract.conversations_database"])
def test_a_module_that_is_only_an_old_place_lists_its_moved_names(old: str) -> None:
    module = f"{PACKAGE}.{old}"
    assert dir(importlib.import_module(module)) == sorted(moved_from(module)) != []


def test_the_warning_points_at_the_users_line() -> None:
    """``from old import name`` warns at the DAG's own line (not inside the package or importlib), so Airflow's
    DAG warnings and pytest show where to change the import."""
    from airflow.exceptions import AirflowProviderDeprecationWarning

    with pytest.warns(AirflowProviderDeprecationWarning) as caught:
        from airflow_provider_genesys.extract.analytics import interval_chunks  # noqa: F401
    assert caught[0].filename == __file__


def test_an_unknown_name_at_an_old_place_is_a_plain_attribute_error() -> None:
    module = importlib.import_module(f"{PACKAGE}.extract.database")
    with pytest.raises(AttributeError, match=r"no attribute 'load_users' .*still found here: insert_rows, "
                                             r"load_extracts, replace_tables"):
        module.load_users  # noqa: B018
    with pytest.raises(ImportError):
        exec(f"from {PACKAGE}.extract.plans.analytics import load_users")


@pytest.mark.parametrize("entry", MOVED, ids=lambda e: e.old_path)
def test_old_places_lead_to_public_names(entry: Moved) -> None:
    assert entry.name in public_surface()[entry.new], f"{entry.new_path} is not declared public in {PUBLIC_DOC}"
    assert moved_from(entry.old)[entry.name] is entry


def test_the_changelog_lists_each_deprecated_place_under_deprecated() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    for entry in MOVED:
        release = re.search(rf"^## (?:Unreleased|{re.escape(entry.since)})\n(.*?)(?=^## )", text, re.M | re.S)
        assert release, f"CHANGELOG.md has no section for {entry.since} (or Unreleased)"
        deprecated = re.search(r"^### Deprecated\n(.*?)(?=^### |\Z)", release.group(1), re.M | re.S)
        assert deprecated, f"CHANGELOG.md's {entry.since} section has no ### Deprecated"
        assert f"`{entry.old_path}`" in deprecated.group(1), f"### Deprecated does not list `{entry.old_path}`"
