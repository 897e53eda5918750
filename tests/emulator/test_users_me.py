"""``GET /api/v2/users/me``: a user token's user; a client-credentials token has none (``users_me_client``)."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.emulator.conftest import fetch_token

SAML2 = "urn:ietf:params:oauth:grant-type:saml2-bearer"


def me(emu: GenesysCloudEmulator, token: str) -> requests.Response:
    return requests.get(emu.api_url + "/api/v2/users/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def test_a_user_token_answers_its_user(emu: GenesysCloudEmulator) -> None:
    first_active = emu.org.user_ids("active")[0]
    for token in (fetch_token(emu, grant_type=SAML2, assertion="PHNhbWw+", orgName="acme"),
                  fetch_token(emu, grant_type="authorization_code", code="c0de"),
                  emu.issue_token("saml2_bearer")):
        answer = me(emu, token)
        assert answer.status_code == 200, answer.text
        assert answer.json()["id"] == first_active
    other = emu.org.user_ids("active")[5]
    assert me(emu, emu.issue_token("authorization_code", user_id=other)).json()["id"] == other


def test_a_refreshed_token_keeps_its_user(emu: GenesysCloudEmulator) -> None:
    first = requests.post(emu.login_url, data={"grant_type": "authorization_code", "code": "c0de"},
                          auth=(emu.client_id, emu.client_secret), timeout=10).json()
    refreshed = fetch_token(emu, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert me(emu, refreshed).json()["id"] == emu.org.user_ids("active")[0]


def test_token_user_option_names_the_user() -> None:
    with GenesysCloudEmulator(users=20, seed=3) as probe:
        chosen = probe.org.user_ids("active")[3]
    with GenesysCloudEmulator(users=20, seed=3, token_user=chosen) as emu:
        assert me(emu, emu.issue_token("saml2_bearer")).json()["id"] == chosen


@pytest.mark.parametrize(("answer", "code"), [("400", "bad.request"), ("403", "not.authorized"),
                                              ("404", "not.found")])
def test_a_client_credentials_token_has_no_user(answer: str, code: str) -> None:
    with GenesysCloudEmulator(users=20, seed=3, users_me_client=answer) as emu:
        for token in (fetch_token(emu), emu.issue_token()):
            response = me(emu, token)
            assert response.status_code == int(answer)
            assert response.json()["code"] == code
            assert "requires a user context" in response.json()["message"]


def test_issue_token_refuses_a_user_on_a_client_token(emu: GenesysCloudEmulator) -> None:
    with pytest.raises(ValueError, match="has no user"):
        emu.issue_token(user_id=emu.org.user_ids("active")[0])
