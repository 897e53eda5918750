"""What every Genesys Cloud operator and sensor shares: the connection argument, the hook, the error policy.

Errors: ``api_errors_as_failures`` (from the hook module) fails the task at once on what a retry cannot
fix or must not repeat (bad connection, refused credentials, API errors the retry table in retrypolicy.py
says fail now) and lets retryable API errors reach Airflow's task retries (sensors: the next poke).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_genesys._provider_info import DEFAULT_CONN_ID
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook, api_errors_as_failures

__all__ = ["DEFAULT_CONN_ID", "GenesysCloudBaseOperator", "GenesysCloudTaskMixin", "api_errors_as_failures"]


def has_template(value: Any) -> bool:
    """Whether an argument is a Jinja template (checked when rendered, not when the DAG is parsed)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class GenesysCloudTaskMixin:
    """
    The Genesys part of an operator or sensor: one hook per task, built from ``genesys_conn_id`` when first
    used. Put it before Airflow's base class (``class X(GenesysCloudTaskMixin, BaseSensorOperator)``).

    :param genesys_conn_id: the Genesys Cloud connection.
    """

    ui_color = "#ff4f1f"

    def __init__(self, *, genesys_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.genesys_conn_id = genesys_conn_id

    @cached_property
    def hook(self) -> GenesysCloudHook:
        """No network until the first request; close it with ``with self.hook:`` around the work."""
        return GenesysCloudHook(genesys_conn_id=self.genesys_conn_id)


class GenesysCloudBaseOperator(GenesysCloudTaskMixin, BaseOperator):
    """
    Base of the Genesys Cloud operators (:class:`GenesysCloudTaskMixin` on Airflow's ``BaseOperator``).

    :param genesys_conn_id: the Genesys Cloud connection.
    """
