"""Connections exactly as Airflow's connection form saves them, replayed through the settings parser.

``SAVED_BY_AIRFLOW_3_3`` is, byte for byte, the extra Airflow 3.3.2's form stored in tests/browser (Chromium,
"Genesys Cloud" picked, Client ID/Secret, region "EMEA (Dublin)" and the gateway fields typed, the rest left
as pre-filled; the test prints it; only the emulator's port differs): every field present, ``null`` for the
empty ones, pretty-printed. Values typed into older forms or set with the CLI arrive as strings; both must
give the same settings as the hand-written JSON.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_genesys.regions import REGIONS
from airflow_provider_genesys.settings import GenesysSettings

SAVED_BY_AIRFLOW_3_3 = (
    '{\n'
    '  "region": "eu_west_1",\n'
    '  "gateway_host": "127.0.0.1",\n'
    '  "gateway_protocol": "http",\n'
    '  "gateway_port": 43995,\n'
    '  "gateway_path_params_login": null,\n'
    '  "gateway_path_params_api": null,\n'
    '  "grant_type": "client_credentials",\n'
    '  "saml_assertion": null,\n'
    '  "org_name": null,\n'
    '  "refresh_token": null,\n'
    '  "access_token": null,\n'
    '  "max_attempts": 10,\n'
    '  "max_retry_time": 600,\n'
    '  "max_retry_wait": 180,\n'
    '  "backoff_base": 1,\n'
    '  "retry_non_idempotent": false,\n'
    '  "connect_timeout": 10,\n'
    '  "read_timeout": 60,\n'
    '  "verify_ssl": true,\n'
    '  "ca_bundle": null,\n'
    '  "client_cert": null,\n'
    '  "client_key": null,\n'
    '  "pacing": true,\n'
    '  "pool_size": 16,\n'
    '  "token_refresh_margin": null\n'
    '}'
)
HAND_WRITTEN = {"region": "eu_west_1", "gateway_host": "127.0.0.1", "gateway_protocol": "http", "gateway_port": 43995}


def settings(extra: dict) -> GenesysSettings:
    return GenesysSettings.from_connection(login="client", password="secret", extra=extra)


def test_the_extra_airflow_3_3_saves_equals_the_hand_written_connection() -> None:
    saved = settings(json.loads(SAVED_BY_AIRFLOW_3_3))
    assert saved == settings(HAND_WRITTEN)
    assert saved.region == REGIONS["eu_west_1"]
    assert saved.api_base_url == "http://127.0.0.1:43995"
    assert saved.token_refresh_margin == 300


def test_the_same_form_with_every_value_as_a_string() -> None:
    """Older forms and ``airflow connections add --conn-extra`` hand numbers and booleans over as text."""
    as_strings = {
        key: (None if value is None else str(value)) for key, value in json.loads(SAVED_BY_AIRFLOW_3_3).items()
    }
    assert as_strings["retry_non_idempotent"] == "False"
    assert as_strings["max_attempts"] == "10"
    assert settings(as_strings) == settings(HAND_WRITTEN)


def test_the_mask_a_pre_fix_form_saved_still_means_the_default() -> None:
    """What a form before fa68bb6 stored (``"***"`` for token_refresh_margin) keeps working."""
    pre_fix = {**json.loads(SAVED_BY_AIRFLOW_3_3), "token_refresh_margin": "***"}
    assert settings(pre_fix) == settings(HAND_WRITTEN)


def test_the_hook_reads_the_stored_text_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extra reaches the hook as the stored JSON text (here through an ``AIRFLOW_CONN_*`` variable)."""
    from airflow_provider_genesys.hooks.genesys import GenesysCloudHook

    connection = {"conn_type": "genesys_cloud", "login": "client", "password": "secret", "extra": SAVED_BY_AIRFLOW_3_3}
    monkeypatch.setenv("AIRFLOW_CONN_GENESYS_FROM_THE_FORM", json.dumps(connection))
    assert GenesysCloudHook(genesys_conn_id="genesys_from_the_form").settings == settings(HAND_WRITTEN)
