"""Sensors that wait on Genesys Cloud: any endpoint until a check passes, or an asynchronous job to end.

Both read through ``GenesysCloudHook`` (which already retries 429, 502/503/504 and connection errors); an
error that is still retryable after that counts as "not yet", an error that retrying cannot fix fails the
task at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_genesys._compat import AirflowFailException, AirflowSensorTimeout, AirflowSkipException, conf
from airflow_provider_genesys.data_interval import resolve_data_interval
from airflow_provider_genesys.exceptions import GenesysCloudApiError, GenesysCloudError
from airflow_provider_genesys.intervals import iso, settle_delta
from airflow_provider_genesys.jobs import (
    JobFamily,
    availability_date,
    availability_endpoint,
    job_family,
    job_status,
    source_dataset,
)
from airflow_provider_genesys.operators.base import GenesysCloudTaskMixin, api_errors_as_failures
from airflow_provider_genesys.triggers.genesys import GenesysCloudDataAvailabilityTrigger, GenesysCloudJobTrigger

_MISSING = object()


def resolve_path(document: Any, path: str) -> Any:
    """The value at a dotted path such as ``entities.0.state`` (list indexes as integers), or a sentinel."""
    node = document
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, Sequence) and not isinstance(node, str) and _is_index(part, len(node)):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _is_index(part: str, length: int) -> bool:
    try:
        return -length <= int(part) < length
    except ValueError:
        return False


def _matches(value: Any, expected: Any) -> bool:
    """Equal, or equal once rendered as text: templates render ``5`` and ``true`` as strings."""
    if value is _MISSING:
        return False
    if value == expected:
        return True
    if isinstance(expected, str) and not isinstance(value, str):
        return expected in (str(value), json.dumps(value))
    return False


class _GenesysSensor(GenesysCloudTaskMixin, BaseSensorOperator):
    """Shared plumbing: the connection and hook (the operators' mixin), and the GET that tells "not yet" from
    "give up"."""

    def _get(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, not_found_ok: bool = False
    ) -> Any:
        """The parsed body, or ``_MISSING`` when the answer means "poke again later"; fails the task on what a
        retry cannot fix (``api_errors_as_failures``, as the operators)."""
        try:
            with api_errors_as_failures():
                try:
                    return self.hook.request("GET", endpoint, params=params)
                except GenesysCloudApiError as err:
                    if err.status == 404 and not_found_ok:
                        self.log.info("Not there yet (404): %s", err)
                        return _MISSING
                    raise
        except GenesysCloudApiError as err:  # only retryable ones get here
            self.log.warning("Genesys is busy or unreachable, poking again later: %s", err)
            return _MISSING

    def _wait_settings(self, deferrable: bool, poll_interval: float, kwargs: dict[str, Any]) -> None:
        """Before ``BaseSensorOperator.__init__``: poll_interval is also the poke interval unless given."""
        kwargs.setdefault("poke_interval", poll_interval)
        self.deferrable = deferrable
        self.poll_interval = poll_interval

    def _poke_then_defer(self, context: Any, make_trigger: Callable[[], Any], default: Any) -> Any:
        """Deferrable execute: one synchronous check (done already: no deferral), else hand over to a trigger."""
        first = self.poke(context)
        if first:
            return first.xcom_value if isinstance(first, PokeReturnValue) else default
        self.defer(trigger=make_trigger(), method_name="execute_complete", timeout=timedelta(seconds=self.timeout))
        return None  # not reached: defer() raises

    def _resumed(self, event: dict[str, Any] | None, what: str) -> dict[str, Any]:
        """A trigger's ``success`` event (logged); a timeout or failure raised as Airflow expects."""
        if not event:
            raise AirflowFailException(f"The {what} trigger ended without an event; see the triggerer log")
        message = event.get("message") or f"{what}: {event.get('status')}"
        if event.get("status") == "success":
            self.log.info(message)
            return event
        if event.get("status") == "timeout":
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        raise AirflowFailException(message)


class GenesysCloudApiSensor(_GenesysSensor):
    """
    Poke a Genesys Cloud endpoint until a check on its JSON passes.

    Give exactly one of: ``check``, a callable taking the parsed JSON and returning a bool or a
    ``PokeReturnValue``; or ``json_path`` (a dotted path such as ``entities.0.state``) with ``expected``,
    the value (or list of values, any of which passes) found there; without ``expected`` the value at the
    path only has to be present and truthy. The JSON (or the part at ``xcom_path``) goes to XCom.

    :param endpoint: a path such as ``/api/v2/users/{{ params.user_id }}`` (templated).
    :param query_params: query parameters (templated; named like the API operator's, because ``params``
        is the DAG's Params on every Airflow operator).
    :param check: ``callable(json) -> bool | PokeReturnValue``.
    :param json_path: dotted path into the JSON (templated).
    :param expected: value or list of values to compare with (templated; text compares with numbers and
        booleans by their JSON spelling, so ``"5"`` matches ``5`` and ``"true"`` matches ``true``).
    :param not_found_ok: treat 404 as "not yet" (for things about to be created); otherwise 404 fails.
    :param xcom_path: push only the part of the JSON at this dotted path.
    :param genesys_conn_id: the Airflow connection to use.
    """

    template_fields: Sequence[str] = ("endpoint", "query_params", "json_path", "expected")
    def __init__(
        self,
        *,
        endpoint: str,
        query_params: Mapping[str, Any] | None = None,
        check: Callable[[Any], bool | PokeReturnValue] | None = None,
        json_path: str | None = None,
        expected: Any = None,
        not_found_ok: bool = False,
        xcom_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        if (check is None) == (json_path is None):
            raise ValueError(
                "GenesysCloudApiSensor needs exactly one check: either check=<callable(json) -> bool> or "
                "json_path='entities.0.state' with expected='Succeeded' "
                f"(got check={'set' if check else 'None'}, json_path={json_path!r})"
            )
        if check is not None and not callable(check):
            raise ValueError(f"check must be a callable taking the JSON response, got {type(check).__name__}")
        if expected is not None and json_path is None:
            raise ValueError("expected= only works with json_path=; a check callable does its own comparing")
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.query_params = query_params
        self.check = check
        self.json_path = json_path
        self.expected = expected
        self.not_found_ok = not_found_ok
        self.xcom_path = xcom_path

    def _passes(self, body: Any) -> bool | PokeReturnValue:
        if self.check is not None:
            return self.check(body)
        value = resolve_path(body, self.json_path or "")
        if self.expected is None:
            return value is not _MISSING and bool(value)
        options = self.expected if isinstance(self.expected, (list, tuple, set)) else [self.expected]
        return any(_matches(value, option) for option in options)

    def poke(self, context: Any) -> bool | PokeReturnValue:
        body = self._get(self.endpoint, self.query_params, not_found_ok=self.not_found_ok)
        if body is _MISSING:
            return False
        result = self._passes(body)
        if isinstance(result, PokeReturnValue):
            return result
        if not result:
            if self.json_path:
                found = resolve_path(body, self.json_path)
                shown = "nothing" if found is _MISSING else repr(found)
                self.log.info("%s is %s, waiting for %r", self.json_path, shown, self.expected)
            return False
        xcom = body if self.xcom_path is None else resolve_path(body, self.xcom_path)
        return PokeReturnValue(is_done=True, xcom_value=None if xcom is _MISSING else xcom)


class GenesysCloudJobSensor(_GenesysSensor):
    """
    Wait for a Genesys asynchronous job (an audit query) to succeed; fail clearly if it fails or is cancelled.

    Returns ``{"job_id": ..., "job_type": ..., "state": "Succeeded"}`` to XCom. With ``deferrable=True``
    the wait happens in the triggerer (:class:`GenesysCloudJobTrigger`) after one synchronous check, so a
    job that is already done never defers.

    :param job_id: the job's id (templated), e.g. ``"{{ ti.xcom_pull('submit_audit') }}"``.
    :param job_type: which job family, ``audit_query`` (see ``airflow_provider_genesys.jobs``).
    :param genesys_conn_id: the Airflow connection to use.
    :param deferrable: wait in the triggerer; default from ``[operators] default_deferrable``.
    :param poll_interval: seconds between status reads (also the poke interval when not deferrable).
    """

    template_fields: Sequence[str] = ("job_id",)
    def __init__(
        self,
        *,
        job_id: str,
        job_type: str = "audit_query",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        **kwargs: Any,
    ) -> None:
        job_family(job_type)  # fail at parse time on a typo
        self._wait_settings(deferrable, poll_interval, kwargs)
        super().__init__(**kwargs)
        self.job_id = job_id
        self.job_type = job_type

    @property
    def family(self) -> JobFamily:
        return job_family(self.job_type)

    def _done(self, state: str) -> dict[str, Any]:
        return {"job_id": self.job_id, "job_type": self.job_type, "state": state}

    def poke(self, context: Any) -> bool | PokeReturnValue:
        try:
            endpoint = self.family.status_endpoint(self.job_id)
        except ValueError as err:
            raise AirflowFailException(str(err)) from err
        status = self._get(endpoint)
        if status is _MISSING:
            return False
        try:
            job = job_status(self.family, self.job_id, status)
        except ValueError as err:
            raise AirflowFailException(str(err)) from err
        if not job.done:
            self.log.info(job.text)
            return False
        if not job.succeeded:
            raise AirflowFailException(job.text)
        self.log.info(job.text)
        return PokeReturnValue(is_done=True, xcom_value=self._done(job.outcome.state.value))

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        return self._poke_then_defer(
            context,
            lambda: GenesysCloudJobTrigger(
                job_id=self.job_id,
                job_type=self.job_type,
                genesys_conn_id=self.genesys_conn_id,
                poll_interval=self.poll_interval,
                end_time=time.time() + self.timeout,
            ),
            self._done("Succeeded"),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: return the XCom on success, raise with the job's message otherwise."""
        event = self._resumed(event, f"Genesys {self.job_type} job {self.job_id}")
        return self._done(event.get("state") or "Succeeded")


class GenesysCloudDataAvailabilitySensor(_GenesysSensor):
    """
    Wait until an interval can be extracted: it ended ``settle_minutes`` ago and Genesys' analytics data
    covers it (``dataAvailabilityDate`` of ``GET /api/v2/analytics/{conversations|users}/details/jobs/
    availability`` at or after the interval's end).

    Put it before a ``conversations`` or ``user_presence`` extract (with the same ``settle_minutes``): the
    extract refuses such an interval, this sensor waits for it instead. Returns ``{"source", "target",
    "available", "settled"}``. With ``deferrable=True`` the wait happens in the triggerer
    (:class:`GenesysCloudDataAvailabilityTrigger`) after one synchronous check.

    :param interval: ISO-8601 ``start/end`` whose end to wait for (templated); default: the DAG run's data
        interval, or for a manual run the previous UTC day (``airflow_provider_genesys.intervals``).
    :param source: the dataset to wait for: ``conversations`` (default) or ``user_presence`` (``users``, its
        older spelling, is accepted).
    :param settle_minutes: also wait until the interval ended this many minutes ago (default 60, as the
        extract).
    :param genesys_conn_id: the Airflow connection to use.
    :param deferrable: wait in the triggerer; default from ``[operators] default_deferrable``.
    :param poll_interval: seconds between reads (also the poke interval when not deferrable).
    """

    template_fields: Sequence[str] = ("interval",)
    def __init__(
        self,
        *,
        interval: str | None = None,
        source: str = "conversations",
        settle_minutes: float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 300.0,
        **kwargs: Any,
    ) -> None:
        source = source_dataset(source)  # fail at parse time on a typo
        settle_delta(settle_minutes)
        self._wait_settings(deferrable, poll_interval, kwargs)
        super().__init__(**kwargs)
        self.interval = interval
        self.source = source
        self.settle_minutes = settle_minutes

    def _target(self, context: Any) -> datetime:
        return resolve_data_interval(context, self.interval, task=f"{type(self).__name__} {self.task_id}").end

    def _settled(self, target: datetime) -> datetime:
        return target + settle_delta(self.settle_minutes)

    def _result(self, target: datetime, available: datetime) -> dict[str, Any]:
        return {"source": self.source, "target": iso(target), "available": iso(available),
                "settled": iso(self._settled(target))}

    def poke(self, context: Any) -> bool | PokeReturnValue:
        target = self._target(context)
        settled = self._settled(target)
        if datetime.now(timezone.utc) < settled:
            self.log.info("The interval ending %s settles at %s (settle_minutes); waiting", iso(target), iso(settled))
            return False
        endpoint = availability_endpoint(self.source)
        body = self._get(endpoint)
        if body is _MISSING:
            return False
        try:
            available = availability_date(body, endpoint)
        except GenesysCloudError as err:
            raise AirflowFailException(str(err)) from err
        if available < target:
            self.log.info("Genesys %s data is available up to %s; waiting for %s", self.source, iso(available),
                          iso(target))
            return False
        self.log.info("Genesys %s data is available up to %s (needed %s)", self.source, iso(available), iso(target))
        return PokeReturnValue(is_done=True, xcom_value=self._result(target, available))

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        return self._poke_then_defer(
            context,
            lambda: GenesysCloudDataAvailabilityTrigger(
                target=iso(self._target(context)),
                source=self.source,
                settled=iso(self._settled(self._target(context))),
                genesys_conn_id=self.genesys_conn_id,
                poll_interval=self.poll_interval,
                end_time=time.time() + self.timeout,
            ),
            None,
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: the XCom on success, a timeout or failure otherwise."""
        event = self._resumed(event, f"Genesys {self.source} data availability")
        return {"source": self.source, "target": event.get("target"), "available": event.get("available"),
                "settled": event.get("settled")}
