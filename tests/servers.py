"""Fixtures for the real database servers: a fresh, uniquely named database per test, dropped afterwards.

The project's machines and CI run PostgreSQL (127.0.0.1:5432, trust auth), MariaDB (127.0.0.1:3306, root
without password) and Redis (127.0.0.1:6379). Where a server is absent the tests that need it skip with the
reason; under ``CI=true`` they fail instead, so CI can never pass by skipping them. Other helpers and test
runs share the servers: every database, schema and Redis db a test uses gets its own random name/number.

Each database fixture yields the Airflow connection of its database in JSON form (for
``AIRFLOW_CONN_<ID>``), so tests reach it through Airflow's own SQL providers as the example DAG does.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_genesys.loaders.permissions import TABLES

HOST = "127.0.0.1"
POSTGRES_PORT = 5432
MARIADB_PORT = 3306
REDIS_PORT = 6379
POSTGRES_USER = os.environ.get("GENESYS_TEST_POSTGRES_USER", "postgres")


def require_server(name: str, port: int) -> None:
    """Skip (fail under CI=true) unless something listens on 127.0.0.1:<port>."""
    try:
        socket.create_connection((HOST, port), timeout=2).close()
    except OSError as error:
        reason = f"{name} is not running on {HOST}:{port} ({error}); start it to run this test"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. CI must provide it: tests needing it never skip under CI=true.")
        pytest.skip(reason)


def free_port() -> int:
    """A loopback port nothing listens on (the OS picked it; closed again before returning)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def unique_name(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


def postgres_admin() -> Any:
    """An autocommit psycopg connection to the server's ``test`` database, for CREATE/DROP DATABASE."""
    import psycopg

    return psycopg.connect(host=HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname="test", autocommit=True)


def mariadb_admin() -> Any:
    import MySQLdb

    return MySQLdb.connect(host=HOST, port=MARIADB_PORT, user="root", passwd="", database="test", autocommit=True)


def new_postgres_database(prefix: str = "genesys") -> str:
    require_server("PostgreSQL", POSTGRES_PORT)
    name = unique_name(prefix)
    with postgres_admin() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return name


def drop_postgres_database(name: str) -> None:
    with postgres_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_connection(database: str) -> dict[str, Any]:
    return {"conn_type": "postgres", "host": HOST, "port": POSTGRES_PORT, "login": POSTGRES_USER,
            "schema": database}


def mariadb_connection(database: str, client: str = "mysqlclient") -> dict[str, Any]:
    return {"conn_type": "mysql", "host": HOST, "port": MARIADB_PORT, "login": "root", "schema": database,
            "extra": {"charset": "utf8mb4", "client": client}}


def mariadb_databases(prefix: str) -> list[str]:
    """Databases whose names start with ``prefix`` (a load's leftover staging databases, for instance)."""
    admin = mariadb_admin()
    try:
        cursor = admin.cursor()
        cursor.execute("SHOW DATABASES")
        return sorted(row[0] for row in cursor.fetchall() if row[0].startswith(prefix))
    finally:
        admin.close()


@pytest.fixture
def postgres_database() -> Iterator[dict[str, Any]]:
    """A fresh PostgreSQL database ``genesys_<random>``; yields its Airflow connection (JSON form)."""
    name = new_postgres_database()
    try:
        yield postgres_connection(name)
    finally:
        drop_postgres_database(name)


@pytest.fixture
def mariadb_database() -> Iterator[dict[str, Any]]:
    """A fresh MariaDB database ``genesys_<random>`` (utf8mb4); yields its Airflow connection (JSON form).

    Dropped afterwards together with any staging database a load left behind (``<name>_genesys_load_*``).
    """
    require_server("MariaDB", MARIADB_PORT)
    name = unique_name("genesys")
    admin = mariadb_admin()
    try:
        admin.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        yield mariadb_connection(name)
    finally:
        for database in mariadb_databases(name):
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.close()


def conn_env(conn_id: str, connection: dict[str, Any]) -> dict[str, str]:
    """The environment variable that defines Airflow connection ``conn_id``."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(connection)}


def sql_hook(connection: dict[str, Any], monkeypatch: pytest.MonkeyPatch, conn_id: str = "genesys_test_target") -> Any:
    """The Airflow SQL hook of ``connection``, found the way the example DAG finds it (by connection id)."""
    from airflow.sdk import BaseHook

    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return BaseHook.get_connection(conn_id).get_hook()


def hook_query(hook: Any) -> Callable[[str], list[tuple]]:
    return lambda sql: [tuple(row) for row in hook.get_records(sql)]


def table_contents(query: Callable[[str], list[tuple]]) -> dict[str, list[tuple]]:
    """Every row of every loaded table, sorted: what must be equal across databases."""
    return {table: sorted(query(f"SELECT * FROM {table}"), key=repr) for table in TABLES}
