"""transport.send: the whole exchange ends by its deadline; redirects never leave the allowed origin.

Loopback servers here do what the emulator cannot: headers that never end, a body without Content-Length.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from airflow_provider_genesys.exceptions import GenesysCloudApiError, GenesysCloudRedirectError
from airflow_provider_genesys.transport import DeadlineAdapter, DeadlineExceeded, origin, send
from tests.unit.conftest import API, FakeClock

TIMEOUT = (0.3, 0.6)  # each trickled byte (20 ms apart) stays 30 times inside the read timeout


@pytest.fixture
def raw_server() -> Iterator[Callable[[bytes, bytes], str]]:
    """A one-shot server: answers any request with ``head``, then trickles ``body`` a byte every 20 ms."""
    stop = threading.Event()
    servers: list[socket.socket] = []

    def start(head: bytes, body: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        servers.append(listener)

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                try:
                    for byte in [head[i : i + 1] for i in range(len(head))] if body == b"" else [head]:
                        conn.sendall(byte)
                        if stop.wait(0.02):
                            return
                    for i in range(len(body)):
                        conn.sendall(body[i : i + 1])
                        if stop.wait(0.02):
                            return
                except OSError:
                    return

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/x"

    yield start
    stop.set()
    for listener in servers:
        listener.close()


def _session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", DeadlineAdapter())
    return session


@pytest.mark.parametrize(
    ("head", "body"),
    [
        # Headers a byte at a time, never finished (each gap far below the read timeout).
        (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 200, b""),
        # Content-Length promised, body trickled.
        (b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", b"[" + b"1," * 240 + b"1]"),
        # No Content-Length: the body ends when the connection closes, so a cut one would look complete.
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"[" + b"1," * 240 + b"1]"),
    ],
    ids=["headers", "body", "body-until-close"],
)
def test_the_whole_exchange_ends_by_the_deadline(raw_server: Any, head: bytes, body: bytes) -> None:
    url = raw_server(head, body)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"no complete answer within 0\.9 s"):
        send(_session(), "GET", url, timeout=TIMEOUT)
    assert time.monotonic() - started < 0.9 + 2  # not the 5+ s the trickle would take


def test_the_deadline_holds_through_an_http_proxy(raw_server: Any) -> None:
    """Through a proxy the connection comes from urllib3's ProxyManager: it must be watched too."""
    proxy = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", b"[" + b"1," * 240 + b"1]")
    session = _session()
    session.proxies = {"http": proxy.rsplit("/", 1)[0]}
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        send(session, "GET", "http://genesys.invalid/api/v2/users", timeout=TIMEOUT)
    assert time.monotonic() - started < 0.9 + 2


def test_a_deadline_is_a_requests_timeout_so_callers_retry_it() -> None:
    assert issubclass(DeadlineExceeded, requests.Timeout)


def test_the_body_is_read_before_send_returns(raw_server: Any) -> None:
    body = b'{"ok": true}'
    url = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body), body)
    response = send(_session(), "GET", url, timeout=(1, 2))
    assert response.json() == {"ok": True}


def test_origin_never_shows_user_info_path_or_query() -> None:
    assert origin("http://user:pw@Other.example:81/p?token=abc#f") == "http://other.example:81"
    assert origin("https://api.mypurecloud.com/api/v2") == "https://api.mypurecloud.com:443"


def test_api_redirect_off_the_api_host_is_refused(requests_mock: Any, make_client: Any) -> None:
    requests_mock.get(
        f"{API}/api/v2/users/me",
        status_code=302,
        headers={"Location": "https://user:pw@evil.example:8443/steal?access_token=abc"},
    )
    other = requests_mock.get("https://evil.example:8443/steal", json={"id": "forged"})
    with pytest.raises(GenesysCloudRedirectError) as caught:
        make_client().request("GET", "/api/v2/users/me")
    message = str(caught.value)
    assert "302 redirecting to https://evil.example:8443" in message
    assert "pw" not in message
    assert "abc" not in message
    assert other.call_count == 0


def test_same_host_redirect_is_followed_with_the_token(requests_mock: Any, make_client: Any) -> None:
    requests_mock.get(f"{API}/api/v2/users/me", status_code=301, headers={"Location": "/api/v2/users/me2"})
    moved = requests_mock.get(f"{API}/api/v2/users/me2", json={"id": "me"})
    assert make_client().request("GET", "/api/v2/users/me") == {"id": "me"}
    assert moved.last_request.headers["Authorization"].startswith("Bearer tok-")


def test_token_request_follows_no_redirect(requests_mock: Any, make_client: Any) -> None:
    from tests.unit.conftest import TOKEN_URL

    requests_mock.post(TOKEN_URL, status_code=307, headers={"Location": TOKEN_URL + "?again=1"})
    with pytest.raises(GenesysCloudRedirectError, match="token requests never follow redirects"):
        make_client().request("GET", "/api/v2/users/me")
    assert requests_mock.call_count == 1  # even a same-host redirect: the form holds credentials


def test_a_pacer_wait_past_max_retry_time_stops_at_once(
    requests_mock: Any, make_client: Any, clock: FakeClock
) -> None:
    spent = {"inin-ratelimit-allowed": "1", "inin-ratelimit-count": "1", "inin-ratelimit-reset": "170"}
    requests_mock.get(f"{API}/api/v2/users/me", json={"id": "me"}, headers=spent)
    client = make_client(max_retry_time=100)
    client.request("GET", "/api/v2/users/me")
    with pytest.raises(GenesysCloudApiError, match=r"resets in 170 s, after max_retry_time 100 s") as caught:
        client.request("GET", "/api/v2/users/me")
    assert clock.sleeps == []  # did not sleep 170 s first
    assert caught.value.retryable  # Airflow's task retries may try later


def test_the_connection_s_ca_bundle_and_proxies_win_over_the_environment(
    requests_mock: Any, make_client: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/elsewhere.crt")
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:1")
    call = requests_mock.get(f"{API}/api/v2/users/me", json={"id": "me"})
    make_client(ca_bundle=str(ca), proxies="http://conn-proxy:3128").request("GET", "/api/v2/users/me")
    assert call.last_request.verify == str(ca)
    assert call.last_request.proxies["https"] == "http://conn-proxy:3128"
