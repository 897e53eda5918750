"""Per-token fixed-window rate limiting, its headers, the normalised 429 and the counters."""

from __future__ import annotations

from airflow_provider_genesys.testing import GenesysCloudEmulator

from .conftest import ApiClient


def test_headers_on_every_api_response(client):
    for path in ("/api/v2/users", "/api/v2/nothing"):
        response = client.get(path)
        assert response.headers["inin-ratelimit-allowed"] == "300"
        assert int(response.headers["inin-ratelimit-reset"]) in range(1, 61)
        assert response.headers["inin-correlation-id"]
    assert response.headers["inin-ratelimit-count"] == "2"


def test_limit_per_token_429_body_retry_after_and_window_reset():
    with GenesysCloudEmulator(users=5, rate_limit=3, rate_window=10) as emu:
        first, second = ApiClient(emu), ApiClient(emu)
        counts = [first.get("/api/v2/users").headers["inin-ratelimit-count"] for _ in range(3)]
        assert counts == ["1", "2", "3"]
        emu.advance_clock(4)
        refused = first.get("/api/v2/users")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "6"
        assert refused.json() == {
            "message": "Rate limit exceeded the maximum. Retry the request in [6] seconds",
            "code": "too.many.requests.retry.after",
            "status": 429,
            "messageWithParams": "Rate limit exceeded the maximum. Retry the request in [6] seconds",
            "messageParams": {},
            "contextId": refused.headers["inin-correlation-id"],
            "details": [],
            "errors": [],
        }
        assert second.get("/api/v2/users").status_code == 200, "limits are per token"
        emu.advance_clock(6)
        again = first.get("/api/v2/users")
        assert again.status_code == 200
        assert again.headers["inin-ratelimit-count"] == "1"
        assert emu.stats.rate_limited == 1
        assert emu.stats.by_status[429] == 1


def test_stats_count_requests_and_reset(emu, client):
    client.get("/api/v2/users")
    client.get(f"/api/v2/users/{emu.org.user_ids()[0]}")
    assert emu.stats.requests == 3  # the token request too
    assert emu.stats.api_requests == 2
    assert emu.stats.by_path["GET /api/v2/users/{userId}"] == 1
    assert emu.stats.rate_limited == 0
    emu.stats.reset()
    assert emu.stats.requests == 0
    assert not emu.stats.by_path
