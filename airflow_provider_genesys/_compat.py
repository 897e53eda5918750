"""Airflow names whose import path changed within 3.x, imported from the newest path with a fallback.

Airflow 3.1 added ``airflow.sdk.BaseHook`` and 3.2 moved the task exceptions and ``conf`` into the Task SDK;
on older 3.x releases the same objects live at their original paths (which 3.2+ deprecates), so the provider
(and its tests) import them once here and the rest of the package stays version-agnostic. Remove a fallback when the
minimum supported Airflow version passes the release noted beside it.
"""

from __future__ import annotations

try:
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
except ImportError:  # Airflow < 3.2
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )

try:
    from airflow.sdk import BaseHook
except ImportError:  # Airflow < 3.1
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow < 3.2
    from airflow.configuration import conf  # type: ignore[no-redef]

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "TaskDeferred",
    "conf",
]
