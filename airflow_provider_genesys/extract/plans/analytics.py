"""Interval datasets from Genesys' asynchronous analytics details jobs: ``conversations``, ``user_presence``.

One plan run = one interval (the DAG run's data interval, or an explicit ``start/end``):

1. ``GET .../details/jobs/availability``: an interval ending after ``dataAvailabilityDate`` is refused with
   :class:`DataNotAvailableError` (Genesys would answer with a partial day, silently).
2. ``POST .../details/jobs`` with the interval; poll ``GET .../details/jobs/{jobId}`` until a terminal state.
3. Read ``GET .../details/jobs/{jobId}/results`` page by page, following ``cursor`` until there is none.
   One page is in memory at a time.
4. A job that ends ``FAILED``/``CANCELLED``/``EXPIRED``, or whose results disappear while we read them, is
   submitted again (``job_attempts`` times in all). Records already written are dropped by the writer's
   id de-duplication, so each record is written once.

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

from airflow_provider_genesys.exceptions import GenesysCloudApiError, GenesysCloudError
from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.jobs import (
    JOB_FAMILIES,
    JobFamily,
    availability_date,
    default_poll,
    wait_for_job,
)

log = logging.getLogger(__name__)

INTERVAL_EXAMPLE = "2024-05-01T00:00:00Z/2024-05-02T00:00:00Z"


class DataNotAvailableError(GenesysCloudError):
    """The interval ends after Genesys' ``dataAvailabilityDate``: its data is not complete yet.

    Not a configuration error: a later retry (or the availability sensor upstream) succeeds.
    """


class AnalyticsJobError(GenesysCloudError):
    """Every submitted job ended without readable results (``job_attempts`` exhausted)."""


@dataclass(frozen=True)
class Interval:
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"{iso(self.start)}/{iso(self.end)}"

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def iso(moment: datetime) -> str:
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant; without an offset it is UTC."""
    value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_interval(text: Any) -> Interval:
    """``start/end`` (ISO-8601) into an :class:`Interval`; ValueError saying what to write otherwise."""
    try:
        start_text, end_text = str(text).split("/")
        interval = Interval(parse_instant(start_text), parse_instant(end_text))
    except ValueError:
        raise ValueError(
            f"interval {text!r} is not an ISO-8601 interval 'start/end', e.g. {INTERVAL_EXAMPLE}"
        ) from None
    if interval.end <= interval.start:
        raise ValueError(f"interval {text!r} is empty or ends before it starts; e.g. {INTERVAL_EXAMPLE}")
    return interval


def interval_chunks(interval: str, hours: float = 6) -> list[str]:
    """Split ``start/end`` into consecutive ``start/end`` chunks of at most ``hours`` (for ``expand``).

    The chunks share their boundaries and the extract keeps conversations by start in ``[start, end)``, so
    together they hold each conversation of the interval exactly once.
    """
    if hours <= 0:
        raise ValueError(f"hours must be positive; got {hours}")
    whole = parse_interval(interval)
    step = timedelta(hours=hours)
    chunks, start = [], whole.start
    while start < whole.end:
        end = min(start + step, whole.end)
        chunks.append(str(Interval(start, end)))
        start = end
    return chunks


@dataclass(frozen=True)
class DetailsSource:
    """One analytics details job family (which also says where to ask availability): how results and records
    look."""

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
    JOB_FAMILIES["conversation_details"], "conversations", _conversation_in, _same,
    order_by="conversationStart",
)
USER_PRESENCE = DetailsSource(
    JOB_FAMILIES["user_details"], "userDetails", lambda detail, _: True, _user_detail
)


def require_interval(options: Any, dataset: str) -> Interval:
    interval = getattr(options, "interval", None)
    if not interval:
        raise ValueError(
            f"The {dataset} dataset needs an interval: run it in a scheduled DAG (its data interval is used) or "
            f"pass interval='start/end', e.g. {INTERVAL_EXAMPLE}"
        )
    return parse_interval(interval)


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
) -> Iterator[dict]:
    """The records of ``interval`` from one details job (submitted again after a failed or expired one)."""
    check_availability(fetcher, source, interval)
    family = source.family
    body = {"interval": str(interval), "order": "asc"}
    if source.order_by:
        body["orderBy"] = source.order_by
    problems: list[str] = []
    for attempt in range(1, job_attempts + 1):
        job_id = family.job_id_of(fetcher.client.request("POST", family.submit_path, json=body))
        log.info("%s job %s submitted for %s (attempt %d of %d)", family.name, job_id, interval, attempt,
                 job_attempts)
        status = wait_for_job(fetcher.client, family, job_id, poll=poll, sleep=sleep)
        text = status.text
        if status.succeeded:
            try:
                for record in _results(fetcher, source, job_id):
                    if source.keep(record, interval):
                        yield source.record(record, interval)
                return
            except _ResultsGone as gone:
                text = f"Genesys {family.name} job {job_id}: its results could not be read to the end ({gone})"
        problems.append(text)
        log.warning("%s; submitting the query again", text)
    raise AnalyticsJobError(
        f"{family.name} for {interval}: {job_attempts} jobs ended without readable results: "
        + " | ".join(problems)
    )


def conversations(fetcher: PageFetcher, options: Any) -> Iterator[dict]:
    """Conversations that started in the interval, one per record, from a conversation details job."""
    return _plan(fetcher, options, CONVERSATIONS, "conversations")


def user_presence(fetcher: PageFetcher, options: Any) -> Iterator[dict]:
    """Per user: presence and routing-status records of the interval, from a user details job."""
    return _plan(fetcher, options, USER_PRESENCE, "user_presence")


def _plan(fetcher: PageFetcher, options: Any, source: DetailsSource, dataset: str) -> Iterator[dict]:
    interval = require_interval(options, dataset)
    return details(fetcher, source, interval, job_attempts=getattr(options, "job_attempts", 3),
                   poll=_poll_of(options))


def _poll_of(options: Any) -> Callable[[int], float]:
    fixed = getattr(options, "poll_interval", None)
    return default_poll if fixed is None else (lambda _polls: float(fixed))

