"""SQL loading mechanics shared by every loader (DB-API 2, any driver): batched inserts, atomic table sets.

``BatchInserter`` (and ``insert_rows`` on top of it) is the one way rows reach a table: buffered per table
and sent with ``executemany`` every ``BATCH_ROWS`` rows, so memory does not grow with the data.

A table set is replaced all at once or not at all (``replace_tables``), so a reader sees the old load or
the new one, never a mix, and a rerun replaces rather than appends:

- SQLite and PostgreSQL run DDL inside transactions: the tables are dropped, recreated and filled in one
  transaction; a failure rolls all of it back.
- MySQL and MariaDB commit every DDL statement implicitly, so a transaction cannot cover DROP/CREATE there.
  The new tables are built and filled in a staging database next to the target one
  (``<database>_genesys_load_<random>``, created with the target's character set), then swapped in by one
  ``RENAME TABLE`` statement, which MySQL and MariaDB run atomically; the old tables go to the staging
  database, which is dropped. A failed load drops the staging database and leaves the target untouched.
  The connection's user therefore needs CREATE and DROP on databases named ``<database>_genesys_load_%``.
- Any other driver gets the SQLite/PostgreSQL path, which is atomic only where its database's DDL is
  transactional.

What goes into the tables is the business of the loaders on top: ``permissions.py`` (users, roles, grants
and the access tables) and ``conversations.py`` (conversation details, replaced per interval).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

BATCH_ROWS = 1000
T = TypeVar("T")
# Dialects whose loading differs; any other DB-API driver is loaded like PostgreSQL (see the docstring).
DIALECTS = ("sqlite", "postgres", "mysql")
_DRIVER_DIALECTS = {"sqlite3": "sqlite", "psycopg": "postgres", "psycopg2": "postgres", "pg8000": "postgres",
                    "MySQLdb": "mysql", "mysql": "mysql", "pymysql": "mysql"}
KEY = "VARCHAR(255)"  # MySQL cannot index TEXT; every database here accepts VARCHAR keys


def column_count(columns: Sequence[str]) -> int:
    """How many values a row of a table with these definitions has (table constraints are no columns)."""
    return len([c for c in columns if not c.startswith("PRIMARY KEY")])


class BatchInserter:
    """Rows for one or more tables, buffered per table and sent with ``executemany`` every ``batch_rows``.

    Rows may arrive interleaved (a conversation yields rows for five tables): each table keeps its own
    buffer. ``flush()`` sends what is left, table by table in the order of ``widths`` (parents first when
    the tables reference each other); ``counts`` says how many rows each table received.
    """

    def __init__(self, cursor: Any, widths: Mapping[str, int], placeholder: str = "?",
                 batch_rows: int = BATCH_ROWS) -> None:
        self.cursor = cursor
        self.batch_rows = batch_rows
        self.sql = {table: f"INSERT INTO {table} VALUES ({', '.join([placeholder] * width)})"  # noqa: S608
                    for table, width in widths.items()}  # fixed names, values as parameters
        self.rows: dict[str, list[tuple]] = {table: [] for table in widths}
        self.counts = dict.fromkeys(widths, 0)

    def add(self, table: str, row: tuple) -> None:
        buffer = self.rows[table]
        buffer.append(row)
        if len(buffer) >= self.batch_rows:
            self._send(table)

    def _send(self, table: str) -> None:
        if self.rows[table]:
            self.cursor.executemany(self.sql[table], self.rows[table])
            self.counts[table] += len(self.rows[table])
            self.rows[table] = []

    def flush(self) -> dict[str, int]:
        """Send every buffered row; the rows per table so far."""
        for table in self.rows:
            self._send(table)
        return dict(self.counts)


def insert_rows(cursor: Any, table: str, width: int, rows: Iterable[tuple], placeholder: str = "?") -> int:
    """Insert ``rows`` (tuples of ``width`` values) in batches of BATCH_ROWS; how many were inserted."""
    batches = BatchInserter(cursor, {table: width}, placeholder)
    for row in rows:
        batches.add(table, row)
    return batches.flush()[table]


def connection_dialect(connection: Any) -> str:
    """``sqlite``, ``postgres`` or ``mysql`` from the DB-API module a connection comes from; else ``other``."""
    if isinstance(connection, sqlite3.Connection):
        return "sqlite"
    return _DRIVER_DIALECTS.get(type(connection).__module__.split(".")[0], "other")


def replace_tables(
    connection: Any,
    tables: Mapping[str, Sequence[str]],
    fill: Callable[[Any], T],
    *,
    dialect: str | None = None,
) -> T:
    """Replace ``tables`` (name -> column and constraint definitions) by what ``fill(cursor)`` puts in them.

    The tables are created empty under their own names before ``fill`` runs, so ``fill`` inserts and runs
    SQL across them with plain unqualified names; its result is returned. The whole set becomes visible at
    once, replacing the previous tables of those names, or, if anything raises, not at all (see the module
    docstring for how on each database). Other tables of the database are left alone. ``dialect`` is one of
    DIALECTS and defaults to ``connection_dialect(connection)``. Reusable for any set of tables that must
    be replaced together.
    """
    dialect = dialect or connection_dialect(connection)
    if dialect not in (*DIALECTS, "other"):
        raise ValueError(f"Unknown SQL dialect {dialect!r}: use one of {', '.join(DIALECTS)} (or leave it out).")
    if dialect == "mysql":
        return _replace_by_rename(connection, tables, fill)
    return _replace_in_transaction(connection, tables, fill, explicit_begin=dialect == "sqlite")


def _create(cursor: Any, tables: Mapping[str, Sequence[str]]) -> None:
    for table, columns in tables.items():
        cursor.execute(f"CREATE TABLE {table} ({', '.join(columns)})")


@contextmanager
def transaction(connection: Any, *, explicit_begin: bool | None = None) -> Iterator[Any]:
    """A cursor inside one transaction: committed when the block ends, rolled back when it raises.

    sqlite3 opens transactions only before DML, so for it (``explicit_begin``, default: a sqlite3
    connection) BEGIN is issued here and DDL in the block is part of the transaction too.
    """
    if explicit_begin is None:
        explicit_begin = isinstance(connection, sqlite3.Connection)
    if explicit_begin:
        connection.isolation_level = None
    cursor = connection.cursor()
    try:
        if explicit_begin:
            cursor.execute("BEGIN")
        yield cursor
        if explicit_begin:
            cursor.execute("COMMIT")
        else:
            connection.commit()
    except BaseException:
        if explicit_begin:
            cursor.execute("ROLLBACK")
        else:
            connection.rollback()
        raise
    finally:
        cursor.close()


def _replace_in_transaction(
    connection: Any, tables: Mapping[str, Sequence[str]], fill: Callable[[Any], T], *, explicit_begin: bool
) -> T:
    """DROP, CREATE and fill in one transaction: for databases whose DDL is transactional."""
    with transaction(connection, explicit_begin=explicit_begin) as cursor:
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        _create(cursor, tables)
        return fill(cursor)


def _quote_mysql(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _replace_by_rename(connection: Any, tables: Mapping[str, Sequence[str]], fill: Callable[[Any], T]) -> T:
    """MySQL/MariaDB: build the tables in a staging database, then swap them in with one atomic RENAME."""
    cursor = connection.cursor()
    try:
        cursor.execute(
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
            "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()"
        )
        found = cursor.fetchall()
        if not found:
            raise ValueError(
                "The MySQL connection has no database selected: set the connection's schema to the database "
                "to load into."
            )
        target, charset, collation = found[0]
        # A unique name: concurrent or crashed loads never meet; 64 characters at most, as MySQL requires.
        stage = f"{target[:39]}_genesys_load_{secrets.token_hex(6)}"
        db, staged = _quote_mysql(target), _quote_mysql(stage)
        cursor.execute(f"CREATE DATABASE {staged} CHARACTER SET {charset} COLLATE {collation}")
        try:
            cursor.execute(f"USE {staged}")
            _create(cursor, tables)
            result = fill(cursor)
            connection.commit()
            cursor.execute(f"SHOW TABLES FROM {db}")
            existing = {row[0] for row in cursor.fetchall()}
            swaps = [f"{db}.{_quote_mysql(t)} TO {staged}.{_quote_mysql(t + '__replaced')}"
                     for t in tables if t in existing]
            swaps += [f"{staged}.{_quote_mysql(t)} TO {db}.{_quote_mysql(t)}" for t in tables]
            cursor.execute("RENAME TABLE " + ", ".join(swaps))
        except BaseException:
            with suppress(Exception):  # the load's own error is the one to report
                connection.rollback()
                cursor.execute(f"USE {db}")
                cursor.execute(f"DROP DATABASE IF EXISTS {staged}")
            raise
        cursor.execute(f"USE {db}")
        cursor.execute(f"DROP DATABASE IF EXISTS {staged}")
        return result
    finally:
        cursor.close()
