"""GenesysCloudAuditQueryOperator: submit an audit query and hand its transaction id to the sensor.

It only submits (``POST /api/v2/audits/query``); waiting belongs to ``GenesysCloudJobSensor`` (deferrable)
and reading the results to a task of your own (``hook.paginate`` on the results path). Keeping the three
apart means a retry of the wait never submits a second query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.data_interval import resolve_data_interval
from airflow_provider_genesys.jobs import job_family
from airflow_provider_genesys.operators.base import DEFAULT_CONN_ID, GenesysCloudBaseOperator, api_errors_as_failures


class GenesysCloudAuditQueryOperator(GenesysCloudBaseOperator):
    """
    Submit a Genesys Cloud audit query and return its transaction id (pushed to XCom).

    :param service_name: the audited service, e.g. ``PeoplePermissions`` (roles, divisions and grants).
    :param interval: ISO-8601 ``start/end`` with time zones (templated); default: the run's data interval, or
        for a manual run the previous UTC day (``airflow_provider_genesys.intervals``).
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
        interval: str | None = None,
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

    def build_body(self, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The AuditQueryRequest body, validated so a bad template fails before any request."""
        if not isinstance(self.service_name, str) or not self.service_name.strip():
            raise AirflowFailException("service_name is required, e.g. service_name='PeoplePermissions'")
        interval = resolve_data_interval(context or {}, self.interval, task=f"{type(self).__name__} {self.task_id}")
        body: dict[str, Any] = {"interval": str(interval), "serviceName": self.service_name.strip()}
        if self.filters:
            body["filters"] = [dict(item) for item in self.filters]
        if self.sort:
            body["sort"] = [dict(item) for item in self.sort]
        return body

    def execute(self, context: Any) -> str:
        family = job_family("audit_query")
        body = self.build_body(context)
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
