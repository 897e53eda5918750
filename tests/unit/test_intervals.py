"""One reading of the data interval (``intervals.py``, ``data_interval.py``) through every face that takes one:
the extract operator, the audit query operator, the availability sensor and the conversations DAG's task.

Each case (scheduled, manual, explicit, time zones, bad) is asserted on what the face actually does: the
interval of the analytics job it submitted, of the audit query it submitted, the end the sensor waits for,
the interval the DAG task returns. A bad interval fails every face at once with AirflowFailException
(never a ValueError Airflow would retry), before any request.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
from airflow_provider_genesys.intervals import IntervalError, iso, parse_interval, previous_utc_day, resolve_interval
from airflow_provider_genesys.operators.audit import GenesysCloudAuditQueryOperator
from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator
from airflow_provider_genesys.sensors.genesys import GenesysCloudDataAvailabilitySensor
from airflow_provider_genesys.testing import GenesysCloudEmulator

UTC = timezone.utc
SCHEDULED = {"data_interval_start": datetime(2026, 3, 2, tzinfo=UTC),
             "data_interval_end": datetime(2026, 3, 3, tzinfo=UTC)}
# Airflow 3 gives a manual run an empty data interval at its logical date
MANUAL = {"data_interval_start": datetime(2026, 3, 5, 14, 30, tzinfo=UTC),
          "data_interval_end": datetime(2026, 3, 5, 14, 30, tzinfo=UTC)}
PARIS = {"data_interval_start": pendulum.datetime(2026, 3, 2, tz="Europe/Paris"),
         "data_interval_end": pendulum.datetime(2026, 3, 3, tz="Europe/Paris")}
NAIVE = {"data_interval_start": datetime(2026, 3, 2), "data_interval_end": datetime(2026, 3, 3)}

# (context, explicit interval) -> the interval every face must use
CASES = {
    "scheduled": (SCHEDULED, None, "2026-03-02T00:00:00.000Z/2026-03-03T00:00:00.000Z"),
    "manual: the previous UTC day": (MANUAL, None, "2026-03-04T00:00:00.000Z/2026-03-05T00:00:00.000Z"),
    "explicit wins": (SCHEDULED, "2026-03-04T06:00:00Z/2026-03-04T12:00:00Z",
                      "2026-03-04T06:00:00.000Z/2026-03-04T12:00:00.000Z"),
    "explicit offsets": (MANUAL, "2026-03-04T08:00:00+02:00/2026-03-04T14:00:00+02:00",
                         "2026-03-04T06:00:00.000Z/2026-03-04T12:00:00.000Z"),
    "data interval in another zone": (PARIS, None, "2026-03-01T23:00:00.000Z/2026-03-02T23:00:00.000Z"),
    "naive data interval is UTC": (NAIVE, None, "2026-03-02T00:00:00.000Z/2026-03-03T00:00:00.000Z"),
}
BAD = {
    "unparsable": (SCHEDULED, "yesterday", "not an ISO-8601 interval 'start/end'"),
    "bad instant": (SCHEDULED, "2026-03-04T06:00:00Z/tomorrow", "not an ISO-8601 interval 'start/end'"),
    "no time zone": (SCHEDULED, "2026-03-04T06:00:00/2026-03-04T12:00:00", "has no time zone; end each instant with Z"),
    "empty": (SCHEDULED, "2026-03-04T06:00:00Z/2026-03-04T06:00:00Z", "is empty"),
    "reversed": (SCHEDULED, "2026-03-04T12:00:00Z/2026-03-04T06:00:00Z", "before it starts"),
    "empty text": (SCHEDULED, "", "not an ISO-8601 interval"),
    "reversed data interval": ({"data_interval_start": SCHEDULED["data_interval_end"],
                                "data_interval_end": SCHEDULED["data_interval_start"]}, None,
                               "the run's data interval ends"),
}


@pytest.fixture(scope="module")
def emu() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=10, seed=3, job_seconds=0, rate_limit=100_000,
                              conversations_per_day=24) as emulator:
        emulator.analytics.jobs.set_availability("2026-04-01T00:00:00Z")
        yield emulator


@pytest.fixture
def conn(emu: GenesysCloudEmulator, monkeypatch: pytest.MonkeyPatch) -> GenesysCloudEmulator:
    monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", json.dumps(emu.connection_dict()))
    return emu


def via_extract(emu: GenesysCloudEmulator, context: dict, interval: str | None, tmp_path: Path) -> str:
    op = GenesysCloudExtractOperator(task_id="extract", dataset="conversations", interval=interval,
                                     destination=str(tmp_path / "c.ndjson"), poll_interval=0, settle_minutes=0)
    op.execute(context)
    job = emu.analytics.jobs.jobs[-1]
    return "/".join(iso(datetime.fromtimestamp(ms / 1000, UTC)) for ms in (job.start_ms, job.end_ms))


def via_audit(emu: GenesysCloudEmulator, context: dict, interval: str | None, tmp_path: Path) -> str:
    op = GenesysCloudAuditQueryOperator(task_id="audit", service_name="PeoplePermissions", interval=interval)
    job_id = op.execute(context)
    return GenesysCloudHook().request("GET", f"/api/v2/audits/query/{job_id}")["interval"]


def via_sensor(emu: GenesysCloudEmulator, context: dict, interval: str | None, tmp_path: Path) -> str:
    sensor = GenesysCloudDataAvailabilitySensor(task_id="wait", interval=interval, settle_minutes=0)
    return sensor.poke(context).xcom_value["target"]  # the sensor waits for the interval's end


def via_dag_task(emu: GenesysCloudEmulator, context: dict, interval: str | None, tmp_path: Path) -> str:
    assert interval is None  # the DAG's data_interval task takes the run's data interval only
    return conversations_dag().get_task("data_interval").python_callable(**context)


def conversations_dag() -> Any:
    path = Path(__file__).resolve().parents[2] / "dags_examples" / "genesys_conversations_daily.py"
    spec = importlib.util.spec_from_file_location("genesys_conversations_daily_for_test", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.genesys_conversations_daily()


FACES: dict[str, Callable[..., str]] = {
    "extract": via_extract, "audit": via_audit, "sensor": via_sensor, "dag task": via_dag_task,
}


def pairs(cases: dict[str, tuple]) -> list[tuple[str, str]]:
    return [(face, case) for case, (_, explicit, _) in cases.items() for face in FACES
            if not (face == "dag task" and explicit is not None)]


@pytest.mark.parametrize(("face", "case"), pairs(CASES))
def test_every_face_reads_the_interval_the_same_way(conn, face: str, case: str, tmp_path: Path) -> None:
    context, explicit, expected = CASES[case]
    found = FACES[face](conn, context, explicit, tmp_path)
    assert found == (expected.split("/")[1] if face == "sensor" else expected)


@pytest.mark.parametrize(("face", "case"), pairs(BAD))
def test_a_bad_interval_fails_every_face_at_once_saying_how_to_fix_it(conn, face: str, case: str,
                                                                      tmp_path: Path) -> None:
    context, explicit, match = BAD[case]
    before = conn.stats.requests
    with pytest.raises(AirflowFailException, match=match) as failed:
        FACES[face](conn, context, explicit, tmp_path)
    assert "2024-05-01T00:00:00Z/2024-05-02T00:00:00Z" in str(failed.value)  # the format, by example
    assert conn.stats.requests == before  # nothing was sent


def test_a_manual_run_without_any_date_takes_the_day_before_now() -> None:
    now = datetime(2026, 3, 5, 0, 0, 1, tzinfo=UTC)
    assert str(resolve_interval(None, None, None, now=now)) == "2026-03-04T00:00:00.000Z/2026-03-05T00:00:00.000Z"
    assert previous_utc_day(pendulum.datetime(2026, 3, 5, 0, 30, tz="Europe/Paris")) == previous_utc_day(
        datetime(2026, 3, 4, 23, 30, tzinfo=UTC))  # 00:30 in Paris is still the 4th in UTC
    assert resolve_interval(None, None, None).end.date() == datetime.now(UTC).date()


def test_the_core_error_is_a_value_error_and_intervals_are_utc() -> None:
    with pytest.raises(IntervalError):
        parse_interval("2026-03-04")
    assert issubclass(IntervalError, ValueError)  # callers without Airflow catch ValueError
    span = parse_interval(" 2026-03-04T08:00:00+02:00 / 2026-03-04T09:00:00Z ")
    assert (span.start.tzinfo, span.end - span.start) == (UTC, timedelta(hours=3))
