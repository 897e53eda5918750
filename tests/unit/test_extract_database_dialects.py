"""Which way a table set is replaced follows the connection's driver; a wrong dialect is a clear error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from airflow_provider_genesys.loaders.database import connection_dialect, replace_tables


def fake_connection(module: str) -> object:
    return type("Connection", (), {"__module__": module})()


@pytest.mark.parametrize(
    ("module", "dialect"),
    [
        ("psycopg", "postgres"),
        ("psycopg2.extensions", "postgres"),
        ("MySQLdb.connections", "mysql"),
        ("mysql.connector.connection_cext", "mysql"),
        ("pymysql.connections", "mysql"),
        ("pyodbc", "other"),
    ],
)
def test_dialect_comes_from_the_driver_module(module: str, dialect: str) -> None:
    assert connection_dialect(fake_connection(module)) == dialect


def test_sqlite_connection_is_sqlite(tmp_path: Path) -> None:
    assert connection_dialect(sqlite3.connect(tmp_path / "x.db")) == "sqlite"


def test_unknown_dialect_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("CREATE TABLE t (id INTEGER)")
    with pytest.raises(ValueError, match="Unknown SQL dialect 'oracle': use one of sqlite, postgres, mysql"):
        replace_tables(db, {"t": ("id INTEGER",)}, lambda cursor: None, dialect="oracle")
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]
