"""The example DAG's templated destinations become Assets in Airflow's metadata database when written."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.e2e.test_users_permissions_dag import DATASETS

pytestmark = pytest.mark.e2e
DAG_ID = "genesys_users_permissions_extract"


def asset_events(database: str, base: Path) -> dict[str, tuple[str, str]]:
    """uri -> (task, alias) of every asset event the DAG emitted for files under ``base``."""
    with closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            """
            SELECT a.uri, e.source_task_id, al.name
            FROM asset_event e
            JOIN asset a ON a.id = e.asset_id
            JOIN asset_alias_asset_event ae ON ae.event_id = e.id
            JOIN asset_alias al ON al.id = ae.alias_id
            WHERE e.source_dag_id = ? AND a.uri LIKE ?
            """,
            (DAG_ID, f"file://{base}/%"),
        ).fetchall()
    return {uri: (task, alias) for uri, task, alias in rows}


def test_each_written_file_is_an_asset_event_of_its_tasks_alias(run_dag, tmp_path: Path) -> None:
    base = tmp_path / "out"
    with GenesysCloudEmulator(users=30, seed=5) as emu:
        run_dag(DAG_ID, connection=emu.connection_dict(), conf={"base": str(base)})
    (day,) = [p for p in base.iterdir() if p.is_dir()]
    database = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    events = asset_events(database, base)
    template = "file://{{ params.base | abspath }}/{{ ds }}/"
    assert events == {
        f"file://{day}/{name}.ndjson": (
            f"extract_{name}",
            f"genesys-extract {template}{name}.ndjson{{{{ '.gz' if params.compress else '' }}}}",
        )
        for name in DATASETS
    }
