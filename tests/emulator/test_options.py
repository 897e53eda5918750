"""Each emulator option is declared once (testing/options.py): the docs table and the constructor follow
it (the command: test_cli_and_plugin.py), values it does not accept are refused, and every API area is
registered once."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator, areas
from airflow_provider_genesys.testing.options import (
    TABLE_END,
    TABLE_START,
    option_fields,
    options_table,
    rewrite,
    table_in,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"


def test_docs_options_table_is_the_declaration():
    documented = table_in(DOCS.read_text(encoding="utf-8"))
    assert documented is not None, f"docs/emulator.md lost its {TABLE_START} ... {TABLE_END} markers"
    assert documented == options_table(), (
        "docs/emulator.md's options table differs from testing/options.py: run "
        "`python -m airflow_provider_genesys.testing.options docs/emulator.md`"
    )


def test_where_genesys_publishes_nothing_lists_each_choice_option_with_its_values():
    """The second table of docs/emulator.md explains each value; it names the same values and default."""
    doc = DOCS.read_text(encoding="utf-8").split("### Where Genesys publishes nothing", 1)[1].split("\n#", 1)[0]
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in doc.splitlines() if line.startswith("| `")]
    documented = {row[0].strip("`"): row[1] for row in rows}
    declared = {spec.name: spec for spec in option_fields() if spec.metadata["choices"]}
    for name in ("wildcard_grants", "users_cap", "users_query", "expand", "oauth_clients_listing"):
        values = documented[name]
        assert set(re.findall(r"`([^`]+)`", values)) == set(declared[name].metadata["choices"]), name
        assert f"`{declared[name].default}` (default)" in values, name


def test_the_rewrite_command_replaces_only_the_table(tmp_path):
    doc = tmp_path / "emulator.md"
    doc.write_text(f"before\n{TABLE_START}\n| stale |\n{TABLE_END}\nafter\n", encoding="utf-8")
    assert rewrite(doc) is True
    assert doc.read_text(encoding="utf-8") == f"before\n{TABLE_START}\n{options_table()}\n{TABLE_END}\nafter\n"
    assert rewrite(doc) is False


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wildcard_grants": "403"}, "wildcard_grants must be one of grants, empty, 400, 404; got '403'"),
        ({"users_cap": "some"}, "users_cap must be one of inactive, all"),
        ({"queues": 0}, "queues must be >= 1; got 0"),
        ({"latency_ms": -1}, "latency_ms must be >= 0"),
        ({"analytics_max_jobs": 0}, "analytics_max_jobs must be >= 1"),
        ({"client_secret": ""}, "client_secret must be a non-empty string"),
    ],
)
def test_a_value_the_declaration_refuses_names_the_option(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GenesysCloudEmulator(**options)


def test_an_unknown_option_name_is_a_type_error():
    with pytest.raises(TypeError, match="unknown options wildcard_grant"):
        GenesysCloudEmulator(wildcard_grant="empty")


def test_optional_limits_accept_none_and_floats_accept_ints():
    emu = GenesysCloudEmulator(analytics_max_jobs=None, rate_window=30)
    assert emu.settings.analytics_max_jobs is None
    assert emu.settings.rate_window == 30.0
    assert isinstance(emu.settings.rate_window, float)


def test_every_area_module_is_registered_once_and_no_route_is_served_twice():
    """A module under testing/areas/ with an ``...Api`` class is in AREAS: an area cannot be forgotten."""
    shared = {"calls", "router"}
    modules = {m.name for m in pkgutil.iter_modules(areas.__path__)} - shared
    registered = {area.__module__.rsplit(".", 1)[1] for area in areas.AREAS}
    assert registered == modules
    assert len(set(areas.AREAS)) == len(areas.AREAS)
    with GenesysCloudEmulator(users=5) as emu:
        routes = [(method, name) for method, _, name, _ in emu._backend.router.routes]
    assert len(routes) == len(set(routes)), sorted(r for r in routes if routes.count(r) > 1)
