"""Job states and families: what a status payload means, and where each job lives."""

from __future__ import annotations

import pytest

from airflow_provider_genesys.jobs import JOB_FAMILIES, JobState, describe, job_family


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
