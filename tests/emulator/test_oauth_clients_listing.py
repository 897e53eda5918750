"""``GET /api/v2/oauth/clients`` under each ``oauth_clients_listing``, and the ``oauth_clients`` count."""

from __future__ import annotations

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator

from .conftest import ApiClient, page_through

PATH = "/api/v2/oauth/clients"


def test_whole_answers_every_client_at_once_and_ignores_paging_parameters() -> None:
    with GenesysCloudEmulator(users=10, oauth_clients=60) as emu:
        client = ApiClient(emu)
        body = client.ok(PATH)
        assert (len(body["entities"]), body["pageNumber"], body["pageCount"], body["total"]) == (60, 1, 1, 60)
        assert "nextUri" not in body
        assert client.ok(PATH, pageSize=10, pageNumber=3)["entities"] == body["entities"]


def test_paged_answers_25_a_page_with_next_uri() -> None:
    with GenesysCloudEmulator(users=10, oauth_clients=60, oauth_clients_listing="paged") as emu:
        client = ApiClient(emu)
        body = client.ok(PATH)
        assert (len(body["entities"]), body["pageCount"], body["total"]) == (25, 3, 60)
        assert body["nextUri"] == f"{PATH}?pageSize=25&pageNumber=2"
        ids = [c["id"] for c in page_through(client, PATH)]
        assert ids == [subject.id for subject in emu.org.subjects.clients]


def test_strict_refuses_any_query_parameter() -> None:
    with GenesysCloudEmulator(users=10, oauth_clients_listing="strict") as emu:
        client = ApiClient(emu)
        assert len(client.ok(PATH)["entities"]) == 5
        refused = client.get(PATH, pageSize=25)
        assert refused.status_code == 400
        assert refused.json()["code"] == "bad.request"


@pytest.mark.parametrize("count", [0, 3, 12])
def test_the_count_of_clients_copies_the_five_with_their_grants(count: int) -> None:
    with GenesysCloudEmulator(users=10, oauth_clients=count) as emu:
        subjects = emu.org.subjects
        names = [subject.name for subject in subjects.clients]
        assert len(names) == len(set(names)) == count
        if count == 12:
            assert (names[5], names[10]) == ("Data warehouse export 2", "Data warehouse export 3")
            held = {subject.id for subject, *_ in subjects.grants}
            assert subjects.clients[5].id in held  # as client 0
            assert subjects.clients[8].id not in held  # as client 3
        body = ApiClient(emu).ok(PATH)
        assert [c["id"] for c in body["entities"]] == [subject.id for subject in subjects.clients]
        assert all(c["secret"] for c in body["entities"])  # as Genesys' model allows: extracts drop it
