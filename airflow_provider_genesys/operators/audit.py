"""GenesysCloudAuditQueryOperator: submit an audit query and hand its transaction id to the sensor.

It only submits (``POST /api/v2/audits/query``); waiting belongs to ``GenesysCloudJobSensor`` (deferrable)
and reading the results to a task of your own (``hook.paginate`` on the results path). Keeping the three
apart means a retry of the wait never submits a second query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.jobs import job_family
from airflow_provider_genesys.operators.base import DEFAULT_CONN_ID, GenesysCloudBaseOperator, api_errors_as_failures

# Genesys' audit query interval: ISO-8601 "start/end", e.g. 2025-04-01T00:00:00Z/2025-04-02T00:00:00Z.
DEFAULT_INTERVAL = "{{ data_interval_start | ts }}/{{ data_interval_end | ts }}"


def parse_interval(interval: str) -> tuple[datetime, datetime]:
    """Check an ISO-8601 ``start/end`` interval; the error says what is wrong and shows the format."""
    example = "2025-04-01T00:00:00Z/2025-04-02T00:00:00Z"
    parts = interval.split("/") if isinstance(interval, str) else []
    try:
        if len(parts) != 2:
            raise ValueError("expected exactly one '/'")
        start, end = (datetime.fromisoformat(part.strip().replace("Z", "+00:00")) for part in parts)
    except ValueError as err:
        raise ValueError(
            f"interval {interval!r} is not an ISO-8601 'start/end' interval ({err}); e.g. {example}"
        ) from None
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(
            f"interval {interval!r} needs time zones (end each time with Z); e.g. {example}"
        ) from None
    if start >= end:
        raise ValueError(f"interval {interval!r} is empty: its start must be before its end")
    return start, end


class GenesysCloudAuditQueryOperator(GenesysCloudBaseOperator):
    """
    Submit a Genesys Cloud audit query and return its transaction id (pushed to XCom).

    :param service_name: the audited service, e.g. ``PeoplePermissions`` (roles, divisions and grants).
    :param interval: ISO-8601 ``start/end`` (templated); default the run's data interval.
    :param filters: ``[{"property": "EntityType", "value": "Role"}, ...]`` (templated).
    :param sort: ``[{"name": "Timestamp", "sortOrder": "descending"}]`` (templated), optional.
    :param genesys_conn_id: the Airflow connection to use.
    """

    template_fields: Sequence[str] = ("service_name", "interval", "filters", "sort")
    template_fields_renderers = {"filters": "json", "sort": "json"}

    def __init__(
        self,
        *,
        service_name: str,
        interval: str = DEFAULT_INTERVAL,
        filters: Sequence[Mapping[str, Any]] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        genesys_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(genesys_conn_id=genesys_conn_id, **kwargs)
        self.service_name = service_name
        self.interval = interval
        self.filters = filters
        self.sort = sort

    def build_body(self) -> dict[str, Any]:
        """The AuditQueryRequest body, validated so a bad template fails before any request."""
        if not isinstance(self.service_name, str) or not self.service_name.strip():
            raise AirflowFailException("service_name is required, e.g. service_name='PeoplePermissions'")
        try:
            parse_interval(self.interval)
        except ValueError as err:
            raise AirflowFailException(str(err)) from None
        body: dict[str, Any] = {"interval": self.interval.strip(), "serviceName": self.service_name.strip()}
        if self.filters:
            body["filters"] = [dict(item) for item in self.filters]
        if self.sort:
            body["sort"] = [dict(item) for item in self.sort]
        return body

    def execute(self, context: Any) -> str:
        family = job_family("audit_query")
        body = self.build_body()
        with self.hook as hook, api_errors_as_failures():
            # A query only reads: a second submission is harmless (the first expires unread), so it is retried.
            submitted = hook.request("POST", family.submit_path, json=body, retry_non_idempotent=True)
        try:
            job_id = family.job_id_of(submitted)
        except ValueError as err:
            raise AirflowFailException(str(err)) from None
        self.log.info(
            "Submitted audit query %s for %s over %s (state %s)",
            job_id,
            body["serviceName"],
            body["interval"],
            (submitted or {}).get("state"),
        )
        return job_id
