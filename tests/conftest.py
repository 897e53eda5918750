"""Suite-wide Airflow environment: a private AIRFLOW_HOME with a SQLite database, set before Airflow loads.

Airflow reads its configuration at import time, so this runs when pytest collects the suite, before any
test module imports ``airflow``. Nothing here touches the network or the user's own Airflow home.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Under pytest-xdist each worker is its own process with its own home (a SQLite database is one writer's).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_AIRFLOW_HOME = (Path(os.environ["GENESYS_TEST_AIRFLOW_HOME"]) / _WORKER if os.environ.get("GENESYS_TEST_AIRFLOW_HOME")
                 else Path(tempfile.mkdtemp(prefix=f"genesys-airflow-{_WORKER}")))
_AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)

os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags_examples")
os.environ.pop("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", None)

# Our own tests use the emulator fixtures exactly as a user's suite would.
pytest_plugins = ["airflow_provider_genesys.testing.pytest_plugin", "tests.servers"]


def client_for(emulator: Any, *, sleep: Callable[[float], None] | None = None,
               clock: Callable[[], float] | None = None, **extra: Any) -> Any:
    """A ``GenesysCloudClient`` of the emulator's connection, as a hook would build it from Airflow's.

    ``extra`` adds connection extras (``max_retry_wait=0``); ``sleep``/``clock`` replace the client's, e.g.
    ``sleep=emulator.advance_clock`` waits out Retry-After and backoff on the emulator's clock, not in real time.
    Imports stay inside so Airflow's configuration above is set before anything of the package loads.
    """
    from airflow_provider_genesys.client import GenesysCloudClient
    from airflow_provider_genesys.settings import GenesysSettings

    conn = emulator.connection_dict(**extra)
    settings = GenesysSettings.from_connection(login=conn["login"], password=conn["password"], extra=conn["extra"])
    timing: dict[str, Any] = {"sleep": sleep, "clock": clock}
    return GenesysCloudClient(settings, **{name: value for name, value in timing.items() if value is not None})


@pytest.fixture
def emulator_client() -> Iterator[Callable[..., Any]]:
    """``emulator_client(emu, **extra)``: :func:`client_for`, each client closed after the test."""
    clients: list[Any] = []

    def factory(emulator: Any, **options: Any) -> Any:
        clients.append(client_for(emulator, **options))
        return clients[-1]

    yield factory
    for client in clients:
        client.close()


# Tests that run a whole Airflow deployment or a browser share the machine's servers (Redis, PostgreSQL) and
# most of its CPU: under ``-n 2 --dist loadgroup`` (``python3 dev.py test``) they run one after another on one
# worker while the other worker takes the rest.
SERIAL_MARKERS = ("deployment", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(marker) for marker in SERIAL_MARKERS):
            item.add_marker(pytest.mark.xdist_group("deployments"))
