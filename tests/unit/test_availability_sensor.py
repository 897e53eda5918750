"""GenesysCloudDataAvailabilitySensor and its trigger against the emulator's movable availability date."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from airflow.sdk import PokeReturnValue

from airflow_provider_genesys._compat import AirflowFailException, AirflowSensorTimeout, TaskDeferred
from airflow_provider_genesys.sensors.genesys import GenesysCloudDataAvailabilitySensor
from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.triggers.genesys import GenesysCloudDataAvailabilityTrigger

from . import test_triggers

collect = test_triggers.collect
loop_sleeps = test_triggers.loop_sleeps  # fixture: the trigger's waits move the emulator clock (and availability)

INTERVAL = "2026-03-02T00:00:00Z/2026-03-03T00:00:00Z"
LAG = 6 * 3600.0


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=10, data_lag_seconds=LAG) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", json.dumps(emulator.connection_dict()))
        yield emulator


def iso_in(seconds: float) -> str:
    """The instant ``seconds`` from now (wall clock), as the availability target."""
    return datetime.fromtimestamp(datetime.now(timezone.utc).timestamp() + seconds, timezone.utc).isoformat()


def test_trigger_waits_until_the_date_reaches_the_target(emu, loop_sleeps) -> None:
    # available = now - 6 h; target = now - 6 h + 14 min: reached after three 5-minute waits
    events = collect(GenesysCloudDataAvailabilityTrigger(target=iso_in(-LAG + 840), poll_interval=300))
    assert loop_sleeps == [300, 300, 300]
    assert len(events) == 1
    assert events[0]["status"] == "success"
    assert events[0]["available"] >= events[0]["target"][:19]


def test_trigger_serializes_and_reports_errors_and_timeouts(emu, loop_sleeps) -> None:
    trigger = GenesysCloudDataAvailabilityTrigger(target="2026-03-03T00:00:00Z", source="users",
                                                  genesys_conn_id="gc", poll_interval=60, end_time=5.0)
    assert trigger.serialize() == (
        "airflow_provider_genesys.triggers.genesys.GenesysCloudDataAvailabilityTrigger",
        {"target": "2026-03-03T00:00:00Z", "source": "users", "settled": None, "genesys_conn_id": "gc",
         "poll_interval": 60.0, "end_time": 5.0},
    )
    (bad,) = collect(GenesysCloudDataAvailabilityTrigger(target="2026-03-03T00:00:00Z", source="chats"))
    assert bad["status"] == "error"
    assert "conversations, user_presence" in bad["message"]
    (late,) = collect(GenesysCloudDataAvailabilityTrigger(target=iso_in(3600), end_time=1.0))
    assert late["status"] == "timeout"
    assert loop_sleeps == []


def test_sensor_pokes_until_the_interval_is_covered(emu) -> None:
    sensor = GenesysCloudDataAvailabilitySensor(task_id="wait", interval=INTERVAL, deferrable=False)
    emu.analytics.jobs.set_availability("2026-03-02T23:00:00Z")
    assert sensor.poke({}) is False
    emu.analytics.jobs.set_availability("2026-03-03T00:05:00Z")
    done = sensor.poke({})
    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    assert done.xcom_value == {"source": "conversations", "target": "2026-03-03T00:00:00.000Z",
                               "available": "2026-03-03T00:05:00.000Z", "settled": "2026-03-03T01:00:00.000Z"}


def test_sensor_takes_the_data_interval_and_defers_with_a_trigger(emu) -> None:
    emu.analytics.jobs.set_availability("2026-03-02T12:00:00Z")
    context = {"data_interval_start": datetime(2026, 3, 2, tzinfo=timezone.utc),
               "data_interval_end": datetime(2026, 3, 3, tzinfo=timezone.utc)}
    sensor = GenesysCloudDataAvailabilitySensor(task_id="wait", source="users", deferrable=True, poll_interval=60,
                                                timeout=3600)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, GenesysCloudDataAvailabilityTrigger)
    # "users" is the old spelling of the user_presence dataset: accepted, and named as the dataset
    assert (trigger.target, trigger.source, trigger.poll_interval) == ("2026-03-03T00:00:00.000Z", "user_presence",
                                                                       60.0)
    assert trigger.settled == "2026-03-03T01:00:00.000Z"  # end + the default settle_minutes (60)
    emu.analytics.jobs.set_availability("2026-03-03T00:00:00Z")
    assert sensor.execute(context)["available"] == "2026-03-03T00:00:00.000Z"  # already there: no deferral


def test_sensor_resumes_from_trigger_events_and_rejects_bad_input() -> None:
    sensor = GenesysCloudDataAvailabilitySensor(task_id="wait", interval=INTERVAL)
    ok = sensor.execute_complete({}, {"status": "success", "target": "t", "available": "a", "settled": "s",
                                      "message": "m"})
    assert ok == {"source": "conversations", "target": "t", "available": "a", "settled": "s"}
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete({}, {"status": "timeout", "message": "late"})
    with pytest.raises(AirflowFailException, match="boom"):
        sensor.execute_complete({}, {"status": "error", "message": "boom"})
    with pytest.raises(ValueError, match="use one of: conversations, user_presence"):
        GenesysCloudDataAvailabilitySensor(task_id="x", source="chats")
    with pytest.raises(AirflowFailException, match="not an ISO-8601 interval"):
        GenesysCloudDataAvailabilitySensor(task_id="x", interval="today").poke({})


def test_sensor_and_trigger_also_wait_for_the_interval_to_settle(emu, loop_sleeps) -> None:
    """Data available is not enough: the interval must have ended settle_minutes ago (default 60)."""
    emu.analytics.jobs.set_availability("2099-01-01T00:00:00Z")
    recent = f"{iso_in(-7200)}/{iso_in(-600)}"  # ended ten minutes ago
    assert GenesysCloudDataAvailabilitySensor(task_id="wait", interval=recent).poke({}) is False
    done = GenesysCloudDataAvailabilitySensor(task_id="wait", interval=recent, settle_minutes=5).poke({})
    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    (early,) = collect(GenesysCloudDataAvailabilityTrigger(target=iso_in(-600), settled=iso_in(3000), end_time=1.0))
    assert early["status"] == "timeout"  # available, but not settled before the deadline
    (settled,) = collect(GenesysCloudDataAvailabilityTrigger(target=iso_in(-600), settled=iso_in(-300)))
    assert settled["status"] == "success"
    with pytest.raises(ValueError, match="settle_minutes must be >= 0"):
        GenesysCloudDataAvailabilitySensor(task_id="wait", settle_minutes=-1)
