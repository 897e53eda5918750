"""Run one extract against an emulator, as the operator would, and read back the written ids."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator


def extract_ids(emu: GenesysCloudEmulator, path: Path, dataset: str = "users", **options: object) -> list[str]:
    """Extract ``dataset`` to ``path``; the ids written, in file order."""
    conn = emu.connection_dict(max_retry_wait=0)
    settings = GenesysSettings.from_connection(login=conn["login"], password=conn["password"], extra=conn["extra"])
    with GenesysCloudClient(settings) as client:
        run_extract(client, dataset, path, ExtractOptions(**options))  # type: ignore[arg-type]
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]
