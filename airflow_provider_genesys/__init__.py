"""Apache Airflow provider for Genesys Cloud (formerly PureCloud)."""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""
    from airflow_provider_genesys._provider_info import PROVIDER_INFO

    return PROVIDER_INFO
