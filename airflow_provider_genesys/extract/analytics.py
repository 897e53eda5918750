"""Deprecated old place of ``interval_chunks``: import it from ``airflow_provider_genesys.dag_helpers``.

The analytics plans moved to ``extract/plans/analytics.py`` (internal) and the DAG helper to its public home.
Kept as an alias: each use warns ``AirflowProviderDeprecationWarning`` naming the new place and gives the same
object (``_deprecation.MOVED``; docs/public-api.md says how long it stays).
"""

from __future__ import annotations

from airflow_provider_genesys._deprecation import moved_dir, moved_getattr

__getattr__ = moved_getattr(__name__)
__dir__ = moved_dir(__name__)
