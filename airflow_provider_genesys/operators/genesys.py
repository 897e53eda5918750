"""Operators: one API call for ops automation, and dataset extracts streamed to object storage.

Both are thin: the HTTP work is the client's (``client.py``), the extract work the engine's
(``extract/``). Here we only read arguments, render templates, and decide which errors fail the task
at once (retrying cannot fix a 4xx) and which ones Airflow's task retries should see.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import fsspec
from airflow.sdk import ObjectStoragePath

from airflow_provider_genesys import lineage
from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.data_interval import resolve_data_interval
from airflow_provider_genesys.extract import DATASETS, USER_STATES, ExtractOptions, run_extract
from airflow_provider_genesys.extract.plans import INTERVAL_DATASETS, unknown_dataset_message
from airflow_provider_genesys.extract.writer import DestinationError
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
from airflow_provider_genesys.intervals import IN_PROGRESS_CHOICES, settle_delta
from airflow_provider_genesys.operators.audit import GenesysCloudAuditQueryOperator
from airflow_provider_genesys.operators.base import (
    DEFAULT_CONN_ID,
    GenesysCloudBaseOperator,
    api_errors_as_failures,
    has_template,
)

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_MAX_XCOM_BYTES = 1_048_576


def _check_method(method: str) -> str:
    """The method upper-cased; ValueError naming the choices otherwise."""
    upper = str(method).upper()
    if upper not in HTTP_METHODS:
        raise ValueError(f"method {method!r} is not supported; use one of {', '.join(HTTP_METHODS)}.")
    return upper


class GenesysCloudApiOperator(GenesysCloudBaseOperator):
    """
    Make one Genesys Cloud API call (create, update, delete, grant, read) and push its JSON body to XCom.

    :param endpoint: API path, e.g. ``/api/v2/users/{{ params.user_id }}/roles`` (templated).
    :param method: GET, POST, PUT, PATCH or DELETE (templated).
    :param query_params: query parameters; lists are sent comma-joined (templated).
    :param body: JSON request body (templated).
    :param paginate: follow the listing's pages and push the list of all entities (GET only).
    :param max_xcom_bytes: largest serialized result pushed to XCom; bigger fails the task and points to
        ``GenesysCloudExtractOperator``.
    :param retry_non_idempotent: treat a POST/PATCH as safe to send twice (a query), as the retry table's
        middle column; ``None`` takes the connection's setting. 429 is always retried (it was not processed).
    :param genesys_conn_id: the Genesys Cloud connection.
    """

    template_fields: Sequence[str] = ("endpoint", "method", "query_params", "body")
    template_fields_renderers = {"query_params": "json", "body": "json"}

    def __init__(
        self,
        *,
        endpoint: str,
        method: str = "GET",
        query_params: Mapping[str, Any] | None = None,
        body: Any = None,
        paginate: bool = False,
        max_xcom_bytes: int = DEFAULT_MAX_XCOM_BYTES,
        retry_non_idempotent: bool | None = None,
        genesys_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(genesys_conn_id=genesys_conn_id, **kwargs)
        if not has_template(method):
            _check_method(method)
        if max_xcom_bytes < 0:
            raise ValueError(f"max_xcom_bytes must be >= 0; got {max_xcom_bytes}")
        self.endpoint = endpoint
        self.method = method
        self.query_params = query_params
        self.body = body
        self.paginate = paginate
        self.max_xcom_bytes = max_xcom_bytes
        self.retry_non_idempotent = retry_non_idempotent

    def execute(self, context: Any) -> Any:
        try:
            method = _check_method(self.method)
        except ValueError as err:
            raise AirflowFailException(str(err)) from None
        if self.paginate and method != "GET":
            raise AirflowFailException(f"paginate=True needs method GET; got {method}.")
        with self.hook as hook, api_errors_as_failures():
            if self.paginate:
                result: Any = self._collect(hook)
            else:
                result = hook.request(
                    method, self.endpoint, params=self.query_params, json=self.body,
                    retry_non_idempotent=self.retry_non_idempotent,
                )
            requests = hook.stats.requests
        self._guard_size(len(json.dumps(result, default=str).encode()))
        self.log.info("%s %s done (%d requests)", method, self.endpoint, requests)
        return result

    def _collect(self, hook: GenesysCloudHook) -> list[Any]:
        """All entities, failing as soon as they outgrow the XCom limit (not after fetching everything)."""
        entities: list[Any] = []
        size = 2  # the brackets
        for entity in hook.paginate(self.endpoint, params=self.query_params):
            size += len(json.dumps(entity, default=str).encode()) + 2
            self._guard_size(size)
            entities.append(entity)
        return entities

    def _guard_size(self, size: int) -> None:
        if size > self.max_xcom_bytes:
            raise AirflowFailException(
                f"The result of {self.endpoint} is larger than max_xcom_bytes "
                f"({self.max_xcom_bytes:,} bytes) and is not pushed to XCom. Use GenesysCloudExtractOperator "
                "to stream listings to storage, or raise max_xcom_bytes if your XCom backend can hold it."
            )


DESTINATION_EXAMPLES = "file:///data/genesys/users.ndjson or s3://bucket/genesys/users.ndjson.gz"


def storage_path(destination: str, conn_id: str | None = None) -> ObjectStoragePath:
    """The destination as an ``ObjectStoragePath``; a plain absolute path means ``file://``.

    Checks only the spelling (no storage access: this also runs when the DAG is parsed).
    """
    if not isinstance(destination, str) or not destination.strip():
        raise AirflowFailException(f"destination must be a file path or URI, e.g. {DESTINATION_EXAMPLES}")
    if "://" not in destination:
        if not destination.startswith("/"):
            raise AirflowFailException(
                f"destination {destination!r} is relative; give an absolute path or a URI such as "
                f"{DESTINATION_EXAMPLES}."
            )
        destination = f"file://{destination}"
    _check_file_uri(destination)
    if destination.endswith("/"):
        raise AirflowFailException(
            f"destination {destination!r} names a folder; end it with a file name, e.g. {DESTINATION_EXAMPLES}."
        )
    try:
        scheme = destination.split("://", 1)[0]
        if scheme not in fsspec.available_protocols():  # universal-pathlib < 0.3 (Airflow 3.1) defers this check
            raise ValueError(f"Unsupported filesystem: {scheme!r}")
        return ObjectStoragePath(destination, conn_id=conn_id)
    except (ValueError, ImportError) as err:  # unknown scheme, or its filesystem package is not installed
        raise AirflowFailException(
            f"destination {destination!r} cannot be opened ({err}). Use file:///..., or a scheme of an "
            "installed Airflow provider (s3:// needs apache-airflow-providers-amazon, gs:// "
            "apache-airflow-providers-google, ...)."
        ) from None


def _check_file_uri(destination: str) -> None:
    """``file://name/x`` makes ``name`` a host, and the file would land under the worker's working folder."""
    scheme, _, rest = destination.partition("://")
    if scheme.lower() == "file" and not rest.startswith("/"):
        host = rest.split("/", 1)[0]
        raise AirflowFailException(
            f"destination {destination!r} names host {host!r} after file:// (two slashes); a local file needs "
            f"three: file:///{rest}"
        )


# Errors writing the destination that a task retry cannot fix (DestinationError: full, read-only, forbidden).
_DESTINATION_ERRORS = (
    FileExistsError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, DestinationError,
)


class GenesysCloudExtractOperator(GenesysCloudBaseOperator):
    """
    Stream a Genesys Cloud dataset to storage as NDJSON (one record per line), atomically.

    :param dataset: a name of ``airflow_provider_genesys.extract.plans.PLANS`` (docs/operators.md lists them
        with each record shape; anything else fails at parse time with the list).
    :param destination: path or URI understood by ``ObjectStoragePath`` (``file:///...``, ``s3://...``);
        gzip when it ends in ``.gz`` (templated).
    :param destination_conn_id: connection for the destination's storage (e.g. ``aws_default``).
    :param state: users only: ``active``, ``inactive``, ``deleted`` or ``any`` (default).
    :param expand: users only: ``expand`` values, e.g. ``["authorization", "dateLastLogin"]``.
    :param max_workers: pages fetched in parallel (all inside the connection's rate-limit pacer).
    :param interval: interval datasets (``conversations``, ``user_presence``): ISO-8601 ``start/end``
        (templated); default: the DAG run's data interval, or for a manual run the previous UTC day
        (``airflow_provider_genesys.intervals``). Split a long one with
        ``airflow_provider_genesys.dag_helpers.interval_chunks`` and ``expand`` over the chunks.
    :param settle_minutes: interval datasets: extract an interval only once it ended this many minutes ago
        (default 60); earlier, the task fails with a retryable error.
    :param in_progress: ``conversations``: a conversation without ``conversationEnd`` fails the task with a
        retryable error (``"refuse"``, default) or is written as Genesys has it (``"write"``).
    :param poll_interval: seconds between analytics job status reads (default: 1, 2, 4, ... up to 15).
    :param job_attempts: analytics jobs submitted in all when one fails or its results expire.
    :param progress_interval: seconds between progress log lines.
    :param genesys_conn_id: the Genesys Cloud connection.

    The destination is the task's outlet: an ``Asset``, or for a templated destination an ``AssetAlias`` that
    receives the rendered ``Asset`` when the file is written (pass ``outlets`` to declare your own). With the
    OpenLineage provider installed it reports the Genesys dataset as input and the file as output
    (``lineage.py``). Returns ``{dataset, path, records, pages, requests,
    rate_limited, seconds}``.
    """

    template_fields: Sequence[str] = ("destination", "interval")

    def __init__(
        self,
        *,
        dataset: str,
        destination: str,
        genesys_conn_id: str = DEFAULT_CONN_ID,
        destination_conn_id: str | None = None,
        state: str = "any",
        expand: str | Sequence[str] | None = None,
        max_workers: int = 4,
        progress_interval: float = 30.0,
        interval: str | None = None,
        poll_interval: float | None = None,
        job_attempts: int = 3,
        settle_minutes: float | None = None,
        in_progress: str = "refuse",
        **kwargs: Any,
    ) -> None:
        if dataset not in DATASETS:
            raise ValueError(unknown_dataset_message(dataset))
        if state not in USER_STATES:
            raise ValueError(f"state {state!r} is not valid; use one of: {', '.join(USER_STATES)}.")
        expand_list = [expand] if isinstance(expand, str) else list(expand or [])
        if dataset != "users" and (expand_list or state != "any"):
            raise ValueError(f"state and expand apply to the users dataset only, not to {dataset!r}.")
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1; got {max_workers}.")
        settle_delta(settle_minutes)  # ValueError at parse time when negative
        if in_progress not in IN_PROGRESS_CHOICES:
            raise ValueError(f"in_progress {in_progress!r} is not valid; use one of: {', '.join(IN_PROGRESS_CHOICES)}.")
        if "outlets" not in kwargs and isinstance(destination, str):
            uri = None if has_template(destination) else str(storage_path(destination))
            kwargs["outlets"] = [lineage.destination_outlet(destination, uri)]
        super().__init__(genesys_conn_id=genesys_conn_id, **kwargs)
        self.dataset = dataset
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.state = state
        self.expand = expand_list
        self.max_workers = max_workers
        self.progress_interval = progress_interval
        self.interval = interval
        self.poll_interval = poll_interval
        self.job_attempts = job_attempts
        self.settle_minutes = settle_minutes
        self.in_progress = in_progress

    def _interval(self, context: Any) -> str | None:
        """Interval datasets: the resolved interval (``intervals.py``); the others take none."""
        if self.dataset not in INTERVAL_DATASETS:
            return None
        return str(resolve_data_interval(context, self.interval, task=f"{type(self).__name__} {self.task_id}"))

    def execute(self, context: Any) -> dict[str, Any]:
        destination = storage_path(self.destination, self.destination_conn_id)
        interval = self._interval(context)
        options = ExtractOptions(
            state=self.state, expand=tuple(self.expand), max_workers=self.max_workers, interval=interval,
            poll_interval=self.poll_interval, job_attempts=self.job_attempts,
            settle_minutes=self.settle_minutes, in_progress=self.in_progress,
        )
        if destination.is_dir():
            raise AirflowFailException(
                f"destination {destination} is an existing folder; add a file name, e.g. "
                f"{str(destination).rstrip('/')}/{self.dataset}.ndjson"
            )
        self.log.info("Extracting %s to %s%s", self.dataset, destination, f" for {interval}" if interval else "")
        with self.hook as hook, api_errors_as_failures():
            try:
                result = run_extract(
                    hook.client, self.dataset, destination, options,
                    progress_interval=self.progress_interval, logger=self.log,
                )
            except _DESTINATION_ERRORS as err:
                what = str(err.strerror) if isinstance(err, DestinationError) else (
                    f"Could not write destination {destination}: {err}"
                )
                raise AirflowFailException(
                    f"{what}. Check that the path is writable by the worker and has space (or the "
                    "destination_conn_id's permissions); nothing was written there."
                ) from err
        lineage.emit_destination_asset(self.outlets, context, str(destination))
        self.log.info(
            "Wrote %d %s records to %s: %d requests, %d rate limited, %.1f s",
            result["records"], self.dataset, result["path"], result["requests"], result["rate_limited"],
            result["seconds"],
        )
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage input (the organisation's dataset) and output (the destination); see ``lineage.py``."""
        destination = str(storage_path(self.destination, self.destination_conn_id))
        return lineage.extract_lineage(self.hook, self.dataset, destination)

__all__ = [
    "GenesysCloudApiOperator",
    "GenesysCloudAuditQueryOperator",
    "GenesysCloudExtractOperator",
    "api_errors_as_failures",
    "storage_path",
]
