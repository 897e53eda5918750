"""load_extracts on real PostgreSQL and MariaDB servers through Airflow's SQL providers, against SQLite.

Each target gets its own fresh database (tests/servers.py). What a user relies on: the same files give the
same table contents on every database; a rerun replaces (never duplicates); a failed load leaves the
previous tables whole, including on MariaDB, where DDL commits implicitly (staging database + RENAME).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.loaders.database import KEY, replace_tables
from airflow_provider_genesys.loaders.permissions import load_extracts
from tests.servers import hook_query, mariadb_databases, sql_hook, table_contents
from tests.unit.test_extract_database import USERS, write_files

pytestmark = pytest.mark.databases
UNICODE_USER = {"id": "u3", "name": "Zoë Ærø 東京 🚀", "state": "active", "title": "Ingénieure"}


def load(hook: Any, files: dict[str, Path]) -> dict[str, int]:
    connection = hook.get_conn()
    try:
        return load_extracts(connection, files, placeholder=hook.placeholder)
    finally:
        connection.close()


def sqlite_contents(files: dict[str, Path], db: Path) -> dict[str, list[tuple]]:
    load_extracts(sqlite3.connect(db), files)
    with sqlite3.connect(db) as conn:
        return table_contents(lambda sql: conn.execute(sql).fetchall())


@pytest.fixture(params=["postgres", "mariadb-mysqlclient", "mariadb-mysql-connector-python"])
def target(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """(dialect, hook) of a fresh database on each server; MariaDB through both of the provider's clients."""
    if request.param == "postgres":
        return "postgres", sql_hook(request.getfixturevalue("postgres_database"), monkeypatch)
    connection = request.getfixturevalue("mariadb_database")
    connection["extra"]["client"] = request.param.removeprefix("mariadb-")
    return "mysql", sql_hook(connection, monkeypatch)


def test_same_contents_as_sqlite_and_a_rerun_replaces(target: tuple[str, Any], tmp_path: Path) -> None:
    _, hook = target
    files = write_files(tmp_path, users=[*USERS, UNICODE_USER])
    expected = sqlite_contents(files, tmp_path / "g.db")
    assert load(hook, files) == {table: len(rows) for table, rows in expected.items()}
    assert table_contents(hook_query(hook)) == expected
    assert load(hook, files) == {table: len(rows) for table, rows in expected.items()}  # same day again
    assert table_contents(hook_query(hook)) == expected

    fewer = write_files(tmp_path, users=USERS[:1])
    load(hook, fewer)
    assert table_contents(hook_query(hook)) == sqlite_contents(fewer, tmp_path / "fewer.db")


def test_a_failed_load_leaves_the_previous_tables_whole(target: tuple[str, Any], tmp_path: Path) -> None:
    dialect, hook = target
    files = write_files(tmp_path)
    load(hook, files)
    before = table_contents(hook_query(hook))
    assert before["access"]
    broken = write_files(tmp_path, users=USERS[:1], grants=[{"id": "x"}])  # users load, then grants fail
    with pytest.raises(KeyError):
        load(hook, broken)
    assert table_contents(hook_query(hook)) == before
    if dialect == "mysql":
        database = hook.get_records("SELECT DATABASE()")[0][0]
        assert mariadb_databases(database) == [database]  # the staging database is gone too


def test_replace_tables_swaps_a_set_and_leaves_other_tables_alone(target: tuple[str, Any]) -> None:
    """The reusable helper: another loader's table set, replaced twice, next to an unrelated table."""
    _, hook = target
    tables = {"conversations": ("id VARCHAR(64) PRIMARY KEY", "queue TEXT"), "segments": ("conversation_id TEXT",)}
    hook.run("CREATE TABLE unrelated (id INTEGER)")
    hook.run("INSERT INTO unrelated VALUES (7)")

    def fill(rows: list[tuple[str, str]]) -> Callable[[Any], int]:
        def _fill(cursor: Any) -> int:
            cursor.executemany(f"INSERT INTO conversations VALUES ({hook.placeholder}, {hook.placeholder})", rows)
            cursor.execute("INSERT INTO segments SELECT id FROM conversations")
            return len(rows)

        return _fill

    for rows in ([("c1", "q1"), ("c2", "q2")], [("c3", "q1")]):
        connection = hook.get_conn()
        try:
            assert replace_tables(connection, tables, fill(rows)) == len(rows)
        finally:
            connection.close()
        query = hook_query(hook)
        assert sorted(query("SELECT * FROM conversations")) == sorted(rows)
        assert sorted(query("SELECT * FROM segments")) == sorted((r[0],) for r in rows)
    assert hook_query(hook)("SELECT * FROM unrelated") == [(7,)]


def test_mysql_connection_without_a_database_is_a_clear_error(
    mariadb_database: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hook = sql_hook({**mariadb_database, "schema": ""}, monkeypatch)
    with pytest.raises(ValueError, match="no database selected: set the connection's schema"):
        load(hook, write_files(tmp_path))


def test_a_reader_during_a_load_never_sees_a_half_loaded_set(target: tuple[str, Any]) -> None:
    """While ``fill`` runs, another session sees the previous rows (MariaDB) or waits for the commit (PostgreSQL)."""
    dialect, hook = target
    tables = {"items": (f"id {KEY} PRIMARY KEY",)}
    ph = hook.placeholder

    def fill(ids: list[str], *, look: bool) -> Callable[[Any], list[tuple]]:
        def _fill(cursor: Any) -> list[tuple]:
            cursor.executemany(f"INSERT INTO items VALUES ({ph})", [(i,) for i in ids])
            if not look:
                return []
            reader = hook.get_conn()  # another session, as a dashboard reading the table would be
            try:
                read = reader.cursor()
                if dialect == "postgres":
                    read.execute("SET lock_timeout = '200ms'")
                    with pytest.raises(Exception, match="lock timeout"):
                        read.execute("SELECT id FROM items")
                    reader.rollback()
                    return []
                read.execute("SELECT id FROM items")
                return sorted(read.fetchall())
            finally:
                reader.close()

        return _fill

    connection = hook.get_conn()
    try:
        replace_tables(connection, tables, fill(["a", "b"], look=False))
        seen_during_second_load = replace_tables(connection, tables, fill(["c"], look=True))
    finally:
        connection.close()
    if dialect == "mysql":
        assert [tuple(row) for row in seen_during_second_load] == [("a",), ("b",)]
    assert hook_query(hook)("SELECT id FROM items") == [("c",)]
