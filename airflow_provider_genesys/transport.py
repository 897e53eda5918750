"""One HTTP exchange with a total deadline and a redirect rule (no Airflow imports).

requests' read timeout bounds each gap between two packets, not the call: a server that trickles its
headers or body a byte at a time keeps a plain ``session.request`` running for hours. ``send`` bounds the
whole exchange (connect, headers and body) by ``connect_timeout + read_timeout``: a watchdog timer shuts
the connection's socket down when that deadline passes, whatever phase the exchange is in, and the body
is read before ``send`` returns. A deadline hit raises :class:`DeadlineExceeded`, a ``requests.Timeout``,
so callers retry it exactly like a read timeout.

Redirects never carry credentials to another host: token requests follow none (a redirect is a
:class:`~airflow_provider_genesys.exceptions.GenesysCloudRedirectError`), API calls follow a redirect only
when it stays on the configured API origin (same scheme, host and port).

The watchdog needs to know the connection's socket; :class:`DeadlineAdapter` (mounted by the client on its
session) makes every connection register itself with the exchange running in its thread.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError

from airflow_provider_genesys.exceptions import GenesysCloudRedirectError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK = 65536


class DeadlineExceeded(requests.exceptions.Timeout):
    """The whole exchange did not finish within its deadline; the connection was closed."""


class _Exchange:
    """The deadline of one exchange and the connections it used (to shut them down when it passes)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self._connections: list[HTTPConnection] = []
        # The sockets themselves too: a response read until the connection closes takes the socket over
        # from its connection (http.client sets ``connection.sock`` to None), but it is the same socket.
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.done = False

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)

    def watch_socket(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._sockets.append(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            sockets = [getattr(c, "sock", None) for c in self._connections] + self._sockets
        for sock in sockets:
            if sock is not None:
                with contextlib.suppress(OSError):
                    # The plain socket's shutdown, also for TLS: SSLSocket.shutdown would drop its SSL
                    # object under the reading thread. The reader sees end of stream and fails.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def check(self) -> None:
        """The fallback for connections the watchdog does not know: fail between two reads."""
        if self.expired or time.monotonic() > self.deadline:
            self.expired = True
            raise self.error()

    def error(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"no complete answer within {self.seconds:g} s (connect_timeout + read_timeout); "
            "the connection was closed"
        )

    def __enter__(self) -> _Exchange:
        _current.exchange = self
        _WATCHDOG.watch(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self.done = True
        _WATCHDOG.forget()
        _current.exchange = None


class _Watchdog:
    """One daemon thread for every exchange of the process: expires each at its deadline.

    A thread per exchange (``threading.Timer``) halved loopback throughput; this costs a heap push.
    Finished exchanges are dropped lazily, and the heap is rebuilt when they outnumber the live ones.
    """

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):  # a forked task runner starts with no thread and a free lock
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Exchange]] = []
        self._order = itertools.count()
        self._finished = 0
        self._thread: threading.Thread | None = None

    def watch(self, exchange: _Exchange) -> None:
        with self._cond:
            heapq.heappush(self._heap, (exchange.deadline, next(self._order), exchange))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="genesys-deadline-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is exchange:
                self._cond.notify()

    def forget(self) -> None:
        with self._cond:
            self._finished += 1
            if self._finished > 256 and self._finished * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._finished = 0

    def _run(self) -> None:
        while True:
            due: list[_Exchange] = []
            with self._cond:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    exchange = heapq.heappop(self._heap)[2]
                    if exchange.done:
                        self._finished = max(0, self._finished - 1)
                    else:
                        due.append(exchange)
                if not due:
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
            for exchange in due:
                exchange.expire()


_WATCHDOG = _Watchdog()


_current = threading.local()


def _watched_request(connection: HTTPConnection, send_request: Callable[[], None]) -> None:
    """Register the connection with this thread's exchange, send the request, register its socket."""
    exchange: _Exchange | None = getattr(_current, "exchange", None)
    if exchange is not None:
        exchange.watch(connection)
    send_request()
    if exchange is not None:
        exchange.watch_socket(getattr(connection, "sock", None))


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched_request(self, lambda: super(_WatchedHTTPConnection, self).request(*args, **kwargs))


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched_request(self, lambda: super(_WatchedHTTPSConnection, self).request(*args, **kwargs))


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOL_CLASSES = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections (direct or through an HTTP proxy) the watchdog can close."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme") and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, never its user info, path or query (safe to show)."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or _DEFAULT_PORTS.get(scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def nothing_sent(exc: BaseException) -> bool:
    """Whether a transport failure happened before any byte of the request could reach the server.

    True for a connection that was never made (refused, name not resolved, connect timeout; urllib3 2 makes
    each a ``ConnectTimeoutError``), found anywhere in the chain requests wraps it in. Anything else (a reset,
    a read timeout, a deadline hit, a body cut short) may come after the server acted on the request.
    """
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, requests.ConnectTimeout | ConnectTimeoutError):
            return True
        pending += [*current.args, getattr(current, "reason", None), getattr(current, "original_error", None)]
        pending += [current.__cause__, current.__context__]
    return False


def _refused(method: str, url: str, response: requests.Response, rule: str) -> GenesysCloudRedirectError:
    target = origin(urljoin(response.url or url, response.headers.get("Location", "")))
    response.close()
    return GenesysCloudRedirectError(
        f"{method} {urlsplit(url).path} on {origin(url)} answered {response.status_code} redirecting to "
        f"{target}; {rule}. Check that gateway_host / region point at Genesys Cloud itself, not at a "
        "server that redirects."
    )


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: tuple[float, float],
    redirect_origin: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one request and read its whole body within ``sum(timeout)`` seconds.

    :param timeout: ``(connect_timeout, read_timeout)``; their sum bounds the whole exchange.
    :param redirect_origin: a URL whose origin redirects may stay on (API calls); ``None`` refuses every
        redirect (token requests carry credentials, assertions and refresh tokens).
    :raises DeadlineExceeded: the deadline passed (a ``requests.Timeout``: retry it like one).
    :raises GenesysCloudRedirectError: a redirect that this rule refuses; nothing was sent there.
    """
    allowed = origin(redirect_origin) if redirect_origin else None
    # requests lets REQUESTS_CA_BUNDLE and HTTPS_PROXY override the session's own verify and proxies
    # (psf/requests#3829): the connection's ca_bundle and proxies must win, the environment fill gaps.
    kwargs.setdefault("verify", session.verify)
    kwargs.setdefault("proxies", dict(session.proxies))

    def refuse_off_origin(response: requests.Response, **_: Any) -> requests.Response:
        if response.is_redirect:
            target = urljoin(response.url or url, response.headers.get("Location", ""))
            if allowed is None or origin(target) != allowed:
                rule = (
                    "token requests never follow redirects (they carry credentials)"
                    if allowed is None
                    else f"redirects are followed only on the API origin {allowed}"
                )
                raise _refused(method, url, response, rule)
        return response

    with _Exchange(sum(timeout)) as exchange:
        response: requests.Response | None = None
        try:
            response = session.request(
                method,
                url,
                timeout=timeout,
                stream=True,
                allow_redirects=allowed is not None,
                hooks={"response": [refuse_off_origin]},
                **kwargs,
            )
            chunks = []
            for chunk in response.iter_content(_CHUNK):
                chunks.append(chunk)
                exchange.check()
            if exchange.expired:  # a body without Content-Length ends at the shutdown: it is not complete
                raise exchange.error()
            response._content = b"".join(chunks)
            response._content_consumed = True
            return response
        except (requests.RequestException, OSError, ValueError):  # ValueError: read on a shut socket
            if response is not None:
                response.close()
            if exchange.expired:
                raise exchange.error() from None
            raise


__all__ = ["DeadlineAdapter", "DeadlineExceeded", "origin", "send"]
