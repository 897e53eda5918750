"""Loaders: extracted NDJSON files into SQL tables (DB-API 2: SQLite, PostgreSQL, MySQL/MariaDB, ...).

``database.py`` holds the mechanics every loader shares (batched inserts, atomic table sets, dialects);
``permissions.py`` and ``conversations.py`` are the table specs on top; ``connection.py`` gives a DAG the
database to load into from an Airflow connection id (or a SQLite file), so the example DAGs stay short.
See docs/databases.md.
"""

from __future__ import annotations

from airflow_provider_genesys.loaders.connection import SqlDatabase, sql_database
from airflow_provider_genesys.loaders.conversations import load_conversations
from airflow_provider_genesys.loaders.database import BatchInserter, insert_rows, replace_tables
from airflow_provider_genesys.loaders.permissions import load_extracts

__all__ = [
    "BatchInserter",
    "SqlDatabase",
    "insert_rows",
    "load_conversations",
    "load_extracts",
    "replace_tables",
    "sql_database",
]
