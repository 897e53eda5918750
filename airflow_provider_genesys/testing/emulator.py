"""``GenesysCloudEmulator`` (context manager) and the command
``python -m airflow_provider_genesys.testing.emulator --host 127.0.0.1 --port 0``."""

from __future__ import annotations

import argparse
import inspect
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

from airflow_provider_genesys.testing.areas.analytics import AnalyticsApi
from airflow_provider_genesys.testing.faults import Faults, parse_fault_spec
from airflow_provider_genesys.testing.options import (
    Settings,
    default_of,
    option_fields,
    plain_help,
    shown_default,
    value_type,
)
from airflow_provider_genesys.testing.org.directory import Org
from airflow_provider_genesys.testing.server import Backend, EmulatorHTTPServer
from airflow_provider_genesys.testing.stats import Stats
from airflow_provider_genesys.testing.writes import Writes

CONN_TYPE = "genesys_cloud"


class GenesysCloudEmulator:
    """A Genesys Cloud org on loopback, served from a background thread while the ``with`` block runs.

    Every keyword argument is an option of ``testing/options.py`` (``Settings``: the same names as the
    command's flags, with the same defaults and checks; docs/emulator.md lists them). A value the option
    does not accept raises ``ValueError`` naming it; an unknown name raises ``TypeError``.
    """

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - {spec.name for spec in option_fields()})
        if unknown:
            raise TypeError(f"GenesysCloudEmulator got unknown options {', '.join(unknown)} (see docs/emulator.md)")
        settings = Settings(**options)
        self._backend = Backend(settings)
        self.settings = settings
        self.host = settings.host
        self.port = settings.port
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
    def writes(self) -> Writes:
        """Accepted writes not yet visible (``propagation_delay_seconds``): ``.pending``, ``.flush()``."""
        return self._backend.writes

    @property
    def analytics(self) -> AnalyticsApi:
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
    def issue_token(self, grant_type: str = "client_credentials", *, user_id: str | None = None) -> str:
        """A valid access token without an HTTP round trip (not counted by the token rate limit).

        Any other ``grant_type`` than ``client_credentials`` gives a user token: ``user_id``'s, by default the
        ``token_user`` option's (``GET /api/v2/users/me`` answers that user).
        """
        if grant_type != "client_credentials":
            user_id = user_id or self._backend.token_user()
        elif user_id is not None:
            raise ValueError("a client_credentials token has no user: give another grant_type with user_id")
        return str(self._backend.tokens.issue(grant_type, throttle=False, user_id=user_id)["access_token"])

    def revoke_tokens(self) -> int:
        """Invalidate every access and refresh token; returns how many access tokens there were."""
        return self._backend.tokens.revoke_all()

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock: tokens expire, rate windows reset, audit jobs progress and writes
        whose propagation delay has passed land in the org."""
        self._backend.clock.advance(seconds)
        self._backend.writes.settle()

    def add_users(self, count: int = 1) -> list[str]:
        """Create ``count`` active users now (on the emulator clock): with ``new_subject_404_seconds`` they
        answer 404 for that long. Returns their ids."""
        return self._backend.org.add_users(count, self._backend.clock.now())


# ---- command line ---------------------------------------------------------------------------------
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

    for spec in option_fields():
        add(f"--{spec.name.replace('_', '-')}", default_of(spec), plain_help(spec), type=value_type(spec))
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
        options = {spec.name: getattr(args, spec.name) for spec in option_fields()}
        emulator = GenesysCloudEmulator(**options)
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


# help(GenesysCloudEmulator) and inspect show every option with its default, as if written out.
GenesysCloudEmulator.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [
        inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=default_of(spec))
        for spec in option_fields()
    ]
)


if __name__ == "__main__":
    sys.exit(main())
