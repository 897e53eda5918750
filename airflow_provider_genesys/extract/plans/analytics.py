"""Interval datasets from Genesys' asynchronous analytics details jobs: ``conversations``, ``user_presence``.

One plan run = one interval (resolved by ``intervals.py``: the DAG run's data interval, a manual run's
previous UTC day, or an explicit ``start/end``):

0. Settling: an interval that ended less than ``settle_minutes`` ago is refused with
   :class:`DataNotAvailableError` (conversations near its end are still going on).
1. ``GET .../details/jobs/availability``: an interval ending after ``dataAvailabilityDate`` is refused with
   :class:`DataNotAvailableError` (Genesys would answer with a partial day, silently).
2. ``POST .../details/jobs`` with the interval; poll ``GET .../details/jobs/{jobId}`` until a terminal state.
3. Read ``GET .../details/jobs/{jobId}/results`` page by page, following ``cursor`` until there is none.
   One page is in memory at a time.
4. A job that ends ``FAILED``/``CANCELLED``/``EXPIRED``, or whose results disappear while we read them, is
   submitted again (``job_attempts`` times in all). Records already written are dropped by the writer's
   id de-duplication, so each record is written once.
5. A kept conversation without ``conversationEnd`` (still in progress when the job ran) fails the extract
   after the last page with :class:`ConversationsInProgressError` (retryable; nothing is written), unless
   ``in_progress="write"``: it would otherwise be stored incomplete for good, since the next interval keeps
   only the conversations that started in it.

Genesys returns every conversation that had *activity* in the interval, so a conversation crossing a
boundary appears in the jobs of both intervals. The plan keeps only those whose ``conversationStart`` is in
``[start, end)``: consecutive intervals (days, or the chunks of a day) partition the conversations exactly,
with no gap and no overlap. ``user_presence`` keeps one record per user and interval, its presence and
routing-status records as Genesys returns them (those overlapping the interval).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_genesys._deprecation import moved_getattr
from airflow_provider_genesys.exceptions import GenesysCloudApiError, GenesysCloudError
from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.intervals import (
    DEFAULT_SETTLE_MINUTES,
    IN_PROGRESS_CHOICES,
    INTERVAL_EXAMPLE,
    Interval,
    IntervalError,
    iso,
    parse_instant,
    parse_interval,
    settle_delta,
)
from airflow_provider_genesys.jobs import (
    JOB_FAMILIES,
    JobFamily,
    availability_date,
    default_poll,
    wait_for_job,
)

log = logging.getLogger(__name__)

class DataNotAvailableError(GenesysCloudError):
    """The interval ends after Genesys' ``dataAvailabilityDate``: its data is not complete yet.

    Not a configuration error: a later retry (or the availability sensor upstream) succeeds.
    """


class ConversationsInProgressError(DataNotAvailableError):
    """Conversations of the interval have no ``conversationEnd`` yet: writing them would store them
    incomplete, and the next interval does not pick them up (each belongs to the day it started in).

    Retryable, like :class:`DataNotAvailableError`: a task retry after they end writes them whole.
    """


class AnalyticsJobError(GenesysCloudError):
    """Every submitted job ended without readable results (``job_attempts`` exhausted)."""


@dataclass(frozen=True)
class DetailsSource:
    """One analytics details job family (which also says where to ask availability): how results and records
    look."""

    dataset: str  # the public dataset name (GenesysCloudExtractOperator's ``dataset``)
    family: JobFamily
    results_field: str
    keep: Callable[[dict, Interval], bool]
    record: Callable[[dict, Interval], dict]
    order_by: str | None = None  # AsyncConversationQuery.orderBy; user queries have none


def _conversation_in(conversation: dict, interval: Interval) -> bool:
    started = conversation.get("conversationStart")
    return bool(started) and interval.contains(parse_instant(started))


def _same(conversation: dict, interval: Interval) -> dict:
    # The writer de-duplicates by "id"; conversations carry "conversationId" instead.
    return {"id": conversation["conversationId"], **conversation}


def _user_detail(detail: dict, interval: Interval) -> dict:
    return {"id": f"{detail.get('userId')}/{interval}", "interval": str(interval), **detail}


CONVERSATIONS = DetailsSource(
    "conversations", JOB_FAMILIES["conversation_details"], "conversations", _conversation_in, _same,
    order_by="conversationStart",
)
USER_PRESENCE = DetailsSource(
    "user_presence", JOB_FAMILIES["user_details"], "userDetails", lambda detail, _: True, _user_detail
)


def require_interval(options: Any, dataset: str) -> Interval:
    interval = getattr(options, "interval", None)
    if not interval:
        raise IntervalError(
            f"The {dataset} dataset needs an interval: run it in a scheduled DAG (its data interval is used) or "
            f"pass interval='start/end', e.g. {INTERVAL_EXAMPLE}"
        )
    return parse_interval(interval)


def check_settled(interval: Interval, settle: timedelta, now: datetime) -> None:
    """:class:`DataNotAvailableError` when ``interval`` ended less than ``settle`` before ``now``."""
    if now < interval.end + settle:
        raise DataNotAvailableError(
            f"The interval {interval} ended at {iso(interval.end)}, less than settle_minutes="
            f"{settle.total_seconds() / 60:g} ago (now {iso(now)}): conversations near its end may still be going "
            f"on. It can be extracted from {iso(interval.end + settle)}: wait for it "
            "(GenesysCloudDataAvailabilitySensor with the same settle_minutes, or task retries), or lower "
            "settle_minutes."
        )


def check_availability(fetcher: PageFetcher, source: DetailsSource, interval: Interval) -> datetime:
    """Genesys' ``dataAvailabilityDate``; :class:`DataNotAvailableError` when it is before the interval's end."""
    endpoint = source.family.availability_path or ""
    available = availability_date(fetcher.client.request("GET", endpoint), endpoint)
    if available < interval.end:
        raise DataNotAvailableError(
            f"Genesys has analytics data up to {iso(available)} only; the interval {interval} ends at "
            f"{iso(interval.end)}. Extracting now would write a partial interval: wait for the data "
            "(GenesysCloudDataAvailabilitySensor before this task, or task retries), or choose an earlier "
            "interval."
        )
    return available


class _ResultsGone(Exception):
    """The job's results could not be read to the end (expired or failed meanwhile): submit again."""


def _results(fetcher: PageFetcher, source: DetailsSource, job_id: str) -> Iterator[dict]:
    endpoint = source.family.results_endpoint(job_id)
    cursor: str | None = None
    while True:
        try:
            page = fetcher.client.request("GET", endpoint, params={"cursor": cursor} if cursor else None) or {}
        except GenesysCloudApiError as err:
            if err.status in (400, 404, 410):
                raise _ResultsGone(str(err)) from err
            raise
        fetcher.count_page()
        yield from page.get(source.results_field) or []
        cursor = page.get("cursor")
        if not cursor:
            return


def details(
    fetcher: PageFetcher,
    source: DetailsSource,
    interval: Interval,
    *,
    job_attempts: int = 3,
    poll: Callable[[int], float] = default_poll,
    sleep: Callable[[float], None] = time.sleep,
    settle: timedelta = timedelta(minutes=DEFAULT_SETTLE_MINUTES),
    in_progress: str = "refuse",
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Iterator[dict]:
    """The records of ``interval`` from one details job (submitted again after a failed or expired one).

    Refused before any request while the interval has not settled (ended less than ``settle`` ago) or
    Genesys' data does not cover it; with ``in_progress="refuse"`` a conversation without
    ``conversationEnd`` fails the extract after the last page (:class:`ConversationsInProgressError`, so
    the atomic writer keeps nothing), with ``"write"`` it is written as Genesys has it.
    """
    check_settled(interval, settle, now())
    check_availability(fetcher, source, interval)
    family = source.family
    body = {"interval": str(interval), "order": "asc"}
    if source.order_by:
        body["orderBy"] = source.order_by
    problems: list[str] = []
    for attempt in range(1, job_attempts + 1):
        # A job only reads: submitting it twice is harmless (the first expires unread), so it is retried.
        submitted = fetcher.client.request("POST", family.submit_path, json=body, retry_non_idempotent=True)
        job_id = family.job_id_of(submitted)
        log.info("%s job %s submitted for %s (attempt %d of %d)", family.name, job_id, interval, attempt,
                 job_attempts)
        with fetcher.doing(f"waiting for Genesys {family.name} job {job_id}"):
            status = wait_for_job(fetcher.client, family, job_id, poll=poll, sleep=sleep,
                                  on_status=lambda status: fetcher.progress(status.text))
        text = status.text
        if status.succeeded:
            unfinished = _Unfinished(source, interval) if in_progress == "refuse" else None
            try:
                for record in _results(fetcher, source, job_id):
                    if source.keep(record, interval):
                        if unfinished is not None:
                            unfinished.see(record)
                        yield source.record(record, interval)
                if unfinished is not None:
                    unfinished.check()
                return
            except _ResultsGone as gone:
                text = f"Genesys {family.name} job {job_id}: its results could not be read to the end ({gone})"
        problems.append(text)
        log.warning("%s; submitting the query again", text)
    raise AnalyticsJobError(
        f"{family.name} for {interval}: {job_attempts} jobs ended without readable results: "
        + " | ".join(problems)
    )


class _Unfinished:
    """Counts the conversations without ``conversationEnd``; :meth:`check` refuses the interval if any."""

    def __init__(self, source: DetailsSource, interval: Interval) -> None:
        self.applies = source is CONVERSATIONS
        self.interval = interval
        self.count = 0
        self.examples: list[str] = []

    def see(self, record: dict) -> None:
        if self.applies and not record.get("conversationEnd"):
            self.count += 1
            if len(self.examples) < 3:
                self.examples.append(f"{record.get('conversationId')} (started {record.get('conversationStart')})")

    def check(self) -> None:
        if self.count:
            raise ConversationsInProgressError(
                f"{self.count} conversations of {self.interval} have not ended yet (no conversationEnd), e.g. "
                f"{', '.join(self.examples)}; nothing was written. A task retry once they end writes them "
                "whole: raise settle_minutes (or retries/retry_delay), or pass in_progress='write' to write them "
                "as they are (a rerun of the interval later replaces them)."
            )


def conversations(fetcher: PageFetcher, options: Any) -> Iterator[dict]:
    """Conversations that started in the interval, one per record, from a conversation details job."""
    return _plan(fetcher, options, CONVERSATIONS)


def user_presence(fetcher: PageFetcher, options: Any) -> Iterator[dict]:
    """Per user: presence and routing-status records of the interval, from a user details job."""
    return _plan(fetcher, options, USER_PRESENCE)


def _plan(fetcher: PageFetcher, options: Any, source: DetailsSource) -> Iterator[dict]:
    interval = require_interval(options, source.dataset)
    in_progress = getattr(options, "in_progress", "refuse")
    if in_progress not in IN_PROGRESS_CHOICES:
        raise ValueError(f"in_progress {in_progress!r} is not valid; use one of: {', '.join(IN_PROGRESS_CHOICES)}")
    return details(fetcher, source, interval, job_attempts=getattr(options, "job_attempts", 3),
                   poll=_poll_of(options), settle=settle_delta(getattr(options, "settle_minutes", None)),
                   in_progress=in_progress)


def _poll_of(options: Any) -> Callable[[int], float]:
    fixed = getattr(options, "poll_interval", None)
    return default_poll if fixed is None else (lambda _polls: float(fixed))


# interval_chunks was documented here for a while: it lives in intervals.py, and this old place warns and gives
# the object DAGs now import from airflow_provider_genesys.dag_helpers.
__getattr__ = moved_getattr(__name__)
