"""GenesysCloudApiOperator against the emulator: templating, XCom value, size guard, failure messages."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.operators.genesys import GenesysCloudApiOperator
from airflow_provider_genesys.testing import GenesysCloudEmulator


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=150, seed=21) as emulator:
        conn = emulator.connection_dict(max_retry_wait=0, max_attempts=2)
        monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", json.dumps(conn))
        yield emulator


def run(op: GenesysCloudApiOperator, **context):
    op.render_template_fields(context)
    return op.execute(context)


def test_get_returns_the_body(emu: GenesysCloudEmulator) -> None:
    op = GenesysCloudApiOperator(task_id="org", endpoint="/api/v2/organizations/me")
    assert run(op) == emu.org.organization


def test_templated_endpoint_params_and_body(emu: GenesysCloudEmulator) -> None:
    user_id = emu.org.user_ids("active")[0]
    get = GenesysCloudApiOperator(
        task_id="user", endpoint="/api/v2/users/{{ params.user }}", query_params={"expand": "{{ params.x }}"}
    )
    user = run(get, params={"user": user_id, "x": "employerInfo"})
    assert (user["id"], "employerInfo" in user) == (user_id, True)

    post = GenesysCloudApiOperator(
        task_id="audit",
        method="{{ params.method }}",
        endpoint="/api/v2/audits/query",
        body={"interval": "{{ params.interval }}", "serviceName": "PeoplePermissions"},
    )
    job = run(post, params={"method": "post", "interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"})
    assert job["state"] == "Queued"
    assert emu.stats.snapshot()["by_path"]["POST /api/v2/audits/query"] == 1


def test_paginate_collects_every_entity(emu: GenesysCloudEmulator) -> None:
    op = GenesysCloudApiOperator(task_id="divs", endpoint="/api/v2/authorization/divisions", paginate=True)
    assert run(op) == emu.org.divisions


def test_size_guard_points_to_the_extract_operator(emu: GenesysCloudEmulator) -> None:
    op = GenesysCloudApiOperator(task_id="u", endpoint="/api/v2/users", max_xcom_bytes=10_000, paginate=True,
                                 query_params={"pageSize": 25})
    with pytest.raises(AirflowFailException, match=r"max_xcom_bytes \(10,000 bytes\).*ExtractOperator"):
        run(op)
    # it stopped paging once over the limit instead of reading all 6 pages first
    assert emu.stats.snapshot()["by_path"]["GET /api/v2/users"] < 3


def test_not_found_fails_fast_with_code_and_correlation_id(emu: GenesysCloudEmulator) -> None:
    op = GenesysCloudApiOperator(task_id="missing", endpoint="/api/v2/users/no-such-user")
    with pytest.raises(AirflowFailException, match=r"404 not\.found: .*correlation id \S+"):
        run(op)
    assert emu.stats.snapshot()["by_status"][404] == 1  # no retry


def test_retryable_errors_propagate_for_task_retries(emu: GenesysCloudEmulator) -> None:
    emu.faults.status(503, count=None, path=r"^/api/v2/organizations/me$")
    op = GenesysCloudApiOperator(task_id="org", endpoint="/api/v2/organizations/me")
    with pytest.raises(GenesysCloudApiError) as caught:
        run(op)
    assert not isinstance(caught.value, AirflowFailException)
    assert caught.value.status == 503


def test_a_write_that_may_have_been_processed_fails_at_once_saying_so(emu: GenesysCloudEmulator) -> None:
    """The connection drops after the server read the POST: it is not sent again, by the client or by Airflow."""
    audits = r"^/api/v2/audits/query$"
    body = {"interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "serviceName": "PeoplePermissions"}
    emu.faults.drop(count=1, path=audits)
    write = GenesysCloudApiOperator(task_id="w", method="POST", endpoint="/api/v2/audits/query", body=body)
    with pytest.raises(AirflowFailException, match=r"outcome is unknown: check \(read back\) what it changes"):
        run(write)
    assert not emu.faults.pending
    assert emu.stats.snapshot()["by_path"]["POST /api/v2/audits/query"] == 1  # received, dropped, not resent
    emu.faults.drop(count=1, path=audits)
    query = GenesysCloudApiOperator(
        task_id="q", method="POST", endpoint="/api/v2/audits/query", body=body, retry_non_idempotent=True
    )
    assert run(query)["state"] == "Queued"  # declared safe twice: resent after the drop
    assert emu.stats.snapshot()["by_path"]["POST /api/v2/audits/query"] == 3


def test_method_is_validated() -> None:
    with pytest.raises(ValueError, match=r"FETCH.*GET, POST, PUT, PATCH, DELETE"):
        GenesysCloudApiOperator(task_id="bad", endpoint="/api/v2/users", method="FETCH")
    templated = GenesysCloudApiOperator(task_id="t", endpoint="/x", method="{{ params.m }}")
    with pytest.raises(AirflowFailException, match="'FETCH' is not supported"):
        run(templated, params={"m": "FETCH"})
    post = GenesysCloudApiOperator(task_id="p", endpoint="/api/v2/users", method="POST", paginate=True)
    with pytest.raises(AirflowFailException, match="paginate=True needs method GET"):
        run(post)
