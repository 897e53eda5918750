"""Extract engine: dataset plans streamed through parallel paging into an atomic NDJSON writer.

Airflow-free; ``GenesysCloudExtractOperator`` is its Airflow face.
"""

from __future__ import annotations

from airflow_provider_genesys.extract.engine import run_extract
from airflow_provider_genesys.extract.plans import DATASETS, USER_STATES, ExtractOptions
from airflow_provider_genesys.extract.writer import AtomicNdjsonWriter

__all__ = ["DATASETS", "USER_STATES", "AtomicNdjsonWriter", "ExtractOptions", "run_extract"]
