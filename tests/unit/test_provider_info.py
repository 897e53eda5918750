"""Provider registration and the connection form: what Airflow and its UI read from this package."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_genesys import get_provider_info
from airflow_provider_genesys._provider_info import AIRFLOW_SENSITIVE_NAMES, CONN_FIELDS, masked_by_airflow
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
from airflow_provider_genesys.regions import REGIONS
from airflow_provider_genesys.settings import EXTRA_KEYS, GRANT_TYPES, SECRET_EXTRAS, GenesysSettings

HOOK_CLASS = "airflow_provider_genesys.hooks.genesys.GenesysCloudHook"
AIRFLOW_DIR = Path(airflow.__file__).parent
DOCS = Path(__file__).resolve().parents[2] / "docs" / "connection.md"


@pytest.fixture(scope="module")
def connection_type() -> dict:
    (entry,) = get_provider_info()["connection-types"]
    return entry


def _airflow_cli(*args: str) -> list[dict]:
    """Run the real `airflow` CLI in the suite's private AIRFLOW_HOME and parse its JSON output."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args, "-o", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=180,
        check=True,
    )
    # Start-up log lines may precede the JSON document, which is printed last.
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # starts the airflow CLI
def test_airflow_cli_lists_the_connection_type_with_its_hook() -> None:
    """`airflow providers hooks` imports the hook through the entry point: registration end to end."""
    hooks = {row["connection_type"]: row for row in _airflow_cli("providers", "hooks")}
    assert hooks["genesys_cloud"] == {
        "connection_type": "genesys_cloud",
        "class": HOOK_CLASS,
        "conn_id_attribute_name": "genesys_conn_id",
        "package_name": "airflow-provider-genesys",
        "hook_name": "Genesys Cloud",
    }


def test_provider_info_matches_airflow_schemas(connection_type: dict) -> None:
    info = get_provider_info()
    jsonschema.validate(info, json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text()))
    yaml_schema = json.loads((AIRFLOW_DIR / "provider.yaml.schema.json").read_text())
    jsonschema.validate(connection_type, yaml_schema["properties"]["connection-types"]["items"])
    assert connection_type["connection-type"] == GenesysCloudHook.conn_type
    assert connection_type["hook-class-name"] == HOOK_CLASS
    assert connection_type["hook-name"] == GenesysCloudHook.hook_name
    access = {"operators": ["airflow_provider_genesys.operators.access", "airflow_provider_genesys.operators.review"],
              "sensors": ["airflow_provider_genesys.sensors.access"]}
    for role in ("hooks", "operators", "sensors", "triggers"):
        (modules,) = info[role]
        assert modules["python-modules"] == [f"airflow_provider_genesys.{role}.genesys", *access.get(role, [])]
        for module in modules["python-modules"]:
            importlib.import_module(module)


def test_every_settable_extra_key_has_a_form_field(connection_type: dict) -> None:
    fields = connection_type["conn-fields"]
    # proxies is a mapping: it has no form field and is typed into the visible Extra box instead.
    assert set(fields) == set(EXTRA_KEYS) - {"proxies"}
    assert "extra" not in connection_type["ui-field-behaviour"]["hidden-fields"]
    assert fields["region"]["schema"]["enum"] == list(REGIONS)
    assert len(fields["region"]["schema"]["enum"]) == 18
    assert fields["grant_type"]["schema"]["enum"] == list(GRANT_TYPES)
    masked = {key for key, field in fields.items() if field["schema"].get("format") == "password"}
    assert masked == set(SECRET_EXTRAS)


def test_form_defaults_are_the_core_defaults() -> None:
    """The UI pre-fills and saves these defaults: they must not change behaviour."""
    plain = GenesysSettings.from_connection(login="id", password="secret", extra={})
    declared = [field for field in CONN_FIELDS if field.default is not None]
    assert declared
    for field in declared:
        settings = GenesysSettings.from_connection(
            login="id", password="secret", extra={field.key: field.default}
        )
        assert settings == plain, field.key


def test_sensitive_names_are_airflows() -> None:
    """Our copy of the names Airflow masks must cover the installed Airflow's, or the form check below lies.

    Ours is the union over the declared lines: Airflow 3.1 masks fewer names than 3.2 and 3.3 (which added
    ``auth_header``, ``bearer``, ``dsn``, ``proxy_password``, ``service_key`` and ``webhook_url``).
    """
    try:
        from airflow._shared.secrets_masker import DEFAULT_SENSITIVE_FIELDS
    except ImportError:  # Airflow < 3.1
        from airflow.utils.log.secrets_masker import DEFAULT_SENSITIVE_FIELDS
    assert frozenset(DEFAULT_SENSITIVE_FIELDS) <= AIRFLOW_SENSITIVE_NAMES
    assert "webhook_url" in AIRFLOW_SENSITIVE_NAMES  # the 3.2+ additions stay: a user may run any declared line
    assert masked_by_airflow("token_refresh_margin")
    assert masked_by_airflow("token_pool_size")
    assert not masked_by_airflow("max_attempts")


def test_a_connection_saved_from_the_form_with_its_defaults_works() -> None:
    """What the UI pre-fills (Airflow's hook metadata, after Airflow redacts it) saved as is: the core defaults.

    Airflow shows a field whose key contains "token" (or "secret", "proxies", ...) as ``***``, including the
    default it pre-fills, and a new connection is then saved with ``"***"`` as that value.
    """
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "genesys_cloud"]
    prefilled = {key: spec["value"] for key, spec in meta.extra_fields.items() if spec.get("value") is not None}
    assert prefilled, "the form pre-fills defaults"
    assert "***" not in prefilled.values()
    saved = GenesysSettings.from_connection(login="id", password="secret", extra=prefilled)
    assert saved == GenesysSettings.from_connection(login="id", password="secret", extra={})


def test_standard_fields_relabelled_and_unused_ones_hidden(connection_type: dict) -> None:
    behaviour = connection_type["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"login": "Client ID", "password": "Client Secret"}
    assert set(behaviour["hidden-fields"]) == {"host", "schema", "port"}
    legacy = GenesysCloudHook.get_ui_field_behaviour()
    assert legacy == {
        "hidden_fields": behaviour["hidden-fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"],
    }
    schema = json.loads((AIRFLOW_DIR / "customized_form_field_behaviours.schema.json").read_text())
    jsonschema.validate(legacy, schema)


def _fake_form_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-ins for wtforms / flask_babel / flask_appbuilder, which Airflow 3 no longer ships."""

    class Field:
        def __init__(self, label: str, widget: object = None, **kwargs: object) -> None:
            self.label, self.widget, self.kwargs = label, widget, kwargs

    wtforms = types.ModuleType("wtforms")
    for name in ("StringField", "PasswordField", "IntegerField", "BooleanField"):
        setattr(wtforms, name, type(name, (Field,), {}))
    babel = types.ModuleType("flask_babel")
    babel.lazy_gettext = str
    fab = types.ModuleType("flask_appbuilder")
    widgets = types.ModuleType("flask_appbuilder.fieldwidgets")
    widgets.BS3TextFieldWidget = type("BS3TextFieldWidget", (), {})
    widgets.BS3PasswordFieldWidget = type("BS3PasswordFieldWidget", (), {})
    for name, module in {
        "wtforms": wtforms,
        "flask_babel": babel,
        "flask_appbuilder": fab,
        "flask_appbuilder.fieldwidgets": widgets,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)


def test_legacy_widgets_cover_conn_fields(monkeypatch: pytest.MonkeyPatch, connection_type: dict) -> None:
    _fake_form_libraries(monkeypatch)
    widgets = GenesysCloudHook.get_connection_form_widgets()
    assert set(connection_type["conn-fields"]) <= set(widgets)
    kinds = {key: type(widget).__name__ for key, widget in widgets.items()}
    assert {key for key, kind in kinds.items() if kind == "PasswordField"} == set(SECRET_EXTRAS)
    assert kinds["max_attempts"] == "IntegerField"
    assert kinds["pacing"] == "BooleanField"
    assert widgets["region"].label == "Region"
    assert "eusc_de_east_1" in widgets["region"].kwargs["description"]
    assert widgets["max_attempts"].kwargs["default"] == 10
    assert widgets["token_refresh_margin"].kwargs["default"] is None  # Airflow would mask it: see above


def test_legacy_widgets_absent_without_form_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wtforms", None)  # makes the import fail
    assert GenesysCloudHook.get_connection_form_widgets() == {}


def test_connection_doc_covers_every_key_and_region() -> None:
    text = DOCS.read_text()
    missing = [key for key in (*EXTRA_KEYS, *REGIONS) if f"`{key}`" not in text]
    assert not missing
    for region in REGIONS.values():
        assert region.api_base_url in text
