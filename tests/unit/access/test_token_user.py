"""token_user against a mocked API: who the connection's token is, and the answers meaning "nobody"."""

from __future__ import annotations

import pytest

from airflow_provider_genesys.access.current import token_user
from airflow_provider_genesys.access.errors import GenesysAccessError
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from tests.unit.conftest import API

ME = API + "/api/v2/users/me"


@pytest.fixture
def client(make_client):
    return make_client(max_retry_wait=0, max_attempts=2)


def test_client_credentials_never_ask(client, requests_mock) -> None:
    me = requests_mock.get(ME, json={"id": "u1"})
    assert token_user(client, "client_credentials") == (None, "a client-credentials token has no user")
    assert me.call_count == 0


def test_a_user_token_names_its_user(client, requests_mock) -> None:
    requests_mock.get(ME, json={"id": "u1", "email": "ann@example.com"})
    assert token_user(client, "saml2_bearer") == ("u1", "the token is the user ann@example.com's")


@pytest.mark.parametrize(("status", "code"), [(400, "bad.request"), (403, "not.authorized"), (404, "not.found")])
def test_answers_meaning_a_token_without_user(client, requests_mock, status, code) -> None:
    requests_mock.get(ME, status_code=status, json={"status": status, "code": code, "message": "no user context"})
    user, why = token_user(client, "access_token")
    assert user is None
    assert why == f"GET /api/v2/users/me answered {status} {code}: the token has no user (a client's token)"


def test_other_answers_still_fail(client, requests_mock) -> None:
    requests_mock.get(ME, status_code=500, json={"status": 500, "code": "internal.server.error", "message": "x"})
    with pytest.raises(GenesysCloudApiError) as caught:
        token_user(client, "refresh_token")
    assert caught.value.status == 500
    requests_mock.get(ME, json={"name": "no id"})
    with pytest.raises(GenesysAccessError, match="answered without a user id"):
        token_user(client, "refresh_token")
