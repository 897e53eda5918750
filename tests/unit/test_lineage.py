"""Lineage of the extract operator: OpenLineage datasets as the OpenLineage provider reads them, and Assets."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from airflow.providers.openlineage.extractors.base import DefaultExtractor
from airflow.sdk import Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_genesys.lineage import destination_dataset, genesys_namespace
from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator
from airflow_provider_genesys.testing import GenesysCloudEmulator


@pytest.mark.parametrize(
    ("api_base_url", "namespace"),
    [
        ("https://api.mypurecloud.ie", "genesys://api.mypurecloud.ie"),
        ("https://api.edee1.eusc-pure.cloud", "genesys://api.edee1.eusc-pure.cloud"),
        ("http://127.0.0.1:8080/api", "genesys://127.0.0.1:8080"),
    ],
)
def test_input_namespace_is_the_api_host(api_base_url: str, namespace: str) -> None:
    assert genesys_namespace(api_base_url) == namespace


@pytest.mark.parametrize(
    ("uri", "dataset"),
    [
        ("file:///data/genesys/2024-05-01/users.ndjson.gz", ("file", "/data/genesys/2024-05-01/users.ndjson.gz")),
        ("s3://lake/genesys/users.ndjson", ("s3://lake", "genesys/users.ndjson")),
        ("gs://lake/genesys/roles.ndjson", ("gs://lake", "genesys/roles.ndjson")),
        ("abfs://container@account.dfs.core.windows.net/g/u.ndjson", (
            "abfs://container@account.dfs.core.windows.net", "g/u.ndjson"
        )),
    ],
)
def test_output_follows_openlineage_naming(uri: str, dataset: tuple[str, str]) -> None:
    assert destination_dataset(uri) == dataset


def test_openlineage_provider_reports_organisation_dataset_and_destination(
    genesys_emulator: GenesysCloudEmulator, tmp_path: Path
) -> None:
    """Through the provider's own extractor, as its listener calls it when the task succeeds."""
    op = GenesysCloudExtractOperator(
        task_id="roles", dataset="roles", destination="file://" + str(tmp_path) + "/{{ ds }}/roles.ndjson"
    )
    op.render_template_fields({"ds": "2024-05-01"})
    lineage = DefaultExtractor(op).extract_on_complete(mock.MagicMock())
    assert lineage is not None
    (source,) = lineage.inputs
    (target,) = lineage.outputs
    assert (source.namespace, source.name) == (
        f"genesys://{genesys_emulator.host}:{genesys_emulator.port}",
        f"{genesys_emulator.org.org_id}/roles",
    )
    assert (target.namespace, target.name) == ("file", f"{tmp_path}/2024-05-01/roles.ndjson")


def test_templated_destination_becomes_an_asset_when_written(
    genesys_emulator: GenesysCloudEmulator, tmp_path: Path
) -> None:
    """Airflow knows a templated destination only at run time: the alias receives the rendered Asset."""
    template = "file://" + str(tmp_path) + "/{{ ds }}/roles.ndjson"
    op = GenesysCloudExtractOperator(task_id="roles", dataset="roles", destination=template)
    (alias,) = op.outlets
    assert alias == AssetAlias(f"genesys-extract {template}")
    context = {"ds": "2024-05-01", "outlet_events": OutletEventAccessors()}
    op.render_template_fields(context)
    op.execute(context)
    (event,) = context["outlet_events"][alias].asset_alias_events
    assert event.dest_asset_key.uri == Asset(f"file://{tmp_path}/2024-05-01/roles.ndjson").uri


def test_static_destination_stays_a_plain_asset(genesys_emulator: GenesysCloudEmulator, tmp_path: Path) -> None:
    op = GenesysCloudExtractOperator(task_id="roles", dataset="roles", destination=f"{tmp_path}/roles.ndjson")
    assert op.outlets == [Asset(f"file://{tmp_path}/roles.ndjson")]
    context = {"outlet_events": OutletEventAccessors()}
    op.execute(context)
    assert not any(context["outlet_events"][outlet].asset_alias_events for outlet in op.outlets)
