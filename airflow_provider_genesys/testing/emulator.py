"""``GenesysCloudEmulator`` (context manager) and the command
``python -m airflow_provider_genesys.testing.emulator --host 127.0.0.1 --port 0``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import fields
from types import TracebackType
from typing import Any
from urllib.parse import quote

from airflow_provider_genesys.testing.analytics import AnalyticsArea
from airflow_provider_genesys.testing.faults import Faults, parse_fault_spec
from airflow_provider_genesys.testing.org import Org
from airflow_provider_genesys.testing.server import Backend, EmulatorHTTPServer, Settings
from airflow_provider_genesys.testing.stats import Stats

CONN_TYPE = "genesys_cloud"


class GenesysCloudEmulator:
    """A Genesys Cloud org on loopback, served from a background thread while the ``with`` block runs.

    :param users: number of generated users (active ~85%, inactive ~10%, deleted ~5%).
    :param seed: makes the org deterministic; the same seed gives the same ids and names.
    :param token_ttl: access-token lifetime in seconds (``expires_in``).
    :param rate_limit: API requests allowed per token per ``rate_window`` seconds.
    :param latency_ms: delay added to every answer.
    :param token_rate_limit: token creations allowed per ``rate_window`` (``None``: unlimited).
    :param job_seconds: time an audit query takes from Queued to Succeeded (``0``: at once).
    :param job_polls: instead of time, the number of status reads an audit query answers Queued/Running
        before its final state: deterministic tests of deferral and polling (``None``: use ``job_seconds``).
    :param org_rate_limit: API requests allowed per ``rate_window`` across every token (``None``: no
        organisation-wide window); then 429 while the token's own headers still show room.
    :param rate_limit_body: ``plain`` (Genesys' normalised 429 body) or ``limit`` (it also names the limit
        that refused the request in ``limit: {namespace, key, value}``, a field of Genesys' ErrorBody).
    :param conversations_per_day: conversations in each UTC day of the generated history (issue 10).
    :param queues: routing queues (members are drawn from the active users).
    :param wrapup_codes: wrap-up codes.
    :param analytics_page_size: default and largest ``pageSize`` of analytics job results.
    :param analytics_max_jobs: unfinished analytics jobs allowed at once; one more gets 429 (``None``: no limit).
    :param data_lag_seconds: ``dataAvailabilityDate`` trails the clock by this much (see ``analytics``).
    :param in_progress_minutes: a conversations job whose interval ended less than this many minutes before
        the clock returns the conversations not ended at the clock in progress (no ``conversationEnd``,
        partial segments); ``0``: every conversation is complete.
    :param path_prefix_login: gateway path in front of ``/oauth/token``.
    :param path_prefix_api: gateway path in front of ``/api/v2``.
    :param wildcard_grants: what ``GET /api/v2/authorization/divisions/*/grants`` answers: ``grants``,
        ``empty`` (200 without entities), ``400`` or ``404`` (Genesys publishes nothing about it).
    :param users_cap: the 10,000-result cap of ``GET /api/v2/users`` applies to ``inactive`` only or to
        ``all`` states.
    :param users_query: ``GET /api/v2/users/query`` is ``allowed`` or ``forbidden`` (403).
    :param expand: ``expand`` values are ``honoured`` or ``dropped`` (Genesys: best effort).
    """

    def __init__(
        self,
        users: int = 200,
        seed: int = 1,
        client_id: str = "emulator-client",
        client_secret: str = "emulator-secret",
        token_ttl: int = 86400,
        rate_limit: int = 300,
        rate_window: float = 60.0,
        latency_ms: int = 0,
        token_rate_limit: int | None = None,
        job_seconds: float = 2.0,
        path_prefix_login: str = "",
        path_prefix_api: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        job_polls: int | None = None,
        wildcard_grants: str = "grants",
        users_cap: str = "all",
        users_query: str = "allowed",
        expand: str = "honoured",
        org_rate_limit: int | None = None,
        rate_limit_body: str = "plain",
        conversations_per_day: int = 200,
        queues: int = 10,
        wrapup_codes: int = 20,
        analytics_page_size: int = 1000,
        analytics_max_jobs: int | None = 10,
        data_lag_seconds: float = 0.0,
        in_progress_minutes: float = 0.0,
    ) -> None:
        settings = Settings(
            users,
            seed,
            client_id,
            client_secret,
            token_ttl,
            rate_limit,
            float(rate_window),
            latency_ms,
            token_rate_limit,
            float(job_seconds),
            path_prefix_login,
            path_prefix_api,
            job_polls,
            wildcard_grants,
            users_cap,
            users_query,
            expand,
            org_rate_limit=org_rate_limit,
            rate_limit_body=rate_limit_body,
            conversations_per_day=conversations_per_day,
            queues=queues,
            wrapup_codes=wrapup_codes,
            analytics_page_size=analytics_page_size,
            analytics_max_jobs=analytics_max_jobs,
            data_lag_seconds=float(data_lag_seconds),
            in_progress_minutes=float(in_progress_minutes),
        )
        self._backend = Backend(settings)
        self.settings = settings
        self.host = host
        self.port = port
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> GenesysCloudEmulator:
        """Bind (``port=0``: a free port), then serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._server = EmulatorHTTPServer((self.host, self.port), self._backend)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="genesys-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close open keep-alive connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> GenesysCloudEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- what tests read ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def login_url(self) -> str:
        """Where tokens are created (``base_url`` + login prefix + ``/oauth/token``)."""
        return f"{self.base_url}{self._backend.prefix_login}/oauth/token"

    @property
    def api_url(self) -> str:
        """Base of API paths: ``api_url + "/api/v2/users"``."""
        return f"{self.base_url}{self._backend.prefix_api}"

    @property
    def client_id(self) -> str:
        return self.settings.client_id

    @property
    def client_secret(self) -> str:
        return self.settings.client_secret

    @property
    def org(self) -> Org:
        return self._backend.org

    @property
    def stats(self) -> Stats:
        return self._backend.stats

    @property
    def faults(self) -> Faults:
        return self._backend.faults

    @property
    def analytics(self) -> AnalyticsArea:
        """Conversation history (ground truth), routing, analytics jobs: ``analytics.jobs.script("FAILED")``,
        ``analytics.jobs.set_availability("2024-05-02T00:00:00Z")``."""
        return self._backend.analytics

    def connection_dict(self, **extra: Any) -> dict[str, Any]:
        """The JSON form of an Airflow connection here, for ``AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT``."""
        gateway: dict[str, Any] = {
            "gateway_host": self.host,
            "gateway_protocol": "http",
            "gateway_port": self.port,
        }
        if self._backend.prefix_login:
            gateway["gateway_path_params_login"] = self._backend.prefix_login
        if self._backend.prefix_api:
            gateway["gateway_path_params_api"] = self._backend.prefix_api
        return {
            "conn_type": CONN_TYPE,
            "login": self.client_id,
            "password": self.client_secret,
            "extra": {**gateway, **extra},
        }

    def connection_json(self, **extra: Any) -> str:
        return json.dumps(self.connection_dict(**extra))

    def connection_uri(self, **extra: Any) -> str:
        """The URI form (``genesys-cloud://id:secret@?__extra__=...``), for tools that want one."""
        conn = self.connection_dict(**extra)
        login, password = quote(conn["login"], safe=""), quote(conn["password"], safe="")
        extra_json = quote(json.dumps(conn["extra"]), safe="")
        return f"{CONN_TYPE.replace('_', '-')}://{login}:{password}@?__extra__={extra_json}"

    # ---- test controls -----------------------------------------------------------------------------
    def issue_token(self) -> str:
        """A valid access token without an HTTP round trip (not counted by the token rate limit)."""
        return str(self._backend.tokens.issue("client_credentials", throttle=False)["access_token"])

    def revoke_tokens(self) -> int:
        """Invalidate every access and refresh token; returns how many access tokens there were."""
        return self._backend.tokens.revoke_all()

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock: tokens expire, rate windows reset and audit jobs progress."""
        self._backend.clock.advance(seconds)


# ---- command line ---------------------------------------------------------------------------------
# Settings field -> (type, help); flags are the field names with dashes, defaults come from Settings.
_OPTIONS: dict[str, tuple[Any, str]] = {
    "users": (int, "generated users (~85% active, ~10% inactive, ~5% deleted)"),
    "seed": (int, "org seed: the same seed gives the same ids, names and grants"),
    "client_id": (str, "the one OAuth client id accepted"),
    "client_secret": (str, "its secret (a fixed test value; pass your own if you like)"),
    "token_ttl": (int, "access-token lifetime in seconds (expires_in); then 401 credentials.expired"),
    "rate_limit": (int, "API requests allowed per token per window; then 429 with Retry-After"),
    "rate_window": (float, "rate-limit window in seconds (also for --token-rate-limit)"),
    "latency_ms": (int, "delay added to every answer, in milliseconds"),
    "token_rate_limit": (int, "token creations allowed per window; then 400 invalid_request"),
    "job_seconds": (float, "time an audit query takes Queued -> Running -> Succeeded (0: done when polled)"),
    "path_prefix_login": (str, "gateway path before /oauth/token, e.g. /login"),
    "path_prefix_api": (str, "gateway path before /api/v2, e.g. /gw"),
    "job_polls": (int, "instead of --job-seconds: status reads an audit query answers Queued/Running before it ends"),
    "wildcard_grants": (str, "GET /authorization/divisions/*/grants answers: grants, empty, 400 or 404"),
    "users_cap": (str, "the 10,000-result cap of GET /api/v2/users applies to: inactive or all"),
    "users_query": (str, "GET /api/v2/users/query is: allowed or forbidden (403)"),
    "expand": (str, "expand values are: honoured or dropped"),
    "org_rate_limit": (int, "API requests allowed per window across every token of the org; then 429"),
    "rate_limit_body": (str, "429 body: plain (Genesys' normalised body) or limit (also names the limit)"),
    "conversations_per_day": (int, "conversations in each UTC day of the generated analytics history"),
    "queues": (int, "routing queues; their members are drawn from the active users"),
    "wrapup_codes": (int, "routing wrap-up codes"),
    "analytics_page_size": (int, "default and largest pageSize of analytics job results"),
    "analytics_max_jobs": (int, "unfinished analytics jobs allowed at once; one more gets 429 with Retry-After"),
    "data_lag_seconds": (float, "dataAvailabilityDate trails the clock by this many seconds"),
    "in_progress_minutes": (float, "conversations jobs of an interval that ended less than this many minutes "
                            "before the clock return conversations not ended yet in progress (0: never)"),
}


def shown_default(value: Any) -> str:
    """A default as ``--help`` and docs/emulator.md show it (``None`` is off, ``""`` none, ``60.0`` 60)."""
    if value is None:
        return "off"
    if value in ("", []):
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_genesys.testing.emulator",
        description="Serve an emulated Genesys Cloud org (users, groups, OAuth clients, roles, divisions, grants) "
        "over HTTP. Prints 'listening on http://HOST:PORT' once it accepts connections; stops on SIGTERM/SIGINT.",
    )

    def add(flag: str, default: Any, text: str, **kwargs: Any) -> None:
        # argparse %-formats help strings: escape the text, not the default we append
        text = f"{text.replace('%', '%%')} (default: {shown_default(default)})"
        p.add_argument(flag, default=default, help=text, **kwargs)

    add("--host", "127.0.0.1", "address to bind")
    add("--port", 0, "port to bind; 0 picks a free one", type=int)
    for field in fields(Settings):
        kind, text = _OPTIONS[field.name]
        add(f"--{field.name.replace('_', '-')}", field.default, text, type=kind)
    add(
        "--fault",
        [],
        "schedule a fault (repeatable), e.g. status:status=503,count=3 or rate_limit:retry_after=2,count=always",
        action="append",
        metavar="KIND[:key=value,...]",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        faults = [parse_fault_spec(spec) for spec in args.fault]
        options = {field.name: getattr(args, field.name) for field in fields(Settings)}
        emulator = GenesysCloudEmulator(host=args.host, port=args.port, **options)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for kind, fault_options in faults:
        emulator.faults.add(kind, **fault_options)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with emulator:
        print(f"listening on {emulator.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
