"""Deprecated old place of ``insert_rows``, ``load_extracts`` and ``replace_tables``: import them from
``airflow_provider_genesys.loaders``.

The SQL loaders moved to their own package. Kept as an alias: each use warns
``AirflowProviderDeprecationWarning`` naming the new place and gives the same object
(``_deprecation.MOVED``; docs/public-api.md says how long it stays).
"""

from __future__ import annotations

from airflow_provider_genesys._deprecation import moved_dir, moved_getattr

__getattr__ = moved_getattr(__name__)
__dir__ = moved_dir(__name__)
