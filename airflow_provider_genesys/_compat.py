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

# The deprecation warning of Airflow's providers: airflow.exceptions on every 3.x line we declare.
from airflow.exceptions import AirflowProviderDeprecationWarning

try:
    from airflow.sdk import BaseHook
except ImportError:  # Airflow < 3.1
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow < 3.2
    from airflow.configuration import conf  # type: ignore[no-redef]



def mask_secret_quietly(secret: str) -> None:
    """Register ``secret`` with Airflow's secrets masker without Airflow itself printing it.

    ``airflow.sdk.log.mask_secret`` masks the value in the task process, then sends it to the supervisor in a
    ``MaskSecret`` message. Under Airflow's in-process runner (``airflow dags test``, ``airflow tasks test``,
    ``dag.test()``) that message goes through ``InProcessSupervisorComms``, which logs it, value included, at
    DEBUG (``Sending request msg=MaskSecret(value=...)``; every release from 3.1.0 to 3.3.2). There the task and
    its "supervisor" are one process with one masker, so registering the value with that masker directly masks
    it everywhere the message would have, and prints nothing. Under a real supervisor (a worker, the triggerer)
    the message is needed and its log line omits the body: ``mask_secret`` as usual.
    """
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.log import mask_secret

    if type(getattr(task_runner, "SUPERVISOR_COMMS", None)).__name__ == "InProcessSupervisorComms":
        try:
            from airflow.sdk._shared.secrets_masker import _secrets_masker  # the masker mask_secret fills (3.1-3.3)
        except ImportError:  # a later layout: fall back to the public call (its DEBUG line included)
            pass
        else:
            _secrets_masker().add_mask(secret)
            return
    mask_secret(secret)


__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowProviderDeprecationWarning",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "TaskDeferred",
    "conf",
    "mask_secret_quietly",
]
