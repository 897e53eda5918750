"""GenesysCloudAuditQueryOperator: a validated, templated submit that returns the transaction id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
from airflow_provider_genesys.operators.audit import GenesysCloudAuditQueryOperator
from airflow_provider_genesys.testing import GenesysCloudEmulator

INTERVAL = "2020-01-01T00:00:00Z/2030-01-01T00:00:00Z"


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=20, job_seconds=0) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", json.dumps(emulator.connection_dict()))
        yield emulator


def test_submits_and_returns_the_transaction_id(emu: GenesysCloudEmulator) -> None:
    op = GenesysCloudAuditQueryOperator(
        task_id="submit",
        service_name="PeoplePermissions",
        interval=INTERVAL,
        filters=[{"property": "EntityType", "value": "Role"}],
        sort=[{"name": "Timestamp", "sortOrder": "ascending"}],
    )
    job_id = op.execute({})
    status = GenesysCloudHook().request("GET", f"/api/v2/audits/query/{job_id}")
    assert status["serviceName"] == "PeoplePermissions"
    assert status["interval"] == "2020-01-01T00:00:00.000Z/2030-01-01T00:00:00.000Z"  # UTC, as intervals.py writes it
    assert status["filters"] == [{"property": "EntityType", "value": "Role"}]
    assert status["sort"] == [{"name": "Timestamp", "sortOrder": "ascending"}]
    assert emu.stats.by_path["POST /api/v2/audits/query"] == 1


def test_default_interval_is_the_data_interval() -> None:
    op = GenesysCloudAuditQueryOperator(task_id="submit", service_name="{{ params.service }}")
    context = {
        "params": {"service": "PeoplePermissions"},
        "data_interval_start": datetime(2025, 4, 1, tzinfo=timezone.utc),
        "data_interval_end": datetime(2025, 4, 2, tzinfo=timezone.utc),
    }
    op.render_template_fields(context)
    assert op.build_body(context) == {
        "interval": "2025-04-01T00:00:00.000Z/2025-04-02T00:00:00.000Z",
        "serviceName": "PeoplePermissions",
    }


@pytest.mark.parametrize(
    ("interval", "match"),
    [
        ("None/None", "not an ISO-8601 interval 'start/end'"),
        ("2025-04-01T00:00:00Z", "not an ISO-8601 interval 'start/end'"),
        ("2025-04-01T00:00:00/2025-04-02T00:00:00", "has no time zone"),
        ("2025-04-02T00:00:00Z/2025-04-01T00:00:00Z", "before it starts"),
    ],
)
def test_bad_interval_fails_before_any_request(interval: str, match: str) -> None:
    op = GenesysCloudAuditQueryOperator(task_id="submit", service_name="Directory", interval=interval)
    with pytest.raises(AirflowFailException, match=match):
        op.execute({})  # no connection configured: it never got that far


def test_api_rejection_fails_without_retries(emu: GenesysCloudEmulator) -> None:
    op = GenesysCloudAuditQueryOperator(task_id="submit", service_name=" ", interval=INTERVAL)
    with pytest.raises(AirflowFailException, match="service_name is required"):
        op.execute({})
    emu.faults.status(400, count=1, path=r"^/api/v2/audits/query$")
    op = GenesysCloudAuditQueryOperator(task_id="submit", service_name="Directory", interval=INTERVAL)
    with pytest.raises(AirflowFailException, match="POST /api/v2/audits/query failed: 400"):
        op.execute({})
