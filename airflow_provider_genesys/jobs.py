"""Genesys Cloud asynchronous jobs: their states, where each job family lives, and their life cycle (no Airflow).

Genesys runs some requests as jobs: you submit, get an id, poll a status endpoint until the job reaches a
terminal state, then read the results. Everything that waits on a job asks this module: the job sensor and
trigger read one status at a time (:func:`job_status`), the analytics extract waits in a loop
(:func:`wait_for_job`), the audit operator submits (:meth:`JobFamily.job_id_of`). Nobody compares raw state
strings. Analytics details jobs also say up to when their data is complete (:func:`availability_date`),
which the availability sensor, its trigger and the extract read.

To add a family, add a :class:`JobFamily` to :data:`JOB_FAMILIES` with its paths and a ``states`` table
mapping its spellings onto :class:`JobState`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Protocol

from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.exceptions import GenesysCloudError


class JobState(str, Enum):
    """The life cycle of a Genesys asynchronous job, normalised across job families."""

    QUEUED = "Queued"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    def is_terminal(self) -> bool:
        """True once the job will not change any more: stop polling."""
        return self in _TERMINAL

    def is_success(self) -> bool:
        """True when the job's results can be read."""
        return self is JobState.SUCCEEDED


_TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

# Audit query states as Genesys spells them (AuditQueryExecutionStatusResponse.state).
AUDIT_QUERY_STATES: Mapping[str, JobState] = {state.value.lower(): state for state in JobState}

# Analytics details jobs (conversations, users) as Genesys spells them (AsyncQueryStatus.state). EXPIRED means
# the results were deleted: like FAILED, the job will not change any more and its results cannot be read.
ANALYTICS_JOB_STATES: Mapping[str, JobState] = {
    "queued": JobState.QUEUED,
    "pending": JobState.RUNNING,
    "fulfilled": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
    "expired": JobState.FAILED,
}

# Fields of a status payload that may explain a failure, most specific first.
_ERROR_FIELDS = ("errorMessage", "error", "message", "failureReason")


@dataclass(frozen=True)
class JobOutcome:
    """What one status payload says: the normalised state and, for failures, Genesys' explanation."""

    state: JobState
    raw_state: str
    message: str


@dataclass(frozen=True)
class JobFamily:
    """Where a job family is submitted, polled and read, and how its states are spelled."""

    name: str
    submit_path: str
    status_path: str  # one "{}" for the job id
    results_path: str  # one "{}" for the job id
    states: Mapping[str, JobState] = field(default_factory=lambda: AUDIT_QUERY_STATES)
    state_field: str = "state"
    id_field: str = "id"
    failure_hint: str = ""  # what to do when a job ends Failed or Cancelled; appended to the message
    availability_path: str | None = None  # analytics details jobs: up to when their data is complete

    def status_endpoint(self, job_id: str) -> str:
        """The status path with the job id URL-encoded (an id cannot reach another path)."""
        return api_path(self.status_path, _require_id(job_id))

    def results_endpoint(self, job_id: str) -> str:
        """The results path with the job id URL-encoded."""
        return api_path(self.results_path, _require_id(job_id))

    def job_id_of(self, submitted: Any) -> str:
        """The job id from the submit response; a clear error when Genesys sent none."""
        job_id = submitted.get(self.id_field) if isinstance(submitted, Mapping) else None
        if not isinstance(job_id, str) or not job_id:
            raise ValueError(
                f"{self.name}: the submit response of POST {self.submit_path} has no {self.id_field!r}; "
                f"got {sorted(submitted) if isinstance(submitted, Mapping) else type(submitted).__name__}"
            )
        return job_id

    def outcome(self, status: Any) -> JobOutcome:
        """Interpret a status payload; an unknown state is an error naming the states we know."""
        raw = status.get(self.state_field) if isinstance(status, Mapping) else None
        state = self.states.get(str(raw).lower()) if raw is not None else None
        if state is None:
            raise ValueError(
                f"{self.name}: unexpected job state {raw!r} in the status response; expected one of "
                f"{sorted(self.states)} (case-insensitive)"
            )
        return JobOutcome(state=state, raw_state=str(raw), message=_error_text(status))


def _require_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not job_id.strip():
        raise ValueError(
            f"job_id must be a non-empty string, got {job_id!r}; when it comes from XCom, check that the "
            "submitting task ran and pushed the id (e.g. job_id=\"{{ ti.xcom_pull('submit_audit') }}\")"
        )
    return job_id.strip()


def _error_text(status: Mapping[str, Any]) -> str:
    for key in _ERROR_FIELDS:
        value = status.get(key)
        if isinstance(value, Mapping):
            value = value.get("message") or value.get("code")
        if value:
            return str(value)
    return ""


JOB_FAMILIES: Mapping[str, JobFamily] = {
    "audit_query": JobFamily(
        name="audit_query",
        submit_path="/api/v2/audits/query",
        status_path="/api/v2/audits/query/{}",
        results_path="/api/v2/audits/query/{}/results",
        failure_hint=(
            "Waiting again cannot help: check the service name, interval and filters the query was "
            "submitted with, then clear the submitting task to start a new query."
        ),
    ),
    **{
        name: JobFamily(
            name=name,
            submit_path=f"/api/v2/analytics/{area}/details/jobs",
            status_path=f"/api/v2/analytics/{area}/details/jobs/{{}}",
            results_path=f"/api/v2/analytics/{area}/details/jobs/{{}}/results",
            states=ANALYTICS_JOB_STATES,
            id_field="jobId",
            failure_hint=f"Submit the query again (the {dataset} extract does so by itself).",
            availability_path=f"/api/v2/analytics/{area}/details/jobs/availability",
        )
        for name, area, dataset in (
            ("conversation_details", "conversations", "conversations"),
            ("user_details", "users", "user_presence"),
        )
    },
}


def job_family(job_type: str) -> JobFamily:
    """The family for ``job_type``; a configuration error lists the valid names."""
    try:
        return JOB_FAMILIES[job_type]
    except KeyError:
        raise ValueError(
            f'Unknown job_type {job_type!r}; use one of {sorted(JOB_FAMILIES)} (e.g. job_type="audit_query")'
        ) from None


def describe(job_type: str, job_id: str, outcome: JobOutcome) -> str:
    """One line for logs and failure messages, e.g. ``audit_query job abc ended Failed: quota. <hint>``."""
    verb = "ended" if outcome.state.is_terminal() else "is"
    tail = f": {outcome.message}" if outcome.message else ""
    family = JOB_FAMILIES.get(job_type)
    if family and family.failure_hint and outcome.state.is_terminal() and not outcome.state.is_success():
        tail += f". {family.failure_hint}"
    return f"Genesys {job_type} job {job_id} {verb} {outcome.raw_state}{tail}"


@dataclass(frozen=True)
class JobStatus:
    """One status read of one job: the outcome and the line that tells it (``describe``), what a sensor logs
    or fails with."""

    outcome: JobOutcome
    text: str

    @property
    def done(self) -> bool:
        return self.outcome.state.is_terminal()

    @property
    def succeeded(self) -> bool:
        return self.outcome.state.is_success()


def job_status(family: JobFamily, job_id: str, status: Any) -> JobStatus:
    """What a status payload of ``family``'s job ``job_id`` says; ValueError on a state we do not know."""
    outcome = family.outcome(status)
    return JobStatus(outcome, describe(family.name, job_id, outcome))


class _Requester(Protocol):
    def request(self, method: str, endpoint: str) -> Any: ...


def default_poll(polls: int) -> float:
    """Seconds before the next status read: 1, 2, 4, ... up to 15."""
    return float(min(15, 2**polls))


def wait_for_job(
    client: _Requester,
    family: JobFamily,
    job_id: str,
    *,
    poll: Callable[[int], float] = default_poll,
    sleep: Callable[[float], None] = time.sleep,
    on_status: Callable[[JobStatus], None] | None = None,
) -> JobStatus:
    """Read the job's status (``client.request("GET", ...)``) until it is terminal; its last status.

    For code that may block while it waits (the extract in a worker); sensors and triggers read one status
    per poke with :func:`job_status` instead. ``on_status`` sees every status read (the extract's progress
    log says what the job is doing while it waits).
    """
    polls = 0
    while True:
        status = job_status(family, job_id, client.request("GET", family.status_endpoint(job_id)))
        if on_status is not None:
            on_status(status)
        if status.done:
            return status
        sleep(poll(polls))
        polls += 1


# Which analytics data a details job (and the availability sensor) reads: dataset name -> job family.
AVAILABILITY_SOURCES: Mapping[str, str] = {"conversations": "conversation_details", "user_presence": "user_details"}
# Older spellings of a source, still accepted: "users" named the user_presence data before.
SOURCE_ALIASES: Mapping[str, str] = {"users": "user_presence"}


def source_dataset(source: str) -> str:
    """The dataset ``source`` names (``conversations`` or ``user_presence``; ``users`` is the old spelling of
    ``user_presence``); ValueError listing the valid names."""
    name = SOURCE_ALIASES.get(source, source)
    if name not in AVAILABILITY_SOURCES:
        raise ValueError(f"source {source!r} is not valid; use one of: {', '.join(AVAILABILITY_SOURCES)}")
    return name


def availability_endpoint(source: str) -> str:
    """``GET`` path of ``source``'s ``dataAvailabilityDate`` (see :func:`source_dataset`)."""
    path = JOB_FAMILIES[AVAILABILITY_SOURCES[source_dataset(source)]].availability_path
    assert path is not None  # every analytics family has one
    return path


def availability_date(body: Any, endpoint: str) -> datetime:
    """``dataAvailabilityDate`` of a ``DataAvailabilityResponse`` (UTC); a clear error when it is missing."""
    raw = body.get("dataAvailabilityDate") if isinstance(body, Mapping) else None
    if not raw:
        raise GenesysCloudError(f"GET {endpoint} returned no dataAvailabilityDate: {body!r}")
    try:
        moment = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        raise GenesysCloudError(f"GET {endpoint} returned a dataAvailabilityDate that is no date: {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
