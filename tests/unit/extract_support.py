"""Run one extract against an emulator, as the operator would, and read back the written ids."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.conftest import client_for


def extract_ids(emu: GenesysCloudEmulator, path: Path, dataset: str = "users", **options: object) -> list[str]:
    """Extract ``dataset`` to ``path``; the ids written, in file order."""
    with client_for(emu, max_retry_wait=0) as client:
        run_extract(client, dataset, path, ExtractOptions(**options))  # type: ignore[arg-type]
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]
