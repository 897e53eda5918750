"""GenesysCloudApiSensor and GenesysCloudJobSensor against a mocked Platform API."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from airflow.sdk import PokeReturnValue

from airflow_provider_genesys._compat import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from airflow_provider_genesys.sensors.genesys import GenesysCloudApiSensor, GenesysCloudJobSensor
from airflow_provider_genesys.triggers.genesys import GenesysCloudJobTrigger

API = "https://api.mypurecloud.com"
STATUS_URL = f"{API}/api/v2/audits/query/tx-1"


@pytest.fixture(autouse=True)
def genesys_conn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pre-issued token: no token endpoint to mock, one retry attempt so errors surface at once."""
    conn = {
        "conn_type": "genesys_cloud",
        "extra": {"grant_type": "access_token", "access_token": "t0k", "max_attempts": 1},
    }
    monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", json.dumps(conn))


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"status_code": status, "json": {"status": status, "code": code, "message": message}}


# -- GenesysCloudApiSensor -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one check"),
        ({"check": bool, "json_path": "state"}, "exactly one check"),
        ({"check": bool, "expected": "x"}, "expected= only works with json_path="),
        ({"check": "state == 1"}, "check must be a callable"),
    ],
)
def test_api_sensor_rejects_unclear_checks(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GenesysCloudApiSensor(task_id="s", endpoint="/api/v2/users/me", **kwargs)


def test_api_sensor_renders_templates_and_compares_path(requests_mock: Any) -> None:
    sensor = GenesysCloudApiSensor(
        task_id="s",
        endpoint="/api/v2/users/{{ params.user }}",
        query_params={"expand": "{{ params.expand }}"},
        json_path="{{ params.path }}",
        expected="{{ params.want }}",
    )
    sensor.render_template_fields(
        {"params": {"user": "u1", "expand": "authorization", "path": "entities.0.n", "want": "5"}}
    )
    assert (sensor.endpoint, sensor.query_params, sensor.json_path, sensor.expected) == (
        "/api/v2/users/u1",
        {"expand": "authorization"},
        "entities.0.n",
        "5",
    )
    route = requests_mock.get(
        f"{API}/api/v2/users/u1", [{"json": {"entities": [{"n": 4}]}}, {"json": {"entities": [{"n": 5}]}}]
    )
    assert sensor.poke({}) is False
    done = sensor.poke({})
    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    assert done.xcom_value == {"entities": [{"n": 5}]}
    assert route.last_request.qs == {"expand": ["authorization"]}


@pytest.mark.parametrize(
    ("body", "expected", "passes"),
    [
        ({"state": "Running"}, ["Succeeded", "Failed"], False),
        ({"state": "Failed"}, ["Succeeded", "Failed"], True),
        ({"ok": True}, "true", True),
        ({"ok": False}, "true", False),
        ({"entities": []}, None, False),  # no expected: present and truthy
        ({"entities": [{"id": "x"}]}, None, True),
        ({}, "anything", False),
    ],
)
def test_api_sensor_expected_forms(requests_mock: Any, body: dict, expected: Any, passes: bool) -> None:
    path = "entities.0" if expected is None else next(iter(body), "state")
    requests_mock.get(f"{API}/api/v2/thing", json=body)
    sensor = GenesysCloudApiSensor(task_id="s", endpoint="/api/v2/thing", json_path=path, expected=expected)
    assert bool(sensor.poke({})) is passes


def test_api_sensor_callable_and_xcom_path(requests_mock: Any) -> None:
    requests_mock.get(f"{API}/api/v2/organizations/me", json={"id": "o1", "features": {"x": True}})
    sensor = GenesysCloudApiSensor(
        task_id="s",
        endpoint="/api/v2/organizations/me",
        check=lambda body: body["features"]["x"],
        xcom_path="id",
    )
    assert sensor.poke({}).xcom_value == "o1"
    custom = GenesysCloudApiSensor(
        task_id="c",
        endpoint="/api/v2/organizations/me",
        check=lambda body: PokeReturnValue(True, body["id"] * 2),
    )
    assert custom.poke({}).xcom_value == "o1o1"


def test_api_sensor_404_fails_fast_unless_not_found_ok(requests_mock: Any) -> None:
    requests_mock.get(f"{API}/api/v2/users/u9", **_error(404, "not.found", "The user was not found"))
    strict = GenesysCloudApiSensor(task_id="s", endpoint="/api/v2/users/u9", json_path="id")
    with pytest.raises(AirflowFailException, match=r"404 not\.found: The user was not found"):
        strict.poke({})
    lenient = GenesysCloudApiSensor(
        task_id="s", endpoint="/api/v2/users/u9", json_path="id", not_found_ok=True
    )
    assert lenient.poke({}) is False


def test_api_sensor_keeps_poking_through_a_busy_api(requests_mock: Any) -> None:
    requests_mock.get(f"{API}/api/v2/users/u1", **_error(503, "service.unavailable", "busy"))
    sensor = GenesysCloudApiSensor(task_id="s", endpoint="/api/v2/users/u1", json_path="id")
    assert sensor.poke({}) is False


def test_api_sensor_reschedule_mode(requests_mock: Any) -> None:
    requests_mock.get(f"{API}/api/v2/users/u1", json={"state": "inactive"})
    sensor = GenesysCloudApiSensor(
        task_id="s", endpoint="/api/v2/users/u1", json_path="state", expected="active", mode="reschedule"
    )
    ti = mock.Mock()
    ti.get_first_reschedule_date.return_value = None
    with pytest.raises(AirflowRescheduleException):
        sensor.execute({"ti": ti})


# -- GenesysCloudJobSensor -------------------------------------------------------------------------


def _job(state: str, **extra: Any) -> dict[str, Any]:
    return {"json": {"id": "tx-1", "state": state, "serviceName": "PeoplePermissions", **extra}}


def test_job_sensor_pokes_until_succeeded(requests_mock: Any) -> None:
    requests_mock.get(STATUS_URL, [_job("Queued"), _job("Running"), _job("Succeeded")])
    sensor = GenesysCloudJobSensor(task_id="wait", job_id="tx-1", deferrable=False)
    assert sensor.poke({}) is False
    assert sensor.poke({}) is False
    done = sensor.poke({})
    assert done.xcom_value == {"job_id": "tx-1", "job_type": "audit_query", "state": "Succeeded"}


@pytest.mark.parametrize("state", ["Failed", "Cancelled"])
def test_job_sensor_fails_clearly(requests_mock: Any, state: str) -> None:
    requests_mock.get(STATUS_URL, **_job(state, errorMessage="the interval is too long"))
    sensor = GenesysCloudJobSensor(task_id="wait", job_id="tx-1", deferrable=False)
    with pytest.raises(
        AirflowFailException, match=f"audit_query job tx-1 ended {state}: the interval is too long"
    ):
        sensor.poke({})


def test_job_sensor_unknown_job_fails_fast(requests_mock: Any) -> None:
    requests_mock.get(STATUS_URL, **_error(404, "not.found", "The audit query tx-1 was not found."))
    sensor = GenesysCloudJobSensor(task_id="wait", job_id="tx-1", deferrable=False)
    with pytest.raises(AirflowFailException, match=r"404 not\.found"):
        sensor.poke({})


def test_job_sensor_templates_job_id() -> None:
    sensor = GenesysCloudJobSensor(task_id="wait", job_id="{{ params.tx }}")
    sensor.render_template_fields({"params": {"tx": "tx-9"}})
    assert sensor.job_id == "tx-9"
    with pytest.raises(ValueError, match="Unknown job_type"):
        GenesysCloudJobSensor(task_id="wait", job_id="x", job_type="nope")


def test_job_sensor_non_deferrable_execute_returns_xcom(requests_mock: Any) -> None:
    requests_mock.get(STATUS_URL, **_job("Succeeded"))
    sensor = GenesysCloudJobSensor(task_id="wait", job_id="tx-1", deferrable=False)
    assert sensor.execute({}) == {"job_id": "tx-1", "job_type": "audit_query", "state": "Succeeded"}


def test_deferrable_defers_with_a_serializable_trigger(requests_mock: Any) -> None:
    requests_mock.get(STATUS_URL, **_job("Running"))
    sensor = GenesysCloudJobSensor(
        task_id="wait", job_id="tx-1", deferrable=True, poll_interval=3, timeout=600
    )
    with (
        mock.patch("airflow_provider_genesys.sensors.genesys.time.time", return_value=1000.0),
        pytest.raises(TaskDeferred) as deferred,
    ):
        sensor.execute({})
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout.total_seconds() == 600
    trigger = deferred.value.trigger
    assert isinstance(trigger, GenesysCloudJobTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_genesys.triggers.genesys.GenesysCloudJobTrigger"
    assert kwargs == {
        "job_id": "tx-1",
        "job_type": "audit_query",
        "genesys_conn_id": "genesys_cloud_default",
        "poll_interval": 3.0,
        "end_time": 1600.0,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs


def test_deferrable_does_not_defer_a_finished_job(requests_mock: Any) -> None:
    requests_mock.get(STATUS_URL, **_job("Succeeded"))
    sensor = GenesysCloudJobSensor(task_id="wait", job_id="tx-1", deferrable=True)
    assert sensor.execute({})["state"] == "Succeeded"
    requests_mock.get(STATUS_URL, **_job("Cancelled"))
    with pytest.raises(AirflowFailException, match="ended Cancelled"):
        sensor.execute({})


def _event(status: str, state: str | None = None, message: str = "") -> dict[str, Any]:
    return {"status": status, "job_id": "tx-1", "job_type": "audit_query", "state": state, "message": message}


def test_execute_complete() -> None:
    sensor = GenesysCloudJobSensor(task_id="wait", job_id="tx-1", deferrable=True)
    assert sensor.execute_complete({}, _event("success", "Succeeded")) == {
        "job_id": "tx-1",
        "job_type": "audit_query",
        "state": "Succeeded",
    }
    with pytest.raises(AirflowFailException, match="ended Failed: quota"):
        sensor.execute_complete(
            {}, _event("failed", "Failed", "Genesys audit_query job tx-1 ended Failed: quota")
        )
    with pytest.raises(AirflowFailException, match="401"):
        sensor.execute_complete({}, _event("error", None, "GET ... failed: 401 bad.credentials"))
    with pytest.raises(AirflowSensorTimeout, match="did not end in time"):
        sensor.execute_complete({}, _event("timeout", None, "job tx-1 did not end in time"))
    soft = GenesysCloudJobSensor(task_id="wait", job_id="tx-1", deferrable=True, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        soft.execute_complete({}, _event("timeout", None, "late"))
