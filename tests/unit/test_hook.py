"""GenesysCloudHook: connection -> settings -> client, Airflow error mapping, secrets, convenience methods."""

from __future__ import annotations

import json
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock as rm

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook, api_errors_as_failures

CLIENT_SECRET = "s3cr3t-client-value"
TOKEN = "tok-0123456789abcdef"
LOGIN = "https://login.mypurecloud.ie/oauth/token"
API = "https://api.mypurecloud.ie"
ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"


def _set_conn(monkeypatch: pytest.MonkeyPatch, extra: object = None, **fields: object) -> None:
    conn = {"conn_type": "genesys_cloud", "login": "client-id", "password": CLIENT_SECRET, **fields}
    conn["extra"] = {"region": "eu_west_1"} if extra is None else extra
    monkeypatch.setenv(ENV, json.dumps(conn))


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch):
    """A eu_west_1 connection and a mocked Genesys that hands out TOKEN."""
    _set_conn(monkeypatch)
    with rm.Mocker() as mocker:
        mocker.post(LOGIN, json={"access_token": TOKEN, "token_type": "bearer", "expires_in": 86400})
        yield mocker


def _query(request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def _one_page(*entities: dict) -> dict:
    return {
        "entities": list(entities),
        "pageNumber": 1,
        "pageSize": 100,
        "pageCount": 1,
        "total": len(entities),
    }


# -- connection -> settings ----------------------------------------------------------------------------


def test_settings_from_json_env_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, extra={"region": "eu-west-1", "max_attempts": "5", "pacing": "false"})
    with rm.Mocker() as mocker:  # any HTTP call would raise NoMockAddress
        hook = GenesysCloudHook()
        settings = hook.settings
        assert hook.client is hook.client
        assert mocker.call_count == 0
    assert settings.api_base_url == API
    assert settings.token_url == LOGIN
    assert (settings.client_id, settings.max_attempts, settings.pacing) == ("client-id", 5, False)


def test_settings_from_uri_with_host_as_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_MY_GENESYS", "genesys-cloud://an-id:a%2Fsecret@mypurecloud.de?read_timeout=90"
    )
    settings = GenesysCloudHook("my_genesys").settings
    assert settings.region.name == "eu_central_1"
    assert (settings.client_id, settings.client_secret, settings.read_timeout) == ("an-id", "a/secret", 90.0)


def test_gateway_connection_reaches_the_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(
        monkeypatch, extra={"gateway_host": "127.0.0.1", "gateway_protocol": "http", "gateway_port": 8765}
    )
    with rm.Mocker() as mocker:
        mocker.post("http://127.0.0.1:8765/oauth/token", json={"access_token": TOKEN, "expires_in": 3600})
        mocker.get("http://127.0.0.1:8765/api/v2/organizations/me", json={"id": "o1", "name": "Emu"})
        assert GenesysCloudHook().get_organization()["name"] == "Emu"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"region": "eu_west_9"}, "eu_west_9"),
        ({"max_atempts": 3}, "max_attempts"),  # the typo is reported with the right spelling
        ({"max_attempts": "many"}, "max_attempts"),
        ({"grant_type": "password"}, "grant_type"),
    ],
)
def test_bad_extra_fails_the_task_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, extra: dict, named: str
) -> None:
    _set_conn(monkeypatch, extra=extra)
    with pytest.raises(AirflowFailException, match=named) as failure:
        _ = GenesysCloudHook().settings
    assert CLIENT_SECRET not in str(failure.value)


def test_malformed_extra_json_fails_instead_of_being_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "genesys_cloud", "login": "id", "password": CLIENT_SECRET}
    monkeypatch.setenv(ENV, json.dumps({**conn, "extra": '{"region": "eu_west_1", "access_token": "xyz'}))
    # Airflow < 3.2 drops such a connection itself; the hook then says the variable is unreadable.
    with pytest.raises(AirflowFailException, match=r"not valid JSON|could not read it") as failure:
        _ = GenesysCloudHook().settings
    assert "xyz" not in str(failure.value)


def test_unreadable_connection_variable_is_not_reported_as_undefined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, '{"conn_type": "genesys_cloud", "login": "id", "password": "' + CLIENT_SECRET)
    with pytest.raises(AirflowFailException, match=f"{ENV} is set but Airflow could not read it") as failure:
        _ = GenesysCloudHook().settings
    assert CLIENT_SECRET not in str(failure.value)


def test_missing_secret_fails_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "genesys_cloud", "login": "id"}))
    with pytest.raises(AirflowFailException, match="Password"):
        _ = GenesysCloudHook().settings


# -- errors and secrets ----------------------------------------------------------------------------------


def test_refused_credentials_fail_the_task_without_the_secret(api: rm.Mocker) -> None:
    api.post(LOGIN, status_code=401, json={"error": "invalid_client", "description": "authentication failed"})
    hook = GenesysCloudHook()
    with pytest.raises(AirflowFailException) as failure:
        hook.get_organization()
    with pytest.raises(AirflowFailException):
        list(hook.get_users())  # lazily, from inside the page iterator too
    assert "invalid_client" in str(failure.value)
    assert CLIENT_SECRET not in str(failure.value)


def test_api_errors_propagate_structured(api: rm.Mocker) -> None:
    api.get(
        f"{API}/api/v2/users/nobody",
        status_code=404,
        json={"status": 404, "code": "not.found", "message": "The user was not found", "contextId": "ctx-1"},
    )
    with pytest.raises(GenesysCloudApiError) as failure:
        GenesysCloudHook().get_user("nobody")
    assert (failure.value.status, failure.value.code, failure.value.correlation_id) == (
        404,
        "not.found",
        "ctx-1",
    )


def test_tokens_and_connection_secrets_are_masked(monkeypatch: pytest.MonkeyPatch, api: rm.Mocker) -> None:
    api.get(f"{API}/api/v2/tokens/me", json={"organization": {"id": "o1"}})
    with mock.patch("airflow_provider_genesys.hooks.genesys.mask_secret_quietly") as mask:
        GenesysCloudHook().get_token_info()
    masked = {call.args[0] for call in mask.call_args_list}
    assert {CLIENT_SECRET, TOKEN} <= masked


def test_access_token_grant_masks_the_token_from_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, extra={"region": "eu_west_1", "grant_type": "access_token", "access_token": TOKEN})
    with mock.patch("airflow_provider_genesys.hooks.genesys.mask_secret_quietly") as mask:
        _ = GenesysCloudHook().settings
    assert TOKEN in {call.args[0] for call in mask.call_args_list}


# -- test_connection -------------------------------------------------------------------------------------


def test_test_connection_names_the_organisation(api: rm.Mocker) -> None:
    api.get(f"{API}/api/v2/organizations/me", json={"id": "org-1", "name": "Acme Corp"})
    api.get(f"{API}/api/v2/tokens/me", json={"OAuthClient": {"id": "c1", "name": "airflow-extracts"}})
    ok, message = GenesysCloudHook().test_connection()
    assert ok
    assert "Acme Corp" in message
    assert API in message
    assert "airflow-extracts" in message


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (401, {"error": "invalid_client", "description": "authentication failed"}, "invalid_client"),
        (200, None, "missing.permissions"),
    ],
)
def test_test_connection_failure_is_clear_and_secret_free(
    api: rm.Mocker, status: int, body: dict | None, reason: str
) -> None:
    if body is not None:
        api.post(LOGIN, status_code=status, json=body)
    api.get(
        f"{API}/api/v2/organizations/me",
        status_code=403,
        json={"status": 403, "code": "missing.permissions", "message": "Missing permission"},
    )
    ok, message = GenesysCloudHook().test_connection()
    assert not ok
    assert reason in message
    assert CLIENT_SECRET not in message
    assert TOKEN not in message



def test_test_connection_answers_quickly_instead_of_spending_the_whole_retry_budget(
    api: rm.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection allows 10 attempts; the Test button must not keep the UI waiting for them.
    _set_conn(monkeypatch, extra={"region": "eu_west_1", "max_attempts": 10, "backoff_base": 0})
    down = api.get(f"{API}/api/v2/organizations/me", status_code=503, json={"status": 503, "code": "x"})
    ok, message = GenesysCloudHook().test_connection()
    assert not ok
    assert down.call_count == 2
    assert "2 attempts" in message

# -- convenience methods ---------------------------------------------------------------------------------

LISTINGS = [
    ("get_users", (), {"expand": ["authorization", "groups"], "state": "any"}, "/api/v2/users",
     {"expand": ["authorization,groups"], "state": ["any"], "pageSize": ["500"]}),
    ("get_roles", (), {}, "/api/v2/authorization/roles", {"userCount": ["false"], "pageSize": ["100"]}),
    ("get_role_users", ("r/1",), {}, "/api/v2/authorization/roles/r%2F1/users", {}),
    ("get_permissions", (), {}, "/api/v2/authorization/permissions", {}),
    ("get_divisions", (), {}, "/api/v2/authorization/divisions", {}),
    ("get_division_grants", ("d1",), {}, "/api/v2/authorization/divisions/d1/grants", {"pageSize": ["500"]}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "args", "kwargs", "path", "params"), LISTINGS)
def test_listing_methods_page_through_the_right_endpoint(
    api: rm.Mocker, method: str, args: tuple, kwargs: dict, path: str, params: dict
) -> None:
    api.get(rm.ANY, json=_one_page({"id": "e1"}, {"id": "e2"}))
    result = getattr(GenesysCloudHook(), method)(*args, **kwargs)
    assert api.call_count == 0  # iterators are lazy
    assert [entity["id"] for entity in result] == ["e1", "e2"]
    request = api.request_history[-1]
    assert (request.method, urlsplit(request.url).path) == ("GET", path)
    assert params.items() <= _query(request).items()


SINGLES = [
    ("get_user", ("u/..",), {"expand": "groups"}, "/api/v2/users/u%2F..", {"expand": ["groups"]}),
    ("get_user_roles", ("u1",), {}, "/api/v2/users/u1/roles", {}),
    ("get_role", ("r1",), {}, "/api/v2/authorization/roles/r1", {}),
    ("get_subject_grants", ("s1",), {}, "/api/v2/authorization/subjects/s1", {}),
    ("get_organization", (), {}, "/api/v2/organizations/me", {}),
    ("get_token_info", (), {}, "/api/v2/tokens/me", {}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "args", "kwargs", "path", "params"), SINGLES)
def test_single_object_methods_return_the_body(
    api: rm.Mocker, method: str, args: tuple, kwargs: dict, path: str, params: dict
) -> None:
    api.get(rm.ANY, json={"id": "x1", "name": "X"})
    assert getattr(GenesysCloudHook(), method)(*args, **kwargs) == {"id": "x1", "name": "X"}
    request = api.request_history[-1]
    assert (request.method, urlsplit(request.url).path) == ("GET", path)
    assert _query(request) == params
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_request_passes_body_and_params(api: rm.Mocker) -> None:
    api.post(f"{API}/api/v2/audits/query", json={"id": "tx-1", "state": "Queued"})
    body = {"interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "serviceName": "Directory"}
    hook = GenesysCloudHook()
    assert hook.request("POST", "/api/v2/audits/query", params={"x": 1}, json=body) == {
        "id": "tx-1",
        "state": "Queued",
    }
    assert api.last_request.json() == body
    assert _query(api.last_request) == {"x": ["1"]}
    assert hook.stats.requests == 1


def test_close_releases_the_client_and_a_later_call_builds_a_new_one(api: rm.Mocker) -> None:
    with GenesysCloudHook() as hook:
        client = hook.client
        with mock.patch.object(client, "close") as close:
            hook.close()
        close.assert_called_once()
        assert hook.client is not client


def test_test_connection_scrubs_secrets_from_foreign_errors(api: rm.Mocker) -> None:
    """A third-party error quoting a header must not carry the token into the UI."""
    api.get(f"{API}/api/v2/organizations/me", json={"id": "org-1", "name": "Acme Corp"})
    api.get(f"{API}/api/v2/tokens/me", exc=ValueError(f"bad header: Bearer {TOKEN}"))
    ok, message = GenesysCloudHook().test_connection()
    assert not ok
    assert "bad header: Bearer ***" in message


# -- against the emulator: every failure the issue names, end to end through the hook ------------------


@pytest.fixture
def emu(genesys_emulator, monkeypatch: pytest.MonkeyPatch):
    """The emulator with a connection whose back-off waits are zero, so retries need no real time."""
    monkeypatch.setenv(ENV, genesys_emulator.connection_json(backoff_base=0))
    return genesys_emulator


FAULTS = [
    pytest.param(lambda f: f.status(503, count=2), 2, id="503-burst"),
    pytest.param(lambda f: f.status(502, count=1), 1, id="502"),
    pytest.param(lambda f: f.rate_limit(retry_after=0, count=3), 3, id="429-storm"),
    pytest.param(lambda f: f.drop(count=1), 1, id="dropped-connection"),
    pytest.param(lambda f: f.truncate(count=1), 1, id="truncated-body"),
    pytest.param(lambda f: f.truncate(mode="invalid_json", count=1), 1, id="invalid-json-body"),
]


@pytest.mark.parametrize(("fault", "retries"), FAULTS)
def test_hook_rides_out_transient_faults(emu, fault, retries: int) -> None:
    fault(emu.faults)
    with GenesysCloudHook() as hook:
        assert hook.get_organization() == emu.org.organization
        assert hook.stats.retries == retries
    assert not emu.faults.pending


def test_hook_gives_up_on_an_endless_429_storm_saying_why(emu, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, emu.connection_json(max_attempts=3))
    emu.faults.rate_limit(retry_after=0, count=None)
    with GenesysCloudHook() as hook, pytest.raises(GenesysCloudApiError) as excinfo:
        hook.get_organization()
    error = excinfo.value
    assert (error.status, error.attempts, error.retryable) == (429, 3, True)
    assert "gave up after 3 attempts" in str(error)
    assert "max_attempts 3 reached" in str(error)
    assert emu.stats.rate_limited == 3


@pytest.mark.genesys_emulator(token_ttl=600)
def test_expired_token_is_refreshed_and_the_request_replayed(emu) -> None:
    with GenesysCloudHook() as hook:
        hook.get_organization()
        emu.advance_clock(601)  # the emulator expires the token; the client's clock has not moved
        assert hook.get_organization() == emu.org.organization
        assert hook.stats.token_fetches == 2
    assert emu.stats.by_status[401] == 1


def test_revoked_tokens_are_replaced_once(emu) -> None:
    with GenesysCloudHook() as hook:
        hook.get_organization()
        emu.faults.revoke_tokens()
        users = list(hook.get_users())
        assert [u["id"] for u in users] == emu.org.user_ids("active")
        assert hook.stats.token_fetches == 2


def test_non_idempotent_post_is_not_retried_unless_asked(emu) -> None:
    body = {"interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "serviceName": "Authorization"}
    emu.faults.status(503, count=1)
    with GenesysCloudHook() as hook:
        with pytest.raises(GenesysCloudApiError) as excinfo:
            hook.request("POST", "/api/v2/audits/query", json=body)
        assert "not retried: POST is not idempotent" in str(excinfo.value)
        assert "retry_non_idempotent" in str(excinfo.value)
        emu.faults.drop(count=1)
        submitted = hook.request("POST", "/api/v2/audits/query", json=body, retry_non_idempotent=True)
        assert submitted["state"] == "Queued"
        emu.faults.rate_limit(retry_after=0, count=1)  # a 429 was not processed: always retried
        assert hook.request("POST", "/api/v2/audits/query", json=body)["state"] == "Queued"


def test_gateway_path_prefixes_reach_login_and_api(genesys_emulator_factory, monkeypatch) -> None:
    gateway = genesys_emulator_factory(users=40, path_prefix_login="/login", path_prefix_api="/gw/api")
    monkeypatch.setenv(ENV, gateway.connection_json())
    with GenesysCloudHook() as hook:
        ok, message = hook.test_connection()
        assert ok
        assert "/gw/api" in message
        assert gateway.org.organization["name"] in message
        # nextUri comes without the gateway prefix: the client joins it to its API base
        by_page = [u["id"] for u in hook.paginate("/api/v2/users", params={"pageSize": 7})]
        assert by_page == gateway.org.user_ids("active")
        by_cursor = [u["id"] for u in hook.paginate("/api/v2/users/query", params={"pageSize": 7})]
        assert sorted(by_cursor) == sorted(gateway.org.user_ids("active"))


def test_wrong_secret_against_the_emulator_fails_fast_and_clean(emu, monkeypatch) -> None:
    conn = json.loads(emu.connection_json())
    monkeypatch.setenv(ENV, json.dumps({**conn, "password": "not-the-secret-xyz"}))
    with GenesysCloudHook() as hook, pytest.raises(AirflowFailException) as excinfo:
        hook.get_users().__next__()
    text = str(excinfo.value)
    assert "invalid_client" in text
    assert "the gateway http://127.0.0.1:" in text
    assert "not-the-secret-xyz" not in text
    assert emu.stats.token_requests == 1  # bad credentials are not retried


# -- api_errors_as_failures: the one place operators and sensors map API errors to task outcomes ------


def test_api_errors_as_failures_fails_fast_only_where_retrying_cannot_help(emu) -> None:
    with GenesysCloudHook() as hook:
        with pytest.raises(AirflowFailException, match=r"404 not\.found"), api_errors_as_failures():
            hook.get_user("no-such-user")
        emu.faults.status(503, count=None)
        with pytest.raises(GenesysCloudApiError) as excinfo, api_errors_as_failures():
            hook.get_organization()
        assert excinfo.value.status == 503  # Airflow's task retries may still help


def test_undefined_connection_fails_fast_saying_how_to_define_it(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_GENESYS_CLOUD_MISSING", raising=False)
    hook = GenesysCloudHook(genesys_conn_id="genesys_cloud_missing")
    with pytest.raises(AirflowFailException, match="'genesys_cloud_missing' is not defined") as info:
        hook.request("GET", "/api/v2/users/me")
    assert "AIRFLOW_CONN_GENESYS_CLOUD_MISSING=" in str(info.value)
    assert '"conn_type": "genesys_cloud"' in str(info.value)
