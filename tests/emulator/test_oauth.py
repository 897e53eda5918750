"""OAuth at /oauth/token and bearer checks on the API, with Genesys' error shapes."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_genesys.testing import GenesysCloudEmulator

from .conftest import ApiClient, fetch_token

SAML2 = "urn:ietf:params:oauth:grant-type:saml2-bearer"


def post_token(
    emu: GenesysCloudEmulator, auth: tuple[str, str] | None = None, **form: str
) -> requests.Response:
    return requests.post(
        emu.login_url, data=form, auth=auth or (emu.client_id, emu.client_secret), timeout=10
    )


def api_get(emu: GenesysCloudEmulator, token: str | None, path: str = "/api/v2/users") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(emu.api_url + path, headers=headers, timeout=10)


def test_client_credentials_token_shape(emu):
    response = post_token(emu, grant_type="client_credentials")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    assert response.headers["inin-correlation-id"]
    assert api_get(emu, body["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("auth", "description"),
    [
        (("nobody", "emulator-secret"), "client not found"),
        (("emulator-client", "wrong"), "authentication failed"),
    ],
)
def test_bad_client_gets_400_invalid_client(emu, auth, description):
    response = post_token(emu, auth=auth, grant_type="client_credentials")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client",
        "description": description,
        "error_description": description,
    }
    assert "emulator-secret" not in response.text


def test_saml2_bearer_needs_assertion_and_org_name(emu):
    ok = post_token(emu, grant_type=SAML2, assertion="PHNhbWw+", orgName="acme")
    assert ok.status_code == 200
    assert "refresh_token" not in ok.json()
    missing = post_token(emu, grant_type=SAML2, orgName="acme")
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


def test_authorization_code_and_rotating_refresh_tokens(emu):
    first = post_token(
        emu, grant_type="authorization_code", code="abc", redirect_uri="http://localhost/cb"
    ).json()
    assert first["refresh_token"]
    second = post_token(emu, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reused = post_token(emu, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert api_get(emu, second.json()["access_token"]).status_code == 200


def test_unknown_grant_type_is_rejected(emu):
    response = post_token(emu, grant_type="password")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_missing_unknown_and_expired_tokens_get_genesys_401_codes():
    with GenesysCloudEmulator(users=5, token_ttl=300) as emu:
        missing = api_get(emu, None)
        assert (missing.status_code, missing.json()["code"]) == (401, "authentication.required")
        unknown = api_get(emu, "not-a-token")
        assert (unknown.status_code, unknown.json()["code"]) == (401, "bad.credentials")
        token = fetch_token(emu)
        emu.advance_clock(299)
        assert api_get(emu, token).status_code == 200
        emu.advance_clock(1)
        expired = api_get(emu, token)
        assert (expired.status_code, expired.json()["code"]) == (401, "credentials.expired")
        assert token not in expired.text
        assert api_get(emu, fetch_token(emu)).status_code == 200


def test_revoke_tokens_and_issue_token_helpers(emu):
    token = emu.issue_token()
    assert api_get(emu, token).status_code == 200
    assert emu.revoke_tokens() >= 1
    assert api_get(emu, token).json()["code"] == "bad.credentials"


def test_token_creation_rate_limit_answers_400_invalid_request():
    with GenesysCloudEmulator(users=5, token_rate_limit=2, rate_window=60) as emu:
        assert post_token(emu, grant_type="client_credentials").status_code == 200
        assert post_token(emu, grant_type="client_credentials").status_code == 200
        refused = post_token(emu, grant_type="client_credentials")
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_request"
        assert refused.json()["description"].startswith("rate limit exceeded")
        assert refused.json()["error_description"] == refused.json()["description"]
        emu.advance_clock(60)
        assert post_token(emu, grant_type="client_credentials").status_code == 200
        assert emu.stats.token_requests == 4
        assert emu.stats.tokens_issued == 3


def test_token_endpoint_only_accepts_post(emu):
    response = requests.get(emu.login_url, timeout=10)
    assert response.status_code == 405
    assert response.json()["status"] == 405


def test_gateway_prefixes_move_login_and_api():
    with GenesysCloudEmulator(users=5, path_prefix_login="login/", path_prefix_api="/gw/api") as emu:
        assert emu.login_url == f"{emu.base_url}/login/oauth/token"
        client = ApiClient(emu)
        body = client.ok("/api/v2/users", pageSize=1)
        assert body["nextUri"].startswith("/api/v2/users?"), (
            "URIs stay gateway-relative, as Genesys sends them"
        )
        assert requests.get(f"{emu.base_url}/api/v2/users", timeout=10).status_code == 404
        assert requests.post(f"{emu.base_url}/oauth/token", timeout=10).status_code == 404
        extra = emu.connection_dict()["extra"]
        assert extra["gateway_path_params_login"] == "/login"
        assert extra["gateway_path_params_api"] == "/gw/api"
