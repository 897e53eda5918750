"""The HTTP side: the standard library's threading server, gateway prefixes, OAuth, bearer checks,
per-token and organisation-wide rate limiting, faults and Genesys' headers on every answer."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import socket
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from airflow_provider_genesys.testing.areas import AnalyticsApi, Context, build_areas
from airflow_provider_genesys.testing.areas.calls import Call
from airflow_provider_genesys.testing.clock import Clock
from airflow_provider_genesys.testing.errors import ApiError, OAuthError, error_body, rate_limited
from airflow_provider_genesys.testing.faults import Fault, Faults
from airflow_provider_genesys.testing.options import Settings
from airflow_provider_genesys.testing.org.conversations import History
from airflow_provider_genesys.testing.org.directory import Org
from airflow_provider_genesys.testing.org.routing import Routing
from airflow_provider_genesys.testing.paging import Params
from airflow_provider_genesys.testing.ratelimit import FixedWindowLimiter
from airflow_provider_genesys.testing.stats import Stats
from airflow_provider_genesys.testing.tokens import TokenStore, record_secret
from airflow_provider_genesys.testing.writes import Writes

SAML2_BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer"
TOKEN_PATH = "/oauth/token"
API_ROOT = "/api/v2/"
MAX_BODY_BYTES = 512_000  # Genesys' request body limit
_DRAIN_LIMIT = 16 * 1024 * 1024  # read (and drop) oversized bodies up to this, so keep-alive survives
# How a 429 names the limit that refused it (ErrorBody.limit, model Limit: namespace, key, value). The token
# key is on Genesys' org limits page; Genesys publishes no key for an organisation-wide request limit, so the
# emulator names it itself: clients must treat any key but a per-token one as shared by every token.
TOKEN_LIMIT = {"namespace": "platform.api", "key": "client.credentials.token.rate.per.minute"}
ORG_LIMIT = {"namespace": "platform.api", "key": "org.rate.per.minute"}
_STATUS_CODES = {
    500: "internal.server.error",
    502: "bad.gateway",
    503: "service.unavailable",
    504: "gateway.timeout",
}


def normalise_prefix(prefix: str | None) -> str:
    """Gateway path params as the SDKs treat them: leading ``/`` added, trailing ``/`` dropped."""
    prefix = (prefix or "").strip().strip("/")
    return f"/{prefix}" if prefix else ""


class Backend:
    """The emulator's state and components, shared by all request threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        record_secret("client_secret", settings.client_secret)
        self.prefix_login = normalise_prefix(settings.path_prefix_login)
        self.prefix_api = normalise_prefix(settings.path_prefix_api)
        self.clock = Clock()
        self.org = Org(settings.users, settings.seed, oauth_clients=settings.oauth_clients)
        self.tokens = TokenStore(
            self.clock, settings.token_ttl, settings.token_rate_limit, settings.rate_window
        )
        self.limiter = FixedWindowLimiter(settings.rate_limit, settings.rate_window, self.clock)
        self.org_limiter = (
            FixedWindowLimiter(settings.org_rate_limit, settings.rate_window, self.clock)
            if settings.org_rate_limit
            else None
        )
        self.faults = Faults()
        self.stats = Stats()
        routing = Routing(self.org, settings.queues, settings.wrapup_codes)
        history = History(self.org, routing, settings.conversations_per_day)
        self.writes = Writes(self.clock, settings.propagation_delay_seconds)
        self.areas, self.router = build_areas(
            Context(settings, self.org, self.clock, routing, history, self.writes)
        )

    @property
    def analytics(self) -> AnalyticsApi:
        return cast(AnalyticsApi, self.areas[AnalyticsApi])

    def token_user(self) -> str | None:
        """The user behind user tokens: ``token_user``, else the first active user (``None`` in an empty org)."""
        if self.settings.token_user:
            return self.settings.token_user
        active = self.org.user_ids("active")
        return active[0] if active else None

    def rate_limit(self, token: str, headers: dict[str, str]) -> None:
        """Count one API request against its token's window and the organisation's; raise the 429 if refused.

        The ``inin-ratelimit-*`` headers always describe the token's window, so a 429 from the organisation's
        window shows a token with room. ``rate_limit_body`` ``limit`` also names the limit in the body.
        """
        named = self.settings.rate_limit_body == "limit"
        if self.org_limiter is not None:
            mine = self.limiter.peek(token)
            if mine.allowed:
                org = self.org_limiter.hit(ORG_LIMIT["key"])
                if not org.allowed:
                    headers.update(mine.headers())
                    self.stats.count_org_rate_limited()
                    raise rate_limited(org.reset, {**ORG_LIMIT, "value": org.limit} if named else None)
        decision = self.limiter.hit(token)
        headers.update(decision.headers())
        if not decision.allowed:
            raise rate_limited(decision.reset, {**TOKEN_LIMIT, "value": decision.limit} if named else None)

    def classify(self, raw_path: str) -> tuple[str | None, str]:
        """``("login"|"api"|None, path without gateway prefix)``."""
        if raw_path == self.prefix_login + TOKEN_PATH:
            return "login", TOKEN_PATH
        if raw_path.startswith(self.prefix_api + API_ROOT):
            return "api", raw_path[len(self.prefix_api) :]
        return None, raw_path


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threading server that remembers open connections so :meth:`close_connections` can end them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], backend: Backend) -> None:
        self.backend = backend
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class RequestHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive, every answer with a Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "GenesysCloudEmulator/1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the 40 ms delayed ACK
    server: EmulatorHTTPServer
    _trickle: dict[str, Any] | None = None  # options of a "trickle" fault on the current answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo do not want a line per request."""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _handle(self) -> None:
        backend = self.server.backend
        correlation_id = str(uuid.uuid4())
        split = urlsplit(self.path)
        body, too_large = self._read_body()
        if body is None:  # the client went away mid-body: a real front end never passes such a request on
            backend.stats.count_incomplete()
            self.close_connection = True
            return
        kind, path = backend.classify(split.path)
        fired = backend.faults.take(self.command, path)
        outcome = self._apply_faults(backend, fired)
        route, status, payload, headers = f"{self.command} {path}", None, None, {}
        if outcome != "drop":
            try:
                if outcome is not None:
                    raise outcome
                if too_large:  # refused at the edge: before authentication, not rate limited
                    raise ApiError(
                        413,
                        "request.entity.too.large",
                        f"The request body is larger than the limit of {MAX_BODY_BYTES:,} bytes.",
                    )
                if kind == "login":
                    route = f"{self.command} {TOKEN_PATH}"
                    status, payload = self._login(backend, body)
                elif kind == "api":
                    route, status, payload = self._api(backend, path, split.query, body, headers, fired)
                else:
                    raise ApiError(404, "not.found", f"No resource found at {split.path}.")
            except OAuthError as exc:
                status, payload = exc.status, exc.body()
            except ApiError as exc:
                route = getattr(exc, "route", route)
                headers.update(exc.headers)
                status = exc.status
                payload = error_body(exc.status, exc.code, exc.message, correlation_id, exc.limit)
            except Exception:
                sys.stderr.write(traceback.format_exc())
                status = 500
                payload = error_body(
                    500, "internal.server.error", "The emulator failed; see its stderr.", correlation_id
                )
        if status is not None and 200 <= status < 300:
            status, payload = self._after_write(fired, status, payload, correlation_id)
        # Counted before answering, so a client that got its answer sees up-to-date stats.
        backend.stats.record(
            route,
            status,
            api=kind == "api",
            login=kind == "login",
            issued=kind == "login" and status == 200,
            faulted=bool(fired),
        )
        if status is None:  # a "drop" fault: close without answering
            self.close_connection = True
            return
        truncate = next((f.options["mode"] for f in fired if f.kind == "truncate"), None)
        self._trickle = next((f.options for f in fired if f.kind == "trickle"), None)
        try:
            self._send(status, payload, headers, correlation_id, truncate)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    @staticmethod
    def _after_write(fired: list[Fault], status: int, payload: Any, correlation_id: str) -> tuple[int | None, Any]:
        """A handled request whose answer a ``write_applied_then_*`` fault replaces: the change stays."""
        for fault in fired:
            if fault.kind == "write_applied_then_cut":
                return None, None
            if fault.kind == "write_applied_then_5xx":
                code = int(fault.options["status"])
                message = f"Injected fault: HTTP {code} after the request was applied."
                return code, error_body(code, _STATUS_CODES.get(code, "error"), message, correlation_id)
        return status, payload

    def _read_body(self) -> tuple[bytes | None, bool]:
        """``(body, too_large)``; an oversized body is drained (or, when huge, the connection closed).

        ``body`` is None when fewer bytes than ``Content-Length`` arrived before the connection closed (a
        client killed between sending its headers and its body): the request is not handled, as no real
        server would act on half a request, so a test never counts a write Genesys could not have seen."""
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            length = 0
        if length <= MAX_BODY_BYTES:
            body = self.rfile.read(length)
            return (body if len(body) == length else None), False
        if length > _DRAIN_LIMIT:
            self.close_connection = True
            return b"", True
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)
        return b"", True

    def _apply_faults(self, backend: Backend, fired: list[Fault]) -> ApiError | str | None:
        """Run side effects and delays; return ``"drop"`` or an error to answer instead, if any."""
        delay_ms = backend.settings.latency_ms
        outcome: ApiError | str | None = None
        for fault in fired:
            if fault.kind == "revoke_tokens":
                backend.tokens.revoke_all()
            elif fault.kind == "org_change":
                backend.org.remove_users(int(fault.options["remove"]))
                backend.org.deactivate_users(int(fault.options["deactivate"]))
                backend.org.add_users(int(fault.options["add"]), backend.clock.now())
            elif fault.kind == "slow":
                delay_ms += int(fault.options["ms"])
            elif outcome is None and fault.kind == "drop":
                outcome = "drop"
            elif outcome is None and fault.kind == "status":
                code = int(fault.options["status"])
                outcome = ApiError(code, _STATUS_CODES.get(code, "error"), f"Injected fault: HTTP {code}.")
            elif outcome is None and fault.kind == "rate_limit":
                outcome = rate_limited(int(fault.options["retry_after"]))
            elif outcome is None and fault.kind == "redirect":
                code = int(fault.options["status"])
                location = str(fault.options["location"])
                outcome = ApiError(code, "redirect", f"Injected fault: moved to {location}.", {"Location": location})
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return outcome

    def _login(self, backend: Backend, body: bytes) -> tuple[int, Any]:
        if self.command != "POST":
            raise ApiError(
                405, "method.not.allowed", f"HTTP method {self.command} is not supported by {TOKEN_PATH}."
            )
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, secret = self._client_credentials(form)
        settings = backend.settings
        if client_id != settings.client_id:
            raise OAuthError("invalid_client", "client not found")
        if secret != settings.client_secret:
            raise OAuthError("invalid_client", "authentication failed")
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            return 200, backend.tokens.issue(grant)
        if grant == SAML2_BEARER:
            if not form.get("assertion") or not form.get("orgName"):
                raise OAuthError(
                    "invalid_request", "assertion and orgName are required for the SAML2 bearer grant"
                )
            return 200, backend.tokens.issue(grant, user_id=backend.token_user())
        if grant == "authorization_code":
            if not form.get("code"):
                raise OAuthError("invalid_request", "code is required for the authorization_code grant")
            return 200, backend.tokens.issue(grant, with_refresh=True, user_id=backend.token_user())
        if grant == "refresh_token":
            return 200, backend.tokens.refresh(form.get("refresh_token", ""))
        raise OAuthError("unsupported_grant_type", f"unsupported grant_type {grant!r}")

    def _client_credentials(self, form: dict[str, str]) -> tuple[str, str]:
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "malformed basic authorization header") from None
            return client_id, secret
        return form.get("client_id", ""), form.get("client_secret", "")

    def _api(
        self,
        backend: Backend,
        path: str,
        query: str,
        body: bytes,
        headers: dict[str, str],
        fired: list[Fault],
    ) -> tuple[str, int, Any]:
        route, handler, args = f"{self.command} {path}", None, ()
        try:
            route, handler, args = backend.router.resolve(self.command, path)
            route_error = None
        except ApiError as exc:
            route_error = exc
        try:
            token = backend.tokens.check(self.headers.get("Authorization"))
            backend.rate_limit(token.value, headers)
            backend.writes.settle()  # writes whose propagation delay has passed show from this request on
            if route_error is not None or handler is None:
                raise route_error or ApiError(404, "not.found", path)
            job_state = next((f.options["state"] for f in fired if f.kind == "job_state"), None)
            call = Call(
                self.command, path, Params(parse_qs(query, keep_blank_values=True)), body, args, token, job_state
            )
            status, payload = handler(call)
        except ApiError as exc:
            exc.route = route  # a refused request is counted under its route, as an answered one
            raise
        return route, status, payload

    def _send(
        self, status: int, payload: Any, headers: dict[str, str], correlation_id: str, truncate: str | None
    ) -> None:
        if status == 204:  # no content: no body and no Content-Length (RFC 9110)
            self.send_response(status)
            self.send_header("inin-correlation-id", correlation_id)
            self.send_header("Cache-Control", "no-cache, no-store, must-revalidate")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            return
        data = json.dumps(payload, separators=(",", ":")).encode()
        length = len(data)
        if truncate == "cut":
            data = data[: len(data) // 2]
            self.close_connection = True
        elif truncate == "invalid_json":
            data = data[: len(data) // 2]
            length = len(data)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        self.send_header("inin-correlation-id", correlation_id)
        self.send_header("Cache-Control", "no-cache, no-store, must-revalidate")
        for name, value in headers.items():
            self.send_header(name, value)
        if self._trickle is None:
            self.end_headers()
            self.wfile.write(data)
            return
        head = b""
        if self._trickle["part"] == "all":
            head = b"".join(self._headers_buffer) + b"\r\n"  # what end_headers() would send at once
            self._headers_buffer = []
        else:
            self.end_headers()
        delay = int(self._trickle["ms"]) / 1000
        for index in range(len(head + data)):
            self.wfile.write((head + data)[index : index + 1])
            time.sleep(delay)
