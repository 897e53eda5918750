"""The database a DAG loads into: an Airflow SQL connection by id, or a SQLite file when none is named.

The example DAGs take a ``database_conn_id`` param; empty means a SQLite file next to their output, so the
demo needs no server and no stored connection. Both DAGs call :func:`sql_database` instead of resolving
the connection themselves. Airflow is imported inside the function: the loaders stay usable (and
importable) with any DB-API connection outside Airflow.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SqlDatabase:
    """An open DB-API connection, its driver's parameter marker, and where it points (no credentials)."""

    connection: Any
    placeholder: str
    description: str


@contextmanager
def sql_database(conn_id: str | None, sqlite_path: str | Path) -> Iterator[SqlDatabase]:
    """Open the database of Airflow connection ``conn_id`` (any type whose hook speaks DB-API: sqlite,
    postgres, mysql, ...), or with no ``conn_id`` the SQLite file ``sqlite_path`` (its folder created);
    closed when the block ends.

    A connection whose type has no SQL hook fails the task at once (``AirflowFailException``) naming the
    connection and its type, since a retry cannot fix it.
    """
    if not conn_id:
        path = Path(sqlite_path).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        database = SqlDatabase(sqlite3.connect(path), "?", f"SQLite database {path}")
    else:
        database = _from_connection(conn_id)
    try:
        yield database
    finally:
        database.connection.close()


def _from_connection(conn_id: str) -> SqlDatabase:
    from airflow_provider_genesys._compat import AirflowFailException, BaseHook

    conn = BaseHook.get_connection(conn_id)
    hook = conn.get_hook()
    get_conn, placeholder = getattr(hook, "get_conn", None), getattr(hook, "placeholder", None)
    if get_conn is None or placeholder is None:
        raise AirflowFailException(
            f"database_conn_id {conn_id!r} has type {conn.conn_type!r}, which has no SQL hook; use a "
            "connection of a SQL database (sqlite, postgres, mysql, ...: a type whose Airflow hook speaks DB-API)."
        )
    return SqlDatabase(get_conn(), placeholder,
                       f"{conn.conn_type} database of connection {conn_id!r} (host {conn.host or '-'})")
