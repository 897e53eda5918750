"""What every loader shares: the batch inserter, and the database a DAG loads into (``sql_database``)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.loaders import BatchInserter, insert_rows, sql_database


class CountingCursor:
    """A cursor that records each ``executemany`` (statement, rows) and runs it on SQLite."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.batches: list[tuple[str, int]] = []

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        self.batches.append((sql.split()[2], len(rows)))
        self.cursor.executemany(sql, rows)


def test_interleaved_rows_go_out_per_table_in_batches_parents_first() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE parent (id TEXT)")
    db.execute("CREATE TABLE child (id TEXT, parent_id TEXT)")
    cursor = CountingCursor(db.cursor())
    batches = BatchInserter(cursor, {"parent": 1, "child": 2}, batch_rows=3)
    for n in range(4):
        batches.add("parent", (f"p{n}",))
        batches.add("child", (f"c{n}a", f"p{n}"))
        batches.add("child", (f"c{n}b", f"p{n}"))
    counts = batches.flush()
    assert counts == {"parent": 4, "child": 8}
    # full batches as they fill, then the rest: parent's remainder before child's
    assert cursor.batches == [("child", 3), ("parent", 3), ("child", 3), ("parent", 1), ("child", 2)]
    assert db.execute("SELECT COUNT(*) FROM child").fetchone() == (8,)


def test_insert_rows_streams_one_table() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    assert insert_rows(db.cursor(), "t", 2, ((n, str(n)) for n in range(2500))) == 2500
    assert db.execute("SELECT COUNT(*), SUM(a) FROM t").fetchone() == (2500, sum(range(2500)))


def test_without_a_connection_id_the_dag_loads_into_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "genesys.db"
    with sql_database(None, path) as database:
        database.connection.execute("CREATE TABLE t (a INTEGER)")
        database.connection.commit()
    assert database.placeholder == "?"
    assert str(path) in database.description
    with pytest.raises(sqlite3.ProgrammingError):  # closed when the block ended
        database.connection.execute("SELECT 1")
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_a_sqlite_connection_id_gives_its_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("airflow.providers.sqlite")
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_MY_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    with sql_database("my_warehouse", tmp_path / "unused.db") as database:
        database.connection.execute("CREATE TABLE t (a INTEGER)")
        database.connection.commit()
    assert "my_warehouse" in database.description
    assert path.exists()
    assert not (tmp_path / "unused.db").exists()


def test_a_connection_without_a_sql_hook_fails_naming_it_and_its_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", json.dumps({"conn_type": "genesys_cloud", "login": "x",
                                                            "password": "y", "extra": {"region": "us_east_1"}}))
    expected = r"'not_sql' has type 'genesys_cloud', which has no SQL hook"
    with pytest.raises(AirflowFailException, match=expected), sql_database("not_sql", "/nonexistent/unused.db"):
        pass
