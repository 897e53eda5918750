"""Triggers that wait in the triggerer, freeing the worker slot: GenesysCloudJobTrigger (an asynchronous job
to end) and GenesysCloudDataAvailabilityTrigger (analytics data to be complete up to an instant).

Both share one polling loop (``_PollingTrigger._poll``) and only read, with idempotent GETs (a trigger may
run more than once, after a triggerer restart, so it must never submit anything). Each GET runs in a
thread through the hook, so the event loop never blocks and the hook's own retries (429 + Retry-After, 5xx
back-off, rate-limit pacing) apply unchanged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from airflow_provider_genesys._compat import AirflowException
from airflow_provider_genesys._provider_info import DEFAULT_CONN_ID
from airflow_provider_genesys.exceptions import GenesysCloudApiError, GenesysCloudError
from airflow_provider_genesys.jobs import availability_date, availability_endpoint, job_family, job_status


class _PollingTrigger(BaseTrigger):
    """What the Genesys triggers share: the connection, the poll interval, the absolute deadline, and a
    ``serialize()`` built from them plus the subclass's own ``_arguments()``."""

    def __init__(self, genesys_conn_id: str, poll_interval: float, end_time: float | None) -> None:
        super().__init__()
        self.genesys_conn_id = genesys_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time

    def _arguments(self) -> dict[str, Any]:
        raise NotImplementedError

    def _event(self, status: str, detail: str | None, message: str) -> TriggerEvent:
        raise NotImplementedError

    async def _poll(
        self, endpoint: str, examine: Callable[[Any], TriggerEvent | str], timeout_message: str
    ) -> AsyncIterator[TriggerEvent]:
        """GET ``endpoint`` every ``poll_interval`` until ``examine(body)`` returns the final event (it returns a
        log line to keep waiting), an error retrying cannot fix, or ``end_time``; exactly one event."""
        # Imported here: the triggerer imports trigger modules eagerly; the hook pulls in requests et al.
        from airflow_provider_genesys.hooks.genesys import GenesysCloudHook

        # Nothing here may read the connection: the hook reads it lazily on its first request, inside
        # the worker thread. In `airflow triggerer` a connection that is not an AIRFLOW_CONN_* variable
        # comes from the supervisor over a socket; that sync lookup is meant for threads (on the event
        # loop it blocks every trigger, or fails when AIRFLOW_DISABLE_GREENBACK_PORTAL is set).
        hook = GenesysCloudHook(genesys_conn_id=self.genesys_conn_id)
        try:
            while True:
                try:
                    # sync_to_async, not asyncio.to_thread: on Airflow 3.0 a connection lookup from the thread
                    # reaches the triggerer supervisor only through asgiref's link back to this loop.
                    body = await sync_to_async(hook.request, thread_sensitive=False)("GET", endpoint)
                    verdict = examine(body)
                except GenesysCloudApiError as err:
                    if not err.retryable:
                        yield self._event("error", None, str(err))
                        return
                    # The hook already retried; a still-busy API is no reason to fail a long wait.
                    self.log.warning("Could not read %s yet, polling again: %s", endpoint, err)
                except (AirflowException, GenesysCloudError, ValueError) as err:  # connection, credentials, payload
                    yield self._event("error", None, str(err))
                    return
                else:
                    if isinstance(verdict, TriggerEvent):
                        yield verdict
                        return
                    self.log.info("%s; next check in %.0f s", verdict, self.poll_interval)
                if self.end_time is not None and time.time() >= self.end_time:
                    yield self._event("timeout", None, timeout_message)
                    return
                await asyncio.sleep(self.poll_interval)
        finally:
            hook.close()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and plain, JSON-serializable kwargs to rebuild this trigger in the triggerer."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self._arguments(),
                "genesys_conn_id": self.genesys_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )


class GenesysCloudJobTrigger(_PollingTrigger):
    """
    Poll a Genesys job until it ends, then yield exactly one event and return.

    The event payload is ``{"status", "job_id", "job_type", "state", "message"}`` where ``status`` is
    ``success`` (the job succeeded), ``failed`` (it failed or was cancelled), ``error`` (the status could
    not be read and retrying will not help, e.g. 404 or bad credentials) or ``timeout``.

    :param job_id: the job's id (an audit query's transaction id).
    :param job_type: a key of ``airflow_provider_genesys.jobs.JOB_FAMILIES``, e.g. ``audit_query``.
    :param genesys_conn_id: the Airflow connection to poll with.
    :param poll_interval: seconds between status reads.
    :param end_time: give up at this UNIX time (absolute, so a restarted trigger keeps the same deadline);
        ``None`` waits for ever (the task's own deferral timeout still applies).
    """

    def __init__(
        self,
        job_id: str,
        job_type: str = "audit_query",
        genesys_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__(genesys_conn_id, poll_interval, end_time)
        self.job_id = job_id
        self.job_type = job_type

    def _arguments(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "job_type": self.job_type}

    def _event(self, status: str, state: str | None, message: str) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "job_id": self.job_id,
                "job_type": self.job_type,
                "state": state,
                "message": message,
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the job is terminal, an unrecoverable error occurs, or ``end_time`` passes."""
        try:
            family = job_family(self.job_type)
            endpoint = family.status_endpoint(self.job_id)
        except ValueError as err:
            yield self._event("error", None, str(err))
            return

        def examine(status: Any) -> TriggerEvent | str:
            job = job_status(family, self.job_id, status)
            if not job.done:
                return job.text
            return self._event("success" if job.succeeded else "failed", job.outcome.state.value, job.text)

        timeout = f"Genesys {self.job_type} job {self.job_id} did not end in time"
        async for event in self._poll(endpoint, examine, timeout):
            yield event


class GenesysCloudDataAvailabilityTrigger(_PollingTrigger):
    """
    Poll Genesys' analytics ``dataAvailabilityDate`` until it reaches ``target`` and the clock has passed
    ``settled``, then yield one event.

    The event payload is ``{"status", "target", "available", "settled", "message"}`` with ``status`` ``success``,
    ``error`` (the date cannot be read and retrying will not help) or ``timeout``. Read-only, like the job
    trigger: running it twice is harmless.

    :param target: ISO-8601 instant the data must be available up to (the end of the interval to extract).
    :param source: ``conversations`` or ``user_presence`` (which details jobs' availability to read).
    :param settled: ISO-8601 instant before which the interval has not settled (its end plus the sensor's
        ``settle_minutes``); ``None``: do not wait for it.
    :param genesys_conn_id: the Airflow connection to poll with.
    :param poll_interval: seconds between reads.
    :param end_time: give up at this UNIX time (``None``: only the task's deferral timeout applies).
    """

    def __init__(
        self,
        target: str,
        source: str = "conversations",
        genesys_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 300.0,
        end_time: float | None = None,
        settled: str | None = None,
    ) -> None:
        super().__init__(genesys_conn_id, poll_interval, end_time)
        self.target = target
        self.source = source
        self.settled = settled

    def _arguments(self) -> dict[str, Any]:
        return {"target": self.target, "source": self.source, "settled": self.settled}

    def _event(self, status: str, available: str | None, message: str) -> TriggerEvent:
        return TriggerEvent({"status": status, "target": self.target, "available": available,
                             "settled": self.settled, "message": message})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the date reaches ``target``, an unrecoverable error occurs, or ``end_time`` passes."""
        from airflow_provider_genesys.intervals import iso, parse_instant

        try:
            endpoint = availability_endpoint(self.source)
            target = parse_instant(self.target)
            settled = parse_instant(self.settled) if self.settled else None
        except ValueError as err:
            yield self._event("error", None, str(err))
            return

        def examine(body: Any) -> TriggerEvent | str:
            available = availability_date(body, endpoint)
            if settled is not None and datetime.now(timezone.utc) < settled:
                return f"The interval ending {iso(target)} settles at {iso(settled)}; waiting"
            if available >= target:
                return self._event("success", iso(available),
                                   f"Genesys {self.source} data is available up to {iso(available)}")
            return f"Genesys {self.source} data is available up to {iso(available)}, waiting for {iso(target)}"

        timeout = f"Genesys {self.source} data did not become available up to {self.target} in time"
        async for event in self._poll(endpoint, examine, timeout):
            yield event
