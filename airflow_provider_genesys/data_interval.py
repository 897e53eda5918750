"""The Airflow face of ``intervals.py``: the interval a task works on, read from its context.

One function for every operator, sensor and example DAG task, so a scheduled run, a manual run and an
explicit ``interval="start/end"`` mean the same thing in all of them, and a bad interval fails the task at
once (``AirflowFailException``: retrying cannot fix it) with a message saying what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.intervals import Interval, IntervalError, resolve_interval


def resolve_data_interval(context: Mapping[str, Any], interval: str | None = None, *, task: str = "") -> Interval:
    """``interval`` when given, else the run's data interval, else (a manual run) the previous UTC day.

    ``task`` (e.g. ``"GenesysCloudExtractOperator"``) prefixes the failure message.
    """
    # Context values may be lazy proxies: read what they stand for by truthiness, never with `is None`.
    start = context.get("data_interval_start") or None
    end = context.get("data_interval_end") or None
    try:
        return resolve_interval(interval, start, end)
    except IntervalError as err:
        raise AirflowFailException(f"{task}: {err}" if task else str(err)) from None
