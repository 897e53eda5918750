"""The import contract of the package: the API-client core knows nothing of Airflow, the layers import
only downwards (core <- hooks <- operators, sensors, triggers, dag_helpers), the runtime never imports the
emulator, no modules import each other in a circle, and nothing in the package imports a deprecated old
place of a moved name (``_deprecation.MOVED``: those are aliases for users' old DAGs only).

Read from the source with ``ast`` (module-level and function-level imports alike, ``TYPE_CHECKING`` ones
too), plus one subprocess that imports the core and checks that Airflow was not loaded on the way.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "airflow_provider_genesys"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE

# The API-client core (docs/architecture.md): usable without Airflow installed.
CORE = (
    "regions", "settings", "auth", "ratelimit", "retrypolicy", "intervals", "paging", "transport", "client",
    "exceptions", "jobs", "access", "_deprecation",
    "extract",
)
HOOKS = (  # the Airflow glue the faces stand on
    "hooks", "lineage", "_compat", "_provider_info", "data_interval", "loaders",
)
FACES = ("operators", "sensors", "triggers", "dag_helpers")  # what DAGs use; they may use each other
TESTING = "testing"  # the emulator: runtime modules never import it
LAYERS = {**dict.fromkeys(CORE, 0), **dict.fromkeys(HOOKS, 1), **dict.fromkeys(FACES, 2)}
LAYER_NAMES = ("the core", "hooks", "operators/sensors/triggers/dag_helpers")
# The one Airflow import the core may make, and only inside a function (never when a module is imported):
# the deprecation warning class, looked up when a user's DAG uses a moved name (docs/decisions.md, "Public
# interface"). Without Airflow installed that function falls back to DeprecationWarning.
LAZY_AIRFLOW = {f"{PACKAGE}._deprecation": {"airflow.exceptions"}}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


@cache
def imports_of(name: str) -> frozenset[str]:
    """Every module ``name`` imports: absolute names, relative imports resolved, ``from x import y`` as
    ``x.y`` when ``y`` is a module of the package."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules())
    return frozenset(found)


def own_imports(name: str) -> set[str]:
    """The package's modules ``name`` imports (the nearest known module of each import)."""
    known = modules()
    out = set()
    for target in imports_of(name):
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name and target != PACKAGE:
            out.add(target)
    return out


def area(name: str) -> str:
    """``airflow_provider_genesys.extract.plans.users`` -> ``extract``."""
    return name.split(".")[1] if "." in name else ""


def test_the_contract_names_modules_that_exist():
    """A renamed or moved core module must be renamed here too, or the contract would check nothing."""
    present = {area(name) for name in modules()}
    assert set(LAYERS) | {TESTING} <= present, sorted(set(LAYERS) - present)


def is_airflow(target: str) -> bool:
    return target == "airflow" or target.startswith("airflow.")


@cache
def module_level_imports(name: str) -> frozenset[str]:
    """The absolute imports ``name`` runs when it is imported: those outside any function or class body."""
    found: set[str] = set()
    pending = list(ast.parse(modules()[name].read_text(encoding="utf-8")).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module or "")
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    return frozenset(found)


@pytest.mark.parametrize("name", [n for n in modules() if area(n) in CORE or area(n) == TESTING])
def test_core_and_emulator_import_nothing_from_airflow(name):
    airflow = sorted(t for t in imports_of(name) if is_airflow(t) and t not in LAZY_AIRFLOW.get(name, ()))
    assert not airflow, f"{name} imports {airflow}: the core and the emulator must work without Airflow"


@pytest.mark.parametrize("name", sorted(LAZY_AIRFLOW))
def test_the_cores_one_airflow_import_waits_until_it_is_used(name):
    """The allowance above is for an import inside a function only: importing the module loads no Airflow."""
    assert LAZY_AIRFLOW[name] <= imports_of(name), f"{name} no longer imports {LAZY_AIRFLOW[name]}: drop the allowance"
    early = sorted(t for t in module_level_imports(name) if is_airflow(t))
    assert not early, f"{name} imports {early} when it is imported; the core may only do that inside a function"


def test_the_module_level_import_reader_sees_imports_inside_try_and_if(tmp_path, monkeypatch):
    """What the check above relies on: top-level imports in ``try``/``if`` blocks count, function bodies do not."""
    source = tmp_path / "probe.py"
    source.write_text("try:\n    import airflow.a\nexcept ImportError:\n    pass\nif True:\n    from airflow import b\n"
                      "def f():\n    import airflow.c\n", encoding="utf-8")
    monkeypatch.setitem(modules(), "probe", source)
    module_level_imports.cache_clear()
    try:
        assert module_level_imports("probe") == {"airflow.a", "airflow"}
    finally:
        module_level_imports.cache_clear()


def named_imports(name: str) -> set[str]:
    """``x.y`` for every ``from x import y`` of ``name`` (absolute), modules or not."""
    tree = ast.parse(modules()[name].read_text(encoding="utf-8"))
    return {f"{node.module}.{alias.name}" for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and not node.level for alias in node.names}


def pure_shims() -> set[str]:
    """Old places that are nothing but aliases (every name in them moved): no code of the package may import
    them. Read from ``_deprecation.MOVED``, the one table of moved names."""
    from airflow_provider_genesys._deprecation import MOVED

    shims = set()
    for old in {entry.old for entry in MOVED}:
        body = ast.parse(modules()[old].read_text(encoding="utf-8")).body
        if not any(isinstance(node, (ast.FunctionDef, ast.ClassDef)) for node in body):
            shims.add(old)
    return shims


def test_nothing_in_the_package_uses_a_deprecated_place():
    """A deprecated place is for users' old DAGs: the package imports every moved name from where it lives
    (else the package itself would warn, and the alias could never be removed)."""
    from airflow_provider_genesys._deprecation import MOVED

    moved = {entry.old_path for entry in MOVED}
    shims = pure_shims()
    wrong = [f"{name} imports {target}" for name in modules() for target in imports_of(name) | named_imports(name)
             if target in moved or (target in shims and target != name)]
    assert not wrong, "\n".join(wrong)
    assert shims == {f"{PACKAGE}.extract.{old}" for old in ("analytics", "database", "conversations_database")}


def test_layers_import_only_downwards():
    wrong = []
    for name in modules():
        if area(name) not in LAYERS:
            continue
        for target in own_imports(name):
            if area(target) in LAYERS and LAYERS[area(target)] > LAYERS[area(name)]:
                wrong.append(f"{name} ({LAYER_NAMES[LAYERS[area(name)]]}) imports {target} "
                             f"({LAYER_NAMES[LAYERS[area(target)]]})")
    assert not wrong, "\n".join(wrong)


def test_runtime_modules_never_import_the_emulator():
    wrong = [f"{name} imports {target}" for name in modules() if area(name) != TESTING
             for target in own_imports(name) if area(target) == TESTING]
    assert not wrong, "\n".join(wrong)


def test_the_emulator_imports_nothing_else_of_the_package():
    """It stands for Genesys, so it cannot share code (and mistakes) with the client it tests."""
    wrong = [f"{name} imports {target}" for name in modules() if area(name) == TESTING
             for target in own_imports(name) if area(target) != TESTING]
    assert not wrong, "\n".join(wrong)


def circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan); a package importing its own
    children (re-exports) does not count."""
    graph = {m: {t for t in own_imports(m) if not t.startswith(m + ".")} for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    assert circles() == [], "import circles: " + "; ".join(" <-> ".join(c) for c in circles())


def test_the_circle_check_finds_a_circle(monkeypatch):
    """The check itself can fail: two modules importing each other are reported."""
    a, b = f"{PACKAGE}.regions", f"{PACKAGE}.settings"
    real = own_imports
    monkeypatch.setattr(sys.modules[__name__], "own_imports",
                        lambda name: real(name) | ({b} if name == a else {a} if name == b else set()))
    assert sorted([a, b]) in circles()


def test_importing_the_core_and_the_emulator_does_not_load_airflow():
    names = [n for n in modules() if area(n) in (*CORE, TESTING)]
    code = "import sys\n" + "".join(f"import {n}\n" for n in names) + (
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
