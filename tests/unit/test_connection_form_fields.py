"""The connection form as Airflow 3.2+ renders it: Genesys' region names, short help, visible examples."""

from __future__ import annotations

from airflow_provider_genesys import get_provider_info
from airflow_provider_genesys._provider_info import CONN_FIELDS
from airflow_provider_genesys.regions import REGION_LABELS, REGIONS


def conn_fields() -> dict[str, dict]:
    (connection_type,) = get_provider_info()["connection-types"]
    return connection_type["conn-fields"]


def test_every_region_has_genesys_name_in_the_picker_and_the_id_is_stored() -> None:
    assert set(REGION_LABELS) == set(REGIONS)
    schema = conn_fields()["region"]["schema"]
    assert schema["enum"] == list(REGIONS)  # what is stored
    assert schema["values_display"]["eu_west_1"] == "EMEA (Dublin) · mypurecloud.ie"
    assert schema["values_display"]["us_east_1"] == "Americas (US East) · mypurecloud.com"
    assert set(schema["values_display"]) == set(REGIONS)


def test_every_picker_labels_every_choice() -> None:
    for key, field in conn_fields().items():
        if "enum" in field["schema"]:
            assert set(field["schema"]["values_display"]) == set(field["schema"]["enum"]), key


def test_help_texts_are_short_and_list_no_values() -> None:
    for key, field in conn_fields().items():
        assert "One of:" not in field["description"], key
        assert len(field["description"]) <= 120, key


def test_string_fields_offer_their_example_where_airflow_3_shows_it() -> None:
    """Airflow 3's form ignores ``placeholders`` for extra fields; it suggests a string field's ``examples``."""
    fields = conn_fields()
    assert fields["gateway_host"]["schema"]["examples"] == ["gateway.example.com"]
    assert fields["gateway_path_params_api"]["schema"]["examples"] == ["/api"]
    for field in CONN_FIELDS:
        if field.example is not None and field.kind == "string":
            assert fields[field.key]["schema"]["examples"] == [field.example], field.key
