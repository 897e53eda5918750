"""The organisation-wide window next to the per-token windows, and the 429 bodies of each."""

from __future__ import annotations

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator

from .conftest import ApiClient


@pytest.mark.parametrize("body", ["plain", "limit"])
def test_org_window_refuses_across_tokens_while_each_token_has_room(body):
    with GenesysCloudEmulator(users=5, rate_limit=3, org_rate_limit=4, rate_window=10, rate_limit_body=body) as emu:
        first, second = ApiClient(emu), ApiClient(emu)
        assert [first.get("/api/v2/users").status_code for _ in range(3)] == [200] * 3
        assert second.get("/api/v2/users").status_code == 200  # the organisation's 4th

        org_refused = second.get("/api/v2/users")
        assert org_refused.status_code == 429
        assert org_refused.headers["Retry-After"] == "10"
        assert org_refused.headers["inin-ratelimit-count"] == "1"  # the token's own window has room
        assert org_refused.headers["inin-ratelimit-allowed"] == "3"
        org_body = org_refused.json()
        assert org_body["code"] == "too.many.requests.retry.after"

        token_refused = first.get("/api/v2/users")  # its own window is spent: the token's 429
        assert token_refused.status_code == 429
        assert token_refused.headers["inin-ratelimit-count"] == "3"
        token_body = token_refused.json()
        if body == "limit":
            assert org_body["limit"] == {"namespace": "platform.api", "key": "org.rate.per.minute", "value": 4}
            assert token_body["limit"] == {
                "namespace": "platform.api",
                "key": "client.credentials.token.rate.per.minute",
                "value": 3,
            }
        else:
            assert "limit" not in org_body
            assert "limit" not in token_body
        assert (emu.stats.rate_limited, emu.stats.org_rate_limited) == (2, 1)

        emu.advance_clock(10)
        assert [client.get("/api/v2/users").status_code for client in (first, second)] == [200, 200]


def test_an_unknown_rate_limit_body_is_refused():
    with pytest.raises(ValueError, match="rate_limit_body must be one of plain, limit"):
        GenesysCloudEmulator(rate_limit_body="verbose")
