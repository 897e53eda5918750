"""AnalyticsApi: analytics details jobs for conversations and users, plus data availability.

    POST /api/v2/analytics/{conversations|users}/details/jobs           -> 202 {"jobId"}
    GET  /api/v2/analytics/{conversations|users}/details/jobs/{jobId}   -> AsyncQueryStatus
    GET  /api/v2/analytics/{...}/details/jobs/{jobId}/results?cursor=   -> {conversations|userDetails, cursor,
                                                                           dataAvailabilityDate}
    GET  /api/v2/analytics/{...}/details/jobs/availability             -> {"dataAvailabilityDate"}

A job goes QUEUED -> PENDING -> FULFILLED over ``job_seconds`` of the emulator clock, or over ``job_polls``
status reads (the same options as audit queries). Results are computed page by page from the history
(``org/conversations.py``) and hold only data before the availability date (as a partial day would). With
``in_progress_minutes``, a job whose interval ended less than that before the clock shows the conversations
not ended at the clock in progress (no ``conversationEnd``, partial segments).
Failures a test can script: :meth:`AnalyticsJobs.script` (FAILED / CANCELLED jobs, results that EXPIRE
after some pages), the ``job_state`` fault (Failed/Cancelled), the ``rate_limit`` fault on submission, and
``analytics_max_jobs``: a submission while that many jobs are unfinished gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route, json_body
from airflow_provider_genesys.testing.clock import Clock, parse_iso
from airflow_provider_genesys.testing.errors import ApiError, bad_request, not_found
from airflow_provider_genesys.testing.org.conversations import History, Position, iso_ms
from airflow_provider_genesys.testing.paging import decode_cursor, encode_cursor

KINDS = {"conversations": "conversations", "users": "userDetails"}  # path segment -> results field
SCRIPTABLE = ("FAILED", "CANCELLED", "EXPIRED")
EXPIRY_MS = 86_400_000  # AsyncQueryStatus.expirationDate: a day after completion (a display value only)


@dataclass
class Job:
    id: str
    kind: str
    start_ms: int
    end_ms: int
    submitted_ms: int
    final_state: str = "FULFILLED"
    expire_after_pages: int | None = None  # EXPIRED: results answer 404 after this many pages
    polls: int = 0
    pages: int = 0
    until_ms: int = 0  # the availability date when the job ran: its results stop there
    as_of_ms: int = 0  # in_progress_minutes: conversations not ended at this instant are in progress; 0: none


class AnalyticsJobs:
    """Every analytics details job of one emulator, and the availability date."""

    def __init__(self, history: History, clock: Clock, *, job_seconds: float, job_polls: int | None,
                 page_size: int, max_jobs: int | None, lag_seconds: float, in_progress_minutes: float = 0.0
                 ) -> None:
        self.history = history
        self.clock = clock
        self.job_seconds = job_seconds
        self.job_polls = job_polls
        self.page_size = page_size
        self.max_jobs = max_jobs
        self.lag_seconds = lag_seconds
        self.in_progress_ms = int(in_progress_minutes * 60_000)
        self._pinned_ms: int | None = None
        self._jobs: dict[str, Job] = {}
        self._script: list[tuple[str, int]] = []  # (final state, pages before expiry) for the next jobs
        self._lock = threading.Lock()

    # ---- what tests control ------------------------------------------------------------------------
    def set_availability(self, when: float | str | datetime | None) -> None:
        """Pin ``dataAvailabilityDate`` (epoch seconds, ISO-8601 or an aware datetime); ``None``: clock minus
        the lag again."""
        if when is None:
            self._pinned_ms = None
        elif isinstance(when, datetime):
            self._pinned_ms = round(when.timestamp() * 1000)
        else:
            self._pinned_ms = round((parse_iso(when) if isinstance(when, str) else float(when)) * 1000)

    def availability_ms(self) -> int:
        if self._pinned_ms is not None:
            return self._pinned_ms
        return int((self.clock.now() - self.lag_seconds) * 1000) // 1000 * 1000

    def script(self, state: str, count: int = 1, *, after_pages: int = 1) -> None:
        """The next ``count`` jobs end ``state`` (FAILED/CANCELLED), or for EXPIRED are fulfilled and their
        results disappear after ``after_pages`` pages were read."""
        if state not in SCRIPTABLE:
            raise ValueError(f"state must be one of {', '.join(SCRIPTABLE)}; got {state!r}")
        with self._lock:
            self._script += [(state, after_pages)] * count

    @property
    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    # ---- job life --------------------------------------------------------------------------------
    def state(self, job: Job) -> str:
        if self.job_polls is not None:
            done = job.polls > self.job_polls
            progress = "PENDING" if job.polls > 1 else "QUEUED"
        else:
            elapsed = self.clock.now() * 1000 - job.submitted_ms
            done = self.job_seconds <= 0 or elapsed >= self.job_seconds * 1000
            progress = "PENDING" if elapsed >= self.job_seconds * 1000 / 3 else "QUEUED"
        if not done:
            return progress
        if job.final_state == "EXPIRED":
            return "EXPIRED" if job.expire_after_pages is not None and job.pages >= job.expire_after_pages \
                else "FULFILLED"
        return job.final_state

    def submit(self, kind: str, call: Call) -> dict[str, Any]:
        body = json_body(call)
        if not isinstance(body, dict) or not isinstance(body.get("interval"), str):
            raise bad_request("The query needs an interval, e.g. 2024-01-01T00:00:00Z/2024-01-02T00:00:00Z.")
        try:
            start_text, end_text = body["interval"].split("/")
            start_ms, end_ms = (round(parse_iso(t) * 1000) for t in (start_text, end_text))
        except ValueError:
            raise bad_request(f"interval {body['interval']!r} is not an ISO-8601 interval start/end.") from None
        if end_ms <= start_ms:
            raise bad_request(f"interval {body['interval']!r} ends before it starts.")
        with self._lock:
            running = sum(1 for job in self._jobs.values() if self.state(job) in ("QUEUED", "PENDING"))
            if self.max_jobs is not None and running >= self.max_jobs:
                raise ApiError(
                    429, "too.many.requests.retry.after",
                    f"Too many analytics jobs: {running} are unfinished and the limit is {self.max_jobs}. "
                    "Retry the request in [2] seconds", {"Retry-After": "2"},
                )
            job = Job(str(uuid.uuid4()), kind, start_ms, end_ms, int(self.clock.now() * 1000))
            if self._script:
                job.final_state, pages = self._script.pop(0)
                job.expire_after_pages = pages if job.final_state == "EXPIRED" else None
            elif call.job_state:
                job.final_state = call.job_state.upper()
            self._jobs[job.id] = job
        return {"jobId": job.id}

    def _job(self, kind: str, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.kind != kind:
            raise not_found(f"The analytics job {job_id} was not found.")
        return job

    def status(self, kind: str, job_id: str) -> dict[str, Any]:
        job = self._job(kind, job_id)
        with self._lock:
            job.polls += 1
            state = self.state(job)
        status: dict[str, Any] = {"state": state, "submissionDate": iso_ms(job.submitted_ms)}
        if state in ("FULFILLED", "EXPIRED", "FAILED", "CANCELLED"):
            status["completionDate"] = iso_ms(job.submitted_ms)
            status["expirationDate"] = iso_ms(job.submitted_ms + EXPIRY_MS)
        if state == "FAILED":
            status["errorMessage"] = "Injected failure: the analytics query failed"
        return status

    def results(self, kind: str, call: Call) -> dict[str, Any]:
        job = self._job(kind, call.args[0])
        with self._lock:
            state = self.state(job)
            if state == "FULFILLED" and job.pages == 0 and not job.until_ms:
                job.until_ms = self.availability_ms()
                now_ms = int(self.clock.now() * 1000)
                if now_ms - job.end_ms < self.in_progress_ms:  # a recent interval: show it as of now
                    job.as_of_ms = now_ms
        if state != "FULFILLED":
            raise not_found(f"The results of analytics job {job.id} are not available: its state is {state}.")
        size = call.params.int("pageSize", self.page_size, 1, self.page_size)
        after = _position(call.params.get("cursor"))
        if kind == "conversations":
            items, last = self._conversations(job, after, size)
        else:
            items, last = self._users(job, after, size)
        with self._lock:
            job.pages += 1
        page: dict[str, Any] = {KINDS[kind]: items}
        if last is not None:
            page["cursor"] = encode_cursor(f"{last[0]}:{last[1]}")
        page["dataAvailabilityDate"] = iso_ms(job.until_ms)
        return page

    def _conversations(self, job: Job, after: Position | None, size: int) -> tuple[list[dict], Position | None]:
        items: list[dict[str, Any]] = []
        last: Position | None = None
        for position, begin, end, d in self.history.active(job.start_ms, job.end_ms, job.until_ms, after):
            if len(items) == size:
                return items, last
            conversation = self.history.render(begin, end, d)
            items.append(self.history.as_of(conversation, job.as_of_ms) if job.as_of_ms else conversation)
            last = position
        return items, None

    def _users(self, job: Job, after: Position | None, size: int) -> tuple[list[dict], Position | None]:
        agents = self.history.agents()
        first = 0 if after is None else after[1] + 1
        chunk = agents[first : first + size]
        items = [self.history.user_detail(i, job.start_ms, job.end_ms, job.until_ms) for i in chunk]
        more = first + size < len(agents)
        return items, ((0, first + size - 1) if more else None)


def _position(cursor: str | None) -> Position | None:
    if not cursor:
        return None
    day, _, k = decode_cursor(cursor).partition(":")
    if not (day.lstrip("-").isdigit() and k.isdigit()):
        raise bad_request(f"The cursor {cursor!r} is not valid for this job.")
    return int(day), int(k)


class AnalyticsApi:
    """The analytics details jobs of one emulator, over the conversation history and routing it reads.

    ``emu.analytics`` is this object: ``.history`` and ``.routing`` (ground truth), ``.jobs`` (controls).
    """

    def __init__(self, context: Context) -> None:
        settings = context.settings
        self.routing = context.routing
        self.history = context.history
        self.jobs = AnalyticsJobs(
            context.history, context.clock, job_seconds=settings.job_seconds, job_polls=settings.job_polls,
            page_size=settings.analytics_page_size, max_jobs=settings.analytics_max_jobs,
            lag_seconds=settings.data_lag_seconds, in_progress_minutes=settings.in_progress_minutes,
        )

    def routes(self) -> list[Route]:
        jobs = self.jobs
        table: list[Route] = []
        for kind in KINDS:
            base = f"/api/v2/analytics/{kind}/details/jobs"
            table += [
                ("POST", base, base, lambda call, k=kind: (202, jobs.submit(k, call))),
                ("GET", f"{base}/availability", f"{base}/availability",
                 lambda call: (200, {"dataAvailabilityDate": iso_ms(jobs.availability_ms())})),
                ("GET", f"{base}/{SEGMENT}", f"{base}/{{jobId}}",
                 lambda call, k=kind: (200, jobs.status(k, call.args[0]))),
                ("GET", f"{base}/{SEGMENT}/results", f"{base}/{{jobId}}/results",
                 lambda call, k=kind: (200, jobs.results(k, call))),
            ]
        return table
