"""The OAuth clients listing as Genesys defines it: no query parameters, ``nextUri`` followed if filled.

Genesys does not publish how ``GET /api/v2/oauth/clients`` answers an org with many clients; the emulator's
``oauth_clients_listing`` plays each plausible way and the extracts must write the same files under all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing import truth as ground_truth
from airflow_provider_genesys.testing.options import Settings
from tests.conftest import client_for

LISTINGS = Settings.__dataclass_fields__["oauth_clients_listing"].metadata["choices"]
OAUTH = "GET /api/v2/oauth/clients"


def extract(emu: GenesysCloudEmulator, dataset: str, path: Path) -> tuple[dict, bytes]:
    with client_for(emu, max_retry_wait=0) as client:
        result = run_extract(client, dataset, path / f"{dataset}.ndjson", ExtractOptions())
    return result, (path / f"{dataset}.ndjson").read_bytes()


@pytest.mark.parametrize("clients", [5, 60])
def test_oauth_clients_dataset_is_the_same_file_however_genesys_pages_the_listing(
    tmp_path: Path, clients: int
) -> None:
    files: dict[str, bytes] = {}
    for listing in LISTINGS:
        with GenesysCloudEmulator(users=50, seed=4, oauth_clients=clients, oauth_clients_listing=listing) as emu:
            result, files[listing] = extract(emu, "oauth_clients", tmp_path / listing)
            expected = sorted(subject.id for subject in emu.org.subjects.clients)
            requests = emu.stats.snapshot()["by_path"][OAUTH]
        assert result["records"] == clients, listing
        assert b"secret" not in files[listing]
        # whole: one answer, read once (a one-page listing is atomic); paged (25 a page): every page, twice
        pages = -(-clients // 25) if listing == "paged" else 1
        assert requests == (pages if pages == 1 else 2 * pages), listing
    assert len(set(files.values())) == 1  # byte for byte the same file under every behaviour
    assert sorted(json.loads(line)["id"] for line in files["whole"].splitlines()) == expected


def test_grant_subjects_are_typed_from_every_page_of_the_clients_listing(tmp_path: Path) -> None:
    files: dict[str, bytes] = {}
    role_listings: dict[str, int] = {}
    for listing in LISTINGS:
        with GenesysCloudEmulator(users=300, seed=9, oauth_clients=60, oauth_clients_listing=listing) as emu:
            _, files[listing] = extract(emu, "grants", tmp_path / listing)
            records = [json.loads(line) for line in files[listing].splitlines()]
            keys = sorted((r["subjectId"], r["subjectType"], r["roleId"], r["divisionId"]) for r in records)
            assert keys == ground_truth.grants(emu.org), listing
            late = {subject.id for subject in emu.org.subjects.clients[25:]}  # past the first page of 25
            assert {r["subjectId"] for r in records if r["subjectType"] == "oauth_client"} & late
            by_path = emu.stats.snapshot()["by_path"]
            role_listings[listing] = by_path.get("GET /api/v2/authorization/roles/{roleId}/subjectgrants", 0)
    assert len(set(files.values())) == 1
    # every client was typed from the clients listing, none from a per-role listing (those type trustees)
    assert len(set(role_listings.values())) == 1


def test_strict_refuses_page_parameters_so_the_provider_sends_none() -> None:
    with GenesysCloudEmulator(users=10, oauth_clients_listing="strict") as emu, \
            client_for(emu, max_retry_wait=0) as client:
        assert len(list(client.paginate("/api/v2/oauth/clients"))) == 5  # the hook's paginate too
        with PageFetcher(client) as fetcher:
            assert len(list(fetcher.listing("/api/v2/oauth/clients"))) == 5
            with pytest.raises(ValueError, match="takes no paging parameters"):
                fetcher.get_page("/api/v2/oauth/clients", None, 1)
        refused = client.request  # the emulator does refuse them: the test above could fail
        with pytest.raises(Exception, match="takes no query parameters; got pageNumber, pageSize"):
            refused("GET", "/api/v2/oauth/clients", params={"pageSize": 100, "pageNumber": 1})
