"""Job states and families: what a status payload means, and where each job lives."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_genesys.exceptions import GenesysCloudError
from airflow_provider_genesys.jobs import (
    JOB_FAMILIES,
    JobState,
    availability_date,
    availability_endpoint,
    describe,
    job_family,
    job_status,
    wait_for_job,
)


@pytest.mark.parametrize(
    ("state", "terminal", "success"),
    [
        (JobState.QUEUED, False, False),
        (JobState.RUNNING, False, False),
        (JobState.SUCCEEDED, True, True),
        (JobState.FAILED, True, False),
        (JobState.CANCELLED, True, False),
    ],
)
def test_state_predicates(state: JobState, terminal: bool, success: bool) -> None:
    assert state.is_terminal() is terminal
    assert state.is_success() is success


def test_audit_query_paths_encode_the_id() -> None:
    family = job_family("audit_query")
    assert family.submit_path == "/api/v2/audits/query"
    assert family.status_endpoint("abc-1") == "/api/v2/audits/query/abc-1"
    assert family.results_endpoint("abc-1") == "/api/v2/audits/query/abc-1/results"
    # An id cannot climb to another path.
    assert family.status_endpoint("../../users") == "/api/v2/audits/query/..%2F..%2Fusers"


@pytest.mark.parametrize("job_id", ["", "   ", None])
def test_empty_job_id_says_where_it_should_come_from(job_id: object) -> None:
    with pytest.raises(ValueError, match="xcom_pull"):
        job_family("audit_query").status_endpoint(job_id)  # type: ignore[arg-type]


def test_outcome_reads_state_and_failure_message() -> None:
    family = job_family("audit_query")
    outcome = family.outcome({"id": "j1", "state": "Failed", "errorMessage": "interval too long"})
    assert outcome.state is JobState.FAILED
    text = describe("audit_query", "j1", outcome)
    assert text.startswith("Genesys audit_query job j1 ended Failed: interval too long. ")
    assert "clear the submitting task" in text  # how to fix it, not only what happened
    running = family.outcome({"id": "j1", "state": "running"})
    assert running.state is JobState.RUNNING
    assert describe("audit_query", "j1", running) == "Genesys audit_query job j1 is running"


@pytest.mark.parametrize("status", [{"state": "Exploded"}, {"id": "x"}, None, ["Succeeded"]])
def test_unknown_state_lists_known_ones(status: object) -> None:
    with pytest.raises(ValueError, match=r"expected one of .*succeeded"):
        job_family("audit_query").outcome(status)


def test_job_id_of_submit_response() -> None:
    family = job_family("audit_query")
    assert family.job_id_of({"id": "tx-1", "state": "Queued"}) == "tx-1"
    with pytest.raises(ValueError, match=r"has no 'id'.*got \['state'\]"):
        family.job_id_of({"state": "Queued"})


def test_unknown_job_type_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown job_type 'analytics'.*\['audit_query', 'conversation_details', "):
        job_family("analytics")
    assert set(JOB_FAMILIES) == {"audit_query", "conversation_details", "user_details"}


@pytest.mark.parametrize("family", ["conversation_details", "user_details"])
def test_analytics_job_states_as_genesys_spells_them(family: str) -> None:
    """AsyncQueryStatus.state: QUEUED, PENDING, FULFILLED, FAILED, CANCELLED, EXPIRED (SDK allowed values)."""
    jobs = job_family(family)
    assert jobs.job_id_of({"jobId": "j-1"}) == "j-1"
    expected = {"QUEUED": JobState.QUEUED, "PENDING": JobState.RUNNING, "FULFILLED": JobState.SUCCEEDED,
                "FAILED": JobState.FAILED, "CANCELLED": JobState.CANCELLED, "EXPIRED": JobState.FAILED}
    for raw, state in expected.items():
        outcome = jobs.outcome({"state": raw, "errorMessage": "boom" if raw == "FAILED" else None})
        assert outcome.state is state
        assert outcome.raw_state == raw
    assert jobs.outcome({"state": "FAILED", "errorMessage": "boom"}).message == "boom"
    assert jobs.status_endpoint("a/b").endswith("/details/jobs/a%2Fb")


class ScriptedClient:
    """Answers each GET with the next status of a script; records the endpoints read."""

    def __init__(self, *states: str) -> None:
        self.states = list(states)
        self.endpoints: list[str] = []

    def request(self, method: str, endpoint: str) -> dict:
        assert method == "GET"
        self.endpoints.append(endpoint)
        return {"state": self.states.pop(0)}


def test_wait_for_job_reads_until_terminal_backing_off_1_2_4_up_to_15() -> None:
    client = ScriptedClient("QUEUED", "PENDING", "PENDING", "PENDING", "PENDING", "PENDING", "FULFILLED")
    slept: list[float] = []
    status = wait_for_job(client, job_family("conversation_details"), "j/1", sleep=slept.append)
    assert status.done
    assert status.succeeded
    assert slept == [1, 2, 4, 8, 15, 15]
    assert client.endpoints[0] == "/api/v2/analytics/conversations/details/jobs/j%2F1"
    assert status.text == "Genesys conversation_details job j/1 ended FULFILLED"


def test_wait_for_job_returns_a_failed_job_with_its_hint() -> None:
    status = wait_for_job(ScriptedClient("EXPIRED"), job_family("user_details"), "j2", sleep=pytest.fail)
    assert status.done
    assert not status.succeeded
    assert status.text.endswith("Submit the query again (the user_presence extract does so by itself).")


def test_job_status_is_what_sensor_and_trigger_read_per_poke() -> None:
    running = job_status(job_family("audit_query"), "t1", {"state": "Running"})
    assert (running.done, running.succeeded, running.text) == (False, False, "Genesys audit_query job t1 is Running")


def test_availability_endpoint_per_source_and_a_typo_lists_the_sources() -> None:
    assert availability_endpoint("conversations") == "/api/v2/analytics/conversations/details/jobs/availability"
    assert availability_endpoint("user_presence") == "/api/v2/analytics/users/details/jobs/availability"
    assert availability_endpoint("users") == availability_endpoint("user_presence")  # the older spelling
    with pytest.raises(ValueError, match="source 'user' is not valid; use one of: conversations, user_presence"):
        availability_endpoint("user")


def test_availability_date_is_utc_and_a_missing_one_is_a_clear_error() -> None:
    moment = availability_date({"dataAvailabilityDate": "2026-03-02T10:00:00.000Z"}, "/x")
    assert moment == datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    assert availability_date({"dataAvailabilityDate": "2026-03-02T10:00:00"}, "/x") == moment
    with pytest.raises(GenesysCloudError, match="GET /x returned no dataAvailabilityDate"):
        availability_date({}, "/x")
    with pytest.raises(GenesysCloudError, match="dataAvailabilityDate that is no date: 'soon'"):
        availability_date({"dataAvailabilityDate": "soon"}, "/x")


def test_one_default_connection_id_everywhere() -> None:
    from airflow_provider_genesys._provider_info import DEFAULT_CONN_ID
    from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
    from airflow_provider_genesys.operators.genesys import GenesysCloudApiOperator
    from airflow_provider_genesys.sensors.genesys import GenesysCloudJobSensor
    from airflow_provider_genesys.triggers.genesys import GenesysCloudJobTrigger

    assert DEFAULT_CONN_ID == "genesys_cloud_default"
    assert GenesysCloudHook.default_conn_name == DEFAULT_CONN_ID
    assert GenesysCloudApiOperator(task_id="a", endpoint="/api/v2/x").genesys_conn_id == DEFAULT_CONN_ID
    assert GenesysCloudJobSensor(task_id="s", job_id="j").hook.genesys_conn_id == DEFAULT_CONN_ID
    assert GenesysCloudJobTrigger(job_id="j").serialize()[1]["genesys_conn_id"] == DEFAULT_CONN_ID
