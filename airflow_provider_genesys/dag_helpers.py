"""Helpers for the task code of your own DAGs, beside the operators and sensors: one public place to import them.

- :func:`resolve_data_interval`: the interval a task works on, read from its context the way every operator
  and sensor reads it (a manual run takes the previous UTC day; a bad interval fails the task at once).
- :func:`interval_chunks`: an interval split into consecutive ``start/end`` chunks, to map the extract over
  (``GenesysCloudExtractOperator.partial(...).expand_kwargs(...)``); together they hold each conversation
  exactly once.
- :func:`parse_interval`: ``start/end`` text into a UTC ``Interval`` (``.start``, ``.end``), with a clear
  ``ValueError`` for bad text.
- :class:`AtomicNdjsonWriter`: your own NDJSON file written atomically (complete or absent), de-duplicated
  by ``id``, as the extract writes its files.

The code lives where the provider uses it (``data_interval.py``, ``intervals.py``, ``extract/writer.py``);
these are the same objects. What is public, and how a public name is retired: docs/public-api.md.
"""

from __future__ import annotations

from airflow_provider_genesys.data_interval import resolve_data_interval
from airflow_provider_genesys.extract.writer import AtomicNdjsonWriter
from airflow_provider_genesys.intervals import interval_chunks, parse_interval

__all__ = ["AtomicNdjsonWriter", "interval_chunks", "parse_interval", "resolve_data_interval"]
