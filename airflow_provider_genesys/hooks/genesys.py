"""GenesysCloudHook: an Airflow connection turned into a Genesys Cloud API client.

All HTTP, auth, retry, pacing and paging behaviour lives in the Airflow-free core (``client.py``); this
module only reads the connection, registers secrets with Airflow's masker, turns configuration and
credential errors into ``AirflowFailException`` (retrying cannot fix them) and offers the connection form
and a few typed one-liners for the users-and-permissions surface. ``api_errors_as_failures`` is the one
error policy the operators share (and DAG authors may use): non-retryable API errors fail the task too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from typing import Any

from airflow_provider_genesys._compat import (
    AirflowFailException,
    AirflowNotFoundException,
    BaseHook,
    mask_secret_quietly,
)
from airflow_provider_genesys._provider_info import CONN_FIELDS, DEFAULT_CONN_ID, UI_FIELD_BEHAVIOUR, ConnField
from airflow_provider_genesys.client import ClientStats, GenesysCloudClient, api_path
from airflow_provider_genesys.exceptions import (
    GenesysCloudApiError,
    GenesysCloudAuthError,
    GenesysCloudConfigError,
)
from airflow_provider_genesys.paging import Page
from airflow_provider_genesys.settings import LEGACY_PREFIX, SECRET_EXTRAS, GenesysSettings

# Seconds a connection test may wait at most per request, retries included (UI requests time out).
TEST_CONNECTION_BUDGET = 10.0


@contextmanager
def _fail_fast() -> Iterator[None]:
    """Turn errors a task retry cannot fix into ``AirflowFailException`` with the same clear message."""
    try:
        yield
    except (GenesysCloudConfigError, GenesysCloudAuthError) as err:
        raise AirflowFailException(str(err)) from err


@contextmanager
def api_errors_as_failures() -> Iterator[None]:
    """For operators and sensors: also fail the task at once on API answers a retry cannot fix.

    Configuration and credential errors, and API errors the retry table (``retrypolicy.py``) says fail now
    (most 4xx; a write whose outcome is unknown), become ``AirflowFailException`` with the same message
    (status, code, message, correlation id). Retryable ones (after the client's own retries) propagate
    unchanged, so Airflow's task retries can try again later. The hook's own methods convert only configuration and
    credential errors, so DAG code can still catch ``GenesysCloudApiError`` (e.g. a 404) itself.
    """
    with _fail_fast():
        try:
            yield
        except GenesysCloudApiError as err:
            if err.retryable:
                raise
            raise AirflowFailException(str(err)) from err


def _connection_secrets(password: str | None, extra: Any) -> list[str]:
    """The client secret and every secret extra (plain or legacy form-field key) of a connection."""
    values = [password]
    if isinstance(extra, Mapping):
        values += [
            value for key, value in extra.items() if str(key).removeprefix(LEGACY_PREFIX) in SECRET_EXTRAS
        ]
    return [value for value in values if isinstance(value, str) and value]


def _missing_connection_message(conn_id: str) -> str:
    """Say how to define the connection, in the UI or as an environment variable (the JSON form)."""
    example = json.dumps({
        "conn_type": "genesys_cloud", "login": "<client id>", "password": "<client secret>",
        "extra": {"region": "us_east_1"},
    })
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    if os.environ.get(variable):  # Airflow drops an unreadable one (before 3.2 also one with malformed extra JSON)
        return (
            f"Connection {conn_id!r}: {variable} is set but Airflow could not read it. Make it valid JSON, with "
            f"extra a JSON object, e.g. {variable}='{example}'; see docs/connection.md."
        )
    return (
        f"Connection {conn_id!r} is not defined: create a Genesys Cloud connection with that id "
        f"(Admin > Connections) or set {variable}='{example}'; see docs/connection.md."
    )


class GenesysCloudHook(BaseHook):
    """
    Talk to the Genesys Cloud Platform API v2 through an Airflow ``genesys_cloud`` connection.

    ``login`` is the OAuth client id, ``password`` the client secret, ``extra`` the region, gateway,
    grant and retry settings (see ``docs/connection.md``). Nothing touches the network until the first
    request; the client (one pooled session, one token cache) is built once per hook.

    :param genesys_conn_id: the Airflow connection id, ``genesys_cloud_default`` unless told otherwise.
    """

    conn_name_attr = "genesys_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "genesys_cloud"
    hook_name = "Genesys Cloud"

    def __init__(self, genesys_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.genesys_conn_id = genesys_conn_id
        self._secrets: set[str] = set()

    def _register_secret(self, secret: str) -> None:
        """Mask a secret in Airflow's logs and remember it to scrub messages we build ourselves."""
        mask_secret_quietly(secret)
        self._secrets.add(secret)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- connection -> settings -> client ------------------------------------------------------------

    @cached_property
    def settings(self) -> GenesysSettings:
        """The connection parsed and validated; a wrong field fails the task with a message naming it."""
        try:
            conn = self.get_connection(self.genesys_conn_id)
        except AirflowNotFoundException:
            raise AirflowFailException(_missing_connection_message(self.genesys_conn_id)) from None
        extra = self._parse_extra(conn.extra)
        for secret in _connection_secrets(conn.password, extra):
            self._register_secret(secret)
        with _fail_fast():
            return GenesysSettings.from_connection(
                login=conn.login, password=conn.password, host=conn.host or None, extra=extra
            )

    def _parse_extra(self, raw: str | None) -> Any:
        """Read ``extra`` strictly: Airflow would silently drop malformed JSON and with it the region."""
        if not raw or not raw.strip():
            return {}
        try:
            extra = json.loads(raw)
        except json.JSONDecodeError as err:
            # err.msg/pos only: the document itself may hold a secret.
            raise AirflowFailException(
                f"Connection {self.genesys_conn_id!r}: extra is not valid JSON ({err.msg} at character "
                f'{err.pos}). Fix the Extra field, e.g. {{"region": "eu_west_1"}}.'
            ) from None
        return extra  # its shape and keys are checked by GenesysSettings

    @cached_property
    def client(self) -> GenesysCloudClient:
        """The API client; every token it obtains is registered with Airflow's secrets masker."""
        return GenesysCloudClient(self.settings, on_secret=self._register_secret)

    def get_conn(self) -> GenesysCloudClient:
        """Airflow's conventional accessor for the underlying client."""
        return self.client

    def close(self) -> None:
        """Release pooled HTTP connections; a later call builds a fresh client."""
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()

    def __enter__(self) -> GenesysCloudHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- generic API access -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_non_idempotent: bool | None = None,
    ) -> Any:
        """
        Send one request and return the parsed JSON body (``None`` when empty).

        :param method: HTTP method, e.g. ``GET``.
        :param endpoint: a path such as ``/api/v2/users/me`` (build ids in with :func:`api_path`).
        :param params: query parameters; lists are sent comma-joined, ``None`` values left out.
        :param json: request body.
        :param retry_non_idempotent: treat a POST/PATCH as safe to send twice (a query that only reads):
            retried like a GET (docs/connection.md, the retry table); ``None`` takes the connection's
            ``retry_non_idempotent``. A 429 is always retried (it was not processed).
        :raises GenesysCloudApiError: the API answered with an error (after retries where they help).
        :raises AirflowFailException: the connection or credentials are wrong.
        """
        with _fail_fast():
            return self.client.request(
                method, endpoint, params=params, json=json, retry_non_idempotent=retry_non_idempotent
            )

    def paginate(self, endpoint: str, *, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every entity of every page of a listing, fetched lazily page by page."""
        with _fail_fast():
            yield from self.client.paginate(endpoint, params=params)

    def iter_pages(self, endpoint: str, *, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """The pages of a listing (``Page.entities``/``.number``/``.count``/``.total``), lazily."""
        with _fail_fast():
            yield from self.client.iter_pages(endpoint, params=params)

    @property
    def stats(self) -> ClientStats:
        """Request, retry, rate-limit and pacing counters of this hook's client."""
        return self.client.stats

    def test_connection(self) -> tuple[bool, str]:
        """Check credentials and reachability with two cheap reads; never puts a secret in the message."""
        try:
            # A short retry budget of its own: a wrong host must answer the UI's Test button in seconds,
            # not after the connection's full retry budget (minutes) when the UI request has long timed out.
            quick = replace(
                self.settings,
                max_attempts=min(self.settings.max_attempts, 2),
                max_retry_time=min(self.settings.max_retry_time, TEST_CONNECTION_BUDGET),
                max_retry_wait=min(self.settings.max_retry_wait, TEST_CONNECTION_BUDGET),
                connect_timeout=min(self.settings.connect_timeout, TEST_CONNECTION_BUDGET),
                read_timeout=min(self.settings.read_timeout, TEST_CONNECTION_BUDGET),
            )
            with GenesysCloudClient(quick, on_secret=self._register_secret) as client:
                org = client.request("GET", "/api/v2/organizations/me") or {}
                token = client.request("GET", "/api/v2/tokens/me") or {}
        except Exception as err:  # the UI shows the message; any failure is a failed test
            # Our errors never hold secrets; a third-party one (e.g. a header error) might: scrub anyway.
            return False, self._scrub(f"Genesys Cloud connection failed: {err}")
        oauth_client = (token.get("OAuthClient") or {}).get("name")
        via = f" as OAuth client {oauth_client!r}" if oauth_client else ""
        return True, (
            f"Connected to Genesys Cloud organisation {org.get('name', '?')!r} (id {org.get('id', '?')}) "
            f"at {self.settings.api_base_url}{via}."
        )

    # -- users and permissions (thin, typed one-liners; the client drops None and comma-joins lists) --

    def get_users(
        self, *, expand: str | Sequence[str] | None = None, state: str | None = None
    ) -> Iterator[dict]:
        """Users, via ``GET /api/v2/users`` (``state``: active (default), inactive, deleted, any)."""
        return self.paginate("/api/v2/users", params={"expand": expand, "state": state})

    def get_user(self, user_id: str, *, expand: str | Sequence[str] | None = None) -> dict:
        """One user, via ``GET /api/v2/users/{userId}``."""
        return self.request("GET", api_path("/api/v2/users/{}", user_id), params={"expand": expand})

    def get_user_roles(self, user_id: str) -> dict:
        """A user's roles and permissions, via ``GET /api/v2/users/{subjectId}/roles``."""
        return self.request("GET", api_path("/api/v2/users/{}/roles", user_id))

    def get_roles(self) -> Iterator[dict]:
        """Roles, via ``GET /api/v2/authorization/roles`` (``userCount=false``: the count is slow)."""
        return self.paginate("/api/v2/authorization/roles", params={"userCount": False})

    def get_role(self, role_id: str) -> dict:
        """One role, via ``GET /api/v2/authorization/roles/{roleId}``."""
        return self.request("GET", api_path("/api/v2/authorization/roles/{}", role_id))

    def get_role_users(self, role_id: str) -> Iterator[dict]:
        """Members of a role, via ``GET /api/v2/authorization/roles/{roleId}/users``."""
        return self.paginate(api_path("/api/v2/authorization/roles/{}/users", role_id))

    def get_permissions(self) -> Iterator[dict]:
        """The permission catalogue, via ``GET /api/v2/authorization/permissions``."""
        return self.paginate("/api/v2/authorization/permissions")

    def get_divisions(self) -> Iterator[dict]:
        """Divisions, via ``GET /api/v2/authorization/divisions``."""
        return self.paginate("/api/v2/authorization/divisions")

    def get_division_grants(self, division_id: str) -> Iterator[dict]:
        """Grants in a division, via ``GET /api/v2/authorization/divisions/{divisionId}/grants``."""
        return self.paginate(api_path("/api/v2/authorization/divisions/{}/grants", division_id))

    def get_subject_grants(self, subject_id: str) -> dict:
        """A user's or group's grants, via ``GET /api/v2/authorization/subjects/{subjectId}``."""
        return self.request("GET", api_path("/api/v2/authorization/subjects/{}", subject_id))

    def get_organization(self) -> dict:
        """The organisation, via ``GET /api/v2/organizations/me``."""
        return self.request("GET", "/api/v2/organizations/me")

    def get_token_info(self) -> dict:
        """The current token's organisation and OAuth client, via ``GET /api/v2/tokens/me``."""
        return self.request("GET", "/api/v2/tokens/me")

    # -- connection form (Airflow < 3.2 reads these; 3.2+ reads the same table from provider info) ----

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form as wtforms fields; ``{}`` when the UI libs are absent."""
        try:
            from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import BooleanField, IntegerField, PasswordField, StringField
        except ImportError:
            return {}

        def widget(field: ConnField) -> Any:
            common = {"description": field.help_text, "default": field.form_default}
            label = lazy_gettext(field.label)
            if field.kind == "password":
                return PasswordField(label, widget=BS3PasswordFieldWidget(), **common)
            if field.kind == "boolean":
                return BooleanField(label, **common)
            if field.kind == "integer":
                return IntegerField(label, widget=BS3TextFieldWidget(), **common)
            # Airflow accepts only these four classes: numbers and choices are typed in as text.
            return StringField(label, widget=BS3TextFieldWidget(), **common)

        return {field.key: widget(field) for field in CONN_FIELDS}

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and pre-filled standard fields (same data as the provider info)."""
        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }
