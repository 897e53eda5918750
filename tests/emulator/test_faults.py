"""Every fault kind, scripted from a test, as a client sees it."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_genesys.testing.faults import Faults, parse_fault_spec

from .conftest import page_through


def test_status_burst_then_recovery(emu, client):
    fault = emu.faults.status(503, count=2)
    assert [client.get("/api/v2/users").status_code for _ in range(3)] == [503, 503, 200]
    body = client.get("/api/v2/users")
    assert body.status_code == 200
    assert fault.fired == 2
    assert not emu.faults.pending
    assert emu.stats.faults_fired == 2


@pytest.mark.parametrize("status", [502, 504])
def test_status_body_is_genesys_error(emu, client, status):
    emu.faults.status(status)
    response = client.get("/api/v2/users")
    assert response.status_code == status
    assert response.json()["status"] == status


def test_path_method_and_after_select_requests(emu, client):
    emu.faults.status(500, path=r"^/api/v2/authorization/", after=1)
    assert client.get("/api/v2/users").status_code == 200
    assert client.get("/api/v2/authorization/divisions").status_code == 200
    assert client.get("/api/v2/authorization/divisions").status_code == 500


def test_token_endpoint_faults_need_an_explicit_path(emu):
    emu.faults.status(503)
    emu.faults.status(502, path="^/oauth/token$")
    response = requests.post(
        emu.login_url, data={"grant_type": "client_credentials"}, auth=(emu.client_id, "x")
    )
    assert response.status_code == 502


def test_drop_closes_the_connection_without_an_answer(emu, client):
    emu.faults.drop()
    with pytest.raises(requests.ConnectionError):
        client.get("/api/v2/users")
    assert client.get("/api/v2/users").status_code == 200


def test_truncate_cut_body_fails_the_read(emu, client):
    emu.faults.truncate()
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        client.get("/api/v2/users")
    assert client.get("/api/v2/users").status_code == 200


def test_truncate_invalid_json(emu, client):
    emu.faults.truncate(mode="invalid_json")
    response = client.get("/api/v2/users")
    assert response.status_code == 200
    with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra data|Invalid"):
        response.json()


def test_slow_delays_the_answer(emu, client):
    emu.faults.slow(ms=150)
    started = time.monotonic()
    assert client.get("/api/v2/users").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_rate_limit_storm(emu, client):
    emu.faults.rate_limit(retry_after=7, count=3)
    responses = [client.get("/api/v2/users") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert responses[0].headers["Retry-After"] == "7"
    assert responses[0].json()["code"] == "too.many.requests.retry.after"
    assert emu.stats.rate_limited == 3


def test_revoke_tokens_fault(emu, client):
    emu.faults.revoke_tokens(after=1)
    assert client.get("/api/v2/users").status_code == 200
    revoked = client.get("/api/v2/users")
    assert revoked.status_code == 401
    assert revoked.json()["code"] == "bad.credentials"


def test_org_change_while_paging_by_page_number_skips_users(emu, client):
    """Removing users after page 1 shifts later pages: naive page-number paging misses users."""
    before = emu.org.user_ids("active")
    emu.faults.org_change(remove=5, add=2, after=1, path=r"^/api/v2/users$")
    seen = [u["id"] for u in page_through(client, "/api/v2/users", pageSize=20)]
    after = emu.org.user_ids("active")
    assert len(after) == len(before) - 5 + 2
    assert len(seen) < len(set(before) | set(after))
    assert set(seen) != set(after), "the client saw an inconsistent snapshot"


def test_org_change_while_cursor_paging_never_duplicates(emu, client):
    emu.faults.org_change(remove=5, add=5, after=1, path=r"^/api/v2/users/query$")
    body = client.ok("/api/v2/users/query", pageSize=20)
    ids = [u["id"] for u in body["entities"]]
    while "cursor" in body:
        body = client.ok("/api/v2/users/query", pageSize=20, cursor=body["cursor"])
        ids += [u["id"] for u in body["entities"]]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids)


def test_org_change_deactivates_the_first_active_users(emu, client):
    before = emu.org.user_ids("active")
    fault = emu.faults.org_change(deactivate=3, path=r"^/api/v2/users$")
    client.ok("/api/v2/users", pageSize=1)
    assert fault.fired == 1
    assert emu.org.user_ids("active") == before[3:]
    assert set(before[:3]) <= set(emu.org.user_ids("inactive"))
    assert parse_fault_spec("org_change:deactivate=2,after=1") == ("org_change", {"deactivate": 2, "after": 1})


def test_faults_api_validates_and_clears():
    faults = Faults()
    with pytest.raises(ValueError, match="unknown fault kind 'explode'"):
        faults.add("explode")
    with pytest.raises(ValueError, match="takes no option"):
        faults.add("drop", status=500)
    with pytest.raises(ValueError, match="400-599"):
        faults.status(200)
    forever = faults.status(503, count=None)
    assert all(forever in faults.take("GET", "/api/v2/users") for _ in range(5))
    faults.clear()
    assert not faults.take("GET", "/api/v2/users")


def test_cli_fault_spec():
    assert parse_fault_spec("status:status=503,count=3") == ("status", {"status": 503, "count": 3})
    assert parse_fault_spec("rate_limit:count=always,path=^/api/v2/users$") == (
        "rate_limit",
        {"count": None, "path": "^/api/v2/users$"},
    )
    with pytest.raises(ValueError, match="key=value"):
        parse_fault_spec("status:503")
