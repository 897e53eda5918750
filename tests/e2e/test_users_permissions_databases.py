"""genesys_users_permissions_extract loading SQLite, PostgreSQL and MariaDB: same tables, reruns replace.

The DAG reaches each server through ``database_conn_id`` and an ``AIRFLOW_CONN_*`` variable, exactly as a
user configures it (docs/databases.md). Each database runs the DAG twice on the same day: the second run
must replace the tables, not add to them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.servers import conn_env, hook_query, sql_hook, table_contents

pytestmark = [pytest.mark.e2e, pytest.mark.databases]
DAG_ID = "genesys_users_permissions_extract"


def test_sqlite_postgres_and_mariadb_get_the_same_tables_twice(
    run_dag: Callable[..., object],
    postgres_database: dict[str, Any],
    mariadb_database: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = tmp_path / "out"
    servers = {"pg_target": postgres_database, "maria_target": mariadb_database}
    env = {name: value for conn_id, conn in servers.items() for name, value in conn_env(conn_id, conn).items()}
    with GenesysCloudEmulator(users=80, seed=11) as emu:
        for _ in range(2):  # the same day twice: the second load replaces the first
            for conn_id in (None, *servers):
                run_dag(DAG_ID, connection=emu.connection_dict(),
                        conf={"base": str(base), "database_conn_id": conn_id}, env=env)
        users = sorted(emu.org.user_ids("any"))

    with sqlite3.connect(base / "genesys.db") as db:
        expected = table_contents(lambda sql: db.execute(sql).fetchall())
    assert sorted(row[0] for row in expected["users"]) == users  # once each: no duplicates
    assert len(expected["access"]) > len(users)
    for conn_id, connection in servers.items():
        assert table_contents(hook_query(sql_hook(connection, monkeypatch))) == expected, conn_id
