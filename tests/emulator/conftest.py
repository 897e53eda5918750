"""Emulator tests drive the server with plain ``requests``, as any client would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_genesys.testing import GenesysCloudEmulator


class ApiClient:
    """A bare ``requests`` session with a client-credentials token: no retries, no paging help."""

    def __init__(self, emu: GenesysCloudEmulator) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {fetch_token(emu)}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.emu.api_url + path, params=params, timeout=10)

    def post(self, path: str, json: Any = None) -> requests.Response:
        return self.session.post(self.emu.api_url + path, json=json, timeout=10)

    def ok(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()


def fetch_token(emu: GenesysCloudEmulator, **form: str) -> str:
    response = requests.post(
        emu.login_url,
        data={"grant_type": "client_credentials", **form},
        auth=(emu.client_id, emu.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def page_through(client: ApiClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Follow ``nextUri``, or ``pageNumber`` up to ``pageCount`` on listings without URIs (as Genesys'
    ``/divisions/{id}/grants``), the way a careful client does; returns every entity."""
    body = client.ok(path, **params)
    entities = list(body["entities"])
    while "nextUri" in body or ("firstUri" not in body and body.get("pageNumber", 0) < body.get("pageCount", 0)):
        if "nextUri" in body:
            response = client.session.get(client.emu.api_url + body["nextUri"], timeout=10)
            assert response.status_code == 200, response.text
            body = response.json()
        else:
            body = client.ok(path, **{**params, "pageNumber": body["pageNumber"] + 1})
        entities += body["entities"]
    return entities


@pytest.fixture(scope="module")
def shared_emu() -> Iterator[GenesysCloudEmulator]:
    """A read-only emulator shared by a module (do not add faults or move its clock)."""
    with GenesysCloudEmulator(users=300, seed=7, job_seconds=0) as emu:
        yield emu


@pytest.fixture(scope="module")
def shared_client(shared_emu: GenesysCloudEmulator) -> ApiClient:
    return ApiClient(shared_emu)


@pytest.fixture
def emu() -> Iterator[GenesysCloudEmulator]:
    """A fresh emulator for tests that change its state (faults, clock, tokens)."""
    with GenesysCloudEmulator(users=120, seed=3, job_seconds=0) as emu:
        yield emu


@pytest.fixture
def client(emu: GenesysCloudEmulator) -> ApiClient:
    return ApiClient(emu)
