"""The import contract of the package: the API-client core knows nothing of Airflow, the layers import
only downwards (core <- hooks <- operators, sensors, triggers), the runtime never imports the emulator,
and no modules import each other in a circle.

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
    "exceptions", "jobs", "access",
    "extract",
)
HOOKS = (  # the Airflow glue the faces stand on
    "hooks", "lineage", "_compat", "_provider_info", "data_interval", "loaders",
)
FACES = ("operators", "sensors", "triggers")  # what DAGs use; they may use each other
TESTING = "testing"  # the emulator: runtime modules never import it
LAYERS = {**dict.fromkeys(CORE, 0), **dict.fromkeys(HOOKS, 1), **dict.fromkeys(FACES, 2)}
LAYER_NAMES = ("the core", "hooks", "operators/sensors/triggers")


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


@pytest.mark.parametrize("name", [n for n in modules() if area(n) in CORE or area(n) == TESTING])
def test_core_and_emulator_import_nothing_from_airflow(name):
    airflow = sorted(t for t in imports_of(name) if t == "airflow" or t.startswith("airflow."))
    assert not airflow, f"{name} imports {airflow}: the core and the emulator must work without Airflow"


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
