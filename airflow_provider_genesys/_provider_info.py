"""Provider metadata and the ``genesys_cloud`` connection form, declared once.

Airflow 3.2+ builds the connection form from ``conn-fields``/``ui-field-behaviour`` here without importing
the hook; older 3.x UIs call the hook's widget methods, which are built from the same ``CONN_FIELDS`` table
so the two forms cannot drift. This module must stay import-light (no Airflow, no HTTP libraries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_genesys import __version__
from airflow_provider_genesys.regions import REGION_LABELS, REGIONS
from airflow_provider_genesys.settings import GRANT_TYPES

INTEGRATION = "Genesys Cloud"
# The connection id every hook, operator, sensor and trigger uses unless told otherwise (defined here only:
# this module is light enough for the triggerer to import).
DEFAULT_CONN_ID = "genesys_cloud_default"

# Airflow's default sensitive names (``DEFAULT_SENSITIVE_FIELDS`` of its secrets masker, 3.2-3.3; 3.1's is a subset):
# any extra key that contains one of them, after ``\W+`` -> ``_``, is shown as ``***``. That includes the
# schema default the form pre-fills, so a non-secret field named like that must declare no default, or a
# new connection is saved with ``"***"`` as its value. tests/unit/test_provider_info.py keeps this list a
# superset of the installed Airflow's.
AIRFLOW_SENSITIVE_NAMES = frozenset({
    "access_key", "access_token", "api_key", "apikey", "auth_header", "authorization", "bearer",
    "connection_string", "dsn", "passphrase", "passwd", "password", "private_key", "proxy",
    "proxy_password", "proxies", "secret", "service_account", "service_key", "token", "keyfile_dict",
    "webhook_url",
})


def masked_by_airflow(key: str) -> bool:
    """Whether Airflow's UI and API show this extra key's value as ``***`` (its default sensitive names)."""
    normalized = re.sub(r"\W+", "_", key.strip().lower())
    return any(name in normalized for name in AIRFLOW_SENSITIVE_NAMES)


# JSON Schema types of the form field kinds; "password" is a masked string.
_SCHEMA_TYPES = {
    "string": "string",
    "password": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


@dataclass(frozen=True)
class ConnField:
    """One extra key of the connection as a form field; ``default`` must equal the core's default.

    ``choice_labels`` are what a picker shows for each choice (the choice itself is stored). ``example`` is a
    typical value: Airflow 3's form ignores ``placeholders`` for extra fields, but offers a string field's
    schema ``examples`` as suggestions while typing; older forms show it as the placeholder.
    """

    key: str
    label: str
    description: str
    kind: str = "string"
    choices: tuple[str, ...] = ()
    default: Any = None
    choice_labels: tuple[tuple[str, str], ...] = ()
    example: str | None = None

    @property
    def form_default(self) -> Any:
        """The value the form pre-fills: none for a key Airflow masks, whose default it would save as ``***``."""
        return None if masked_by_airflow(self.key) else self.default

    @property
    def help_text(self) -> str:
        """The description for forms without a picker (Airflow < 3.2), listing the values of a fixed set."""
        if not self.choices:
            return self.description
        return f"{self.description} One of: {', '.join(self.choices)}."

    def conn_field(self) -> dict[str, Any]:
        """This field in the ``conn-fields`` shape Airflow 3.2+ renders.

        A fixed set becomes a picker (``enum``, whose labels come from ``values_display``: the form's own
        extension, as for DAG params), so the help text need not list the values.
        """
        schema: dict[str, Any] = {"type": [_SCHEMA_TYPES[self.kind], "null"]}
        if self.kind == "password":
            schema["format"] = "password"
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.choice_labels:
            schema["values_display"] = dict(self.choice_labels)
        if self.example is not None and self.kind == "string":
            schema["examples"] = [self.example]
        if self.form_default is not None:
            schema["default"] = self.form_default
        return {"label": self.label, "description": self.description, "schema": schema}


def _region_choice_label(name: str) -> str:
    """What the region picker shows: Genesys' name and the domain users see in their browser's address bar."""
    return f"{REGION_LABELS[name]} · {REGIONS[name].domain}"


CONN_FIELDS: tuple[ConnField, ...] = (
    ConnField(
        "region",
        "Region",
        "Genesys Cloud region of the organisation (ignored when a gateway host is set).",
        choices=tuple(REGIONS),
        default="us_east_1",
        choice_labels=tuple((name, _region_choice_label(name)) for name in REGIONS),
    ),
    ConnField(
        "gateway_host",
        "Gateway host",
        "Send all requests through this host (API gateway, proxy, or the bundled emulator) instead of "
        "the region's hosts.",
        example="gateway.example.com",
    ),
    ConnField("gateway_protocol", "Gateway protocol", "http or https; https when empty.", example="https"),
    ConnField("gateway_port", "Gateway port", "Port of the gateway host; none when empty.", "integer"),
    ConnField(
        "gateway_path_params_login",
        "Gateway login path",
        "Path prefix for login (token) requests on the gateway.",
        example="/login",
    ),
    ConnField(
        "gateway_path_params_api",
        "Gateway API path",
        "Path prefix for API requests on the gateway.",
        example="/api",
    ),
    ConnField(
        "grant_type",
        "OAuth grant",
        "How tokens are obtained. client_credentials uses only Client ID and Client Secret.",
        choices=GRANT_TYPES,
        default="client_credentials",
        choice_labels=(
            ("client_credentials", "Client credentials (Client ID and Secret)"),
            ("saml2_bearer", "SAML2 bearer (assertion and organisation)"),
            ("refresh_token", "Refresh token (authorization-code client)"),
            ("access_token", "Pre-issued access token"),
        ),
    ),
    ConnField(
        "saml_assertion",
        "SAML assertion",
        "Base64 SAML2 assertion (grant saml2_bearer).",
        "password",
    ),
    ConnField(
        "org_name", "Organisation name", "Organisation short name (grant saml2_bearer).", "string", example="myorg"
    ),
    ConnField(
        "refresh_token",
        "Refresh token",
        "Refresh token of an authorization-code client (grant refresh_token).",
        "password",
    ),
    ConnField(
        "access_token",
        "Access token",
        "Pre-issued access token, used as is and never refreshed (grant access_token).",
        "password",
    ),
    ConnField(
        "max_attempts", "Max attempts", "Attempts per request, first one included.", "integer", default=10
    ),
    ConnField(
        "max_retry_time",
        "Max retry time (s)",
        "Give up retrying a request after this many seconds in total.",
        "number",
        default=600,
    ),
    ConnField(
        "max_retry_wait",
        "Max single wait (s)",
        "Longest single wait; a 429 asking for more (a quota, not a burst) fails instead.",
        "number",
        default=180,
    ),
    ConnField(
        "backoff_base",
        "Back-off base (s)",
        "First wait of the exponential back-off (with jitter) after 408/502/503/504 and connection errors.",
        "number",
        default=1.0,
    ),
    ConnField(
        "retry_non_idempotent",
        "Retry POST/PATCH (queries)",
        "POST/PATCH are queries, safe to send twice: retry them like a GET. Off, one that may have been "
        "processed fails.",
        "boolean",
        default=False,
    ),
    ConnField("connect_timeout", "Connect timeout (s)", "TCP/TLS connect timeout.", "number", default=10),
    ConnField("read_timeout", "Read timeout (s)", "Longest wait for response data.", "number", default=60),
    ConnField(
        "verify_ssl",
        "Verify TLS",
        "Verify server certificates (turn off only for tests).",
        "boolean",
        default=True,
    ),
    ConnField(
        "ca_bundle",
        "CA bundle",
        "Path to a PEM file of trusted CAs (corporate proxy, gateway).",
        example="/etc/ssl/certs/corporate-ca.pem",
    ),
    ConnField(
        "client_cert",
        "Client certificate",
        "Path to a PEM client certificate for mutual TLS.",
        example="/etc/genesys/client.pem",
    ),
    ConnField(
        "client_key",
        "Client key",
        "Path to the PEM key of the client certificate (if separate).",
        example="/etc/genesys/client.key",
    ),
    ConnField(
        "pacing",
        "Pace requests",
        "Slow down when inin-ratelimit-* headers show the window nearly spent, instead of hitting 429.",
        "boolean",
        default=True,
    ),
    ConnField("pool_size", "Connection pool size", "HTTP connections kept per host.", "integer", default=16),
    ConnField(
        "token_refresh_margin",
        "Token refresh margin (s)",
        "Refresh the access token this many seconds before it expires (300 when empty).",
        "number",
        default=300,
    ),
    ConnField(
        "token_pool_size",
        "Token pool size",
        "Tokens used in turn, each with its own rate limit (1 when empty; client_credentials only).",
        "integer",
        default=1,
    ),
    ConnField(
        "org_rate_limit_per_minute",
        "Organisation requests per minute",
        "Cap on this task's requests per minute over all its tokens, within the organisation's limits "
        "(none when empty).",
        "integer",
    ),
)

# Host is replaced by the region picker (a URI's host is still read as a region); schema and port have no
# meaning. Extra stays visible for keys without a field (proxies) and for pasting a whole configuration.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["host", "schema", "port"],
    "relabeling": {"login": "Client ID", "password": "Client Secret"},
    "placeholders": {
        "login": "OAuth client id (Admin > Integrations > OAuth)",
        "password": "OAuth client secret",
        "extra": '{"proxies": {"https": "http://proxy.example.com:3128"}}',
        "gateway_port": "8443",
        # Shown by forms before 3.2 only; 3.2+ offers each field's ``example`` as a suggestion instead.
        **{field.key: field.example for field in CONN_FIELDS if field.example is not None},
    },
}

PROVIDER_INFO: dict[str, Any] = {
    "package-name": "airflow-provider-genesys",
    "name": "Genesys Cloud",
    "description": "Genesys Cloud Platform API v2: hook, operators, sensors, triggers, offline emulator.",
    "versions": [__version__],
    "integrations": [
        {
            "integration-name": INTEGRATION,
            "external-doc-url": "https://developer.genesys.cloud/platform/api/",
            "tags": ["service"],
        }
    ],
    "connection-types": [
        {
            "connection-type": "genesys_cloud",
            "hook-class-name": "airflow_provider_genesys.hooks.genesys.GenesysCloudHook",
            "hook-name": "Genesys Cloud",
            "conn-fields": {field.key: field.conn_field() for field in CONN_FIELDS},
            "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
        }
    ],
    "hooks": [
        {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_genesys.hooks.genesys"]}
    ],
    "operators": [
        {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_genesys.operators.genesys",
                                                             "airflow_provider_genesys.operators.access",
                                                             "airflow_provider_genesys.operators.review"]}
    ],
    "sensors": [
        {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_genesys.sensors.genesys",
                                                             "airflow_provider_genesys.sensors.access"]}
    ],
    "triggers": [
        {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_genesys.triggers.genesys"]}
    ],
}
