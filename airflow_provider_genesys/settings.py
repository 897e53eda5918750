"""The `genesys_cloud` connection parsed once into typed, validated settings (no Airflow imports).

Extras may come from a UI form (every value a string) or JSON (typed values); both are coerced here, and
anything unknown or malformed fails with a message that names the key and how to fix it.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_genesys.exceptions import GenesysCloudConfigError
from airflow_provider_genesys.regions import DEFAULT_REGION, Region, resolve_region

log = logging.getLogger(__name__)

LEGACY_PREFIX = "extra__genesys_cloud__"
# What Airflow's UI and API show instead of the value of a key whose name looks secret (it contains
# "token", "secret", "proxies", ...). A connection form that pre-filled such a value saves the mask itself.
AIRFLOW_MASK = "***"
SAML2_BEARER_URN = "urn:ietf:params:oauth:grant-type:saml2-bearer"
GRANT_TYPES = ("client_credentials", "saml2_bearer", "refresh_token", "access_token")
SECRET_EXTRAS = frozenset({"saml_assertion", "refresh_token", "access_token"})
# Extras that only one grant uses: setting them with another grant is a mistake worth reporting.
_GRANT_OF_EXTRA = {
    "saml_assertion": "saml2_bearer",
    "org_name": "saml2_bearer",
    "refresh_token": "refresh_token",
    "access_token": "access_token",
}
MAX_TOKEN_POOL_SIZE = 50  # as Genesys' Terraform provider (1-50): each token costs a token request
_TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "off", "n", "f"})


@dataclass(frozen=True)
class GenesysSettings:
    """Everything the client needs, validated. Secrets are excluded from repr."""

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    region: Region = DEFAULT_REGION
    gateway_host: str | None = None
    gateway_protocol: str = "https"
    gateway_port: int | None = None
    gateway_path_params_login: str | None = None
    gateway_path_params_api: str | None = None
    grant_type: str = "client_credentials"
    saml_assertion: str | None = field(default=None, repr=False)
    org_name: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    max_attempts: int = 10
    max_retry_time: float = 600.0
    max_retry_wait: float = 180.0
    backoff_base: float = 1.0
    retry_non_idempotent: bool = False
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    proxies: Mapping[str, str] | None = field(default=None, repr=False)  # a proxy URL may carry a password
    ca_bundle: str | None = None
    verify_ssl: bool = True
    client_cert: str | None = None
    client_key: str | None = None
    pacing: bool = True
    pool_size: int = 16
    token_refresh_margin: float = 300.0
    token_pool_size: int = 1
    org_rate_limit_per_minute: int | None = None

    @property
    def login_base_url(self) -> str:
        """Where `/oauth/token` lives: the gateway's login base if set, else the region's login host."""
        if not self.gateway_host:
            return self.region.login_base_url
        return self._gateway_base(self.gateway_path_params_login)

    @property
    def api_base_url(self) -> str:
        """What `/api/v2/...` is appended to: the gateway's API base if set, else the region's API host."""
        if not self.gateway_host:
            return self.region.api_base_url
        return self._gateway_base(self.gateway_path_params_api)

    @property
    def token_url(self) -> str:
        return f"{self.login_base_url}/oauth/token"

    @property
    def verify(self) -> bool | str:
        """The `verify` argument of requests: a CA bundle path wins over the boolean."""
        return self.ca_bundle or self.verify_ssl

    @property
    def cert(self) -> str | tuple[str, str] | None:
        """The `cert` argument of requests for mutual TLS."""
        if self.client_cert and self.client_key:
            return (self.client_cert, self.client_key)
        return self.client_cert

    def _gateway_base(self, path_params: str | None) -> str:
        # Exactly as Genesys' SDKs: protocol://host[:port][/path], trailing "/" dropped, leading "/" added.
        base = f"{self.gateway_protocol or 'https'}://{self.gateway_host}"
        if self.gateway_port is not None and self.gateway_port >= 0:
            base += f":{self.gateway_port}"
        path = (path_params or "").rstrip("/")
        if path:
            base += path if path.startswith("/") else f"/{path}"
        return base

    @classmethod
    def from_connection(
        cls,
        *,
        login: str | None,
        password: str | None,
        host: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> GenesysSettings:
        """Build settings from an Airflow connection's fields; raise GenesysCloudConfigError when wrong."""
        values = _normalise_extra(extra)
        kwargs: dict[str, Any] = {}
        for key, raw in values.items():
            kwargs[key] = _COERCERS[key](key, raw)
        kwargs["region"] = _region(kwargs.pop("region", None), host)
        if "gateway_host" in kwargs:
            kwargs.update(_split_gateway_url(kwargs))
        if "proxies" in kwargs:
            kwargs["proxies"] = _proxies(kwargs["proxies"])
        if kwargs.get("client_key") and not kwargs.get("client_cert"):
            raise GenesysCloudConfigError(
                "Extra 'client_key' is set without 'client_cert'; set client_cert to the certificate of "
                "that key (or remove client_key)."
            )
        kwargs["grant_type"] = _grant_type(kwargs)
        kwargs["client_id"] = (login or "").strip() or None
        kwargs["client_secret"] = password or None
        _check_grant(kwargs)
        return cls(**kwargs)


def _normalise_extra(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Strip the legacy prefix, drop "not set" values, and reject unknown keys with a suggestion."""
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise GenesysCloudConfigError(
            f"The connection extra must be a JSON object, got {type(extra).__name__}; "
            'write it like {"region": "eu_west_1"}.'
        )
    values: dict[str, Any] = {}
    for raw_key, value in extra.items():
        key = str(raw_key)
        legacy = key.startswith(LEGACY_PREFIX)
        if legacy:
            key = key[len(LEGACY_PREFIX) :]
        if key not in _COERCERS:
            close = difflib.get_close_matches(key, list(_COERCERS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise GenesysCloudConfigError(
                f"Unknown key {raw_key!r} in the genesys_cloud connection extra.{hint} "
                f"Valid keys: {', '.join(sorted(_COERCERS))}."
            )
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, str) and value.strip() == AIRFLOW_MASK:
            if key in SECRET_EXTRAS:
                raise GenesysCloudConfigError(
                    f"Extra {raw_key!r} holds Airflow's mask {AIRFLOW_MASK!r}, not the secret itself; type the "
                    "secret into the connection form again (or set it in the connection's JSON)."
                )
            log.warning(
                "Extra %r holds Airflow's mask %r (a connection form saved what Airflow displays for a key named "
                "like a secret); using its default instead. Clear the field or type a value to silence this.",
                raw_key, AIRFLOW_MASK,
            )
            continue
        if legacy and key in values:
            continue  # the plain key wins over the legacy form-field key
        values[key] = value
    return values


# User info in a URL (`scheme://user:pass@host`) or before a host (`user:pass@host`): credentials.
_USERINFO = re.compile(r"(^|//)[^/?#@\s]*@")


def redact(text: str) -> str:
    """``text`` with the user name and password of any URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\1***@", text)


def _kind(key: str, value: Any) -> str:
    """Describe a value for an error message without ever echoing a secret."""
    if key in SECRET_EXTRAS:
        return f"a {type(value).__name__}"
    if isinstance(value, str):
        return repr(redact(value))
    return repr(value)


def _fail(key: str, value: Any, expected: str) -> GenesysCloudConfigError:
    return GenesysCloudConfigError(
        f"Extra {key!r} must be {expected}, got {_kind(key, value)}; fix it in the genesys_cloud connection."
    )


def _as_str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(key, value, "a string")
    return value.strip()


def _as_token(key: str, value: Any) -> str:
    """A pre-issued token goes into a header: a line break there would echo it in http.client's error."""
    token = _as_str(key, value)
    if any(char.isspace() for char in token):
        raise _fail(key, value, "one token without spaces or line breaks (paste it again)")
    return token


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _fail(key, value, "true or false")


def _number(
    key: str, value: Any, kind: type, minimum: float, expected: str, maximum: float = math.inf
) -> Any:
    if isinstance(value, bool):
        raise _fail(key, value, expected)
    try:
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise _fail(key, value, expected) from None
    if kind is int and isinstance(value, float) and value != number:
        raise _fail(key, value, expected)
    if not math.isfinite(number) or not minimum <= number <= maximum:  # inf, NaN or out of range
        raise _fail(key, value, expected)
    return number


def _int(minimum: int, expected: str, maximum: float = math.inf) -> Callable[[str, Any], int]:
    return lambda key, value: _number(key, value, int, minimum, expected, maximum)


def _float(minimum: float, expected: str, maximum: float = math.inf) -> Callable[[str, Any], float]:
    return lambda key, value: _number(key, value, float, minimum, expected, maximum)



def _as_port(key: str, value: Any) -> int | None:
    port = _number(key, value, int, -(2**31), "a port number (1-65535)")
    if port < 0:
        return None  # as in the SDKs: a negative port means "none"
    if not 0 < port <= 65535:
        raise _fail(key, value, "a port number (1-65535)")
    return port


def _as_proxies(key: str, value: Any) -> Any:
    if isinstance(value, str | Mapping):
        return value
    raise _fail(key, value, 'a proxy URL string or an object like {"https": "http://proxy:3128"}')


def _as_region(key: str, value: Any) -> str:
    """A region name, domain or API URL; a pasted URL with a user name or password is refused unechoed."""
    region = _as_str(key, value)
    if "@" in region or any(char.isspace() for char in region):
        raise _fail(key, value, "a region name such as eu_west_1, its domain or API URL (no spaces or user info)")
    return region


def _as_protocol(key: str, value: Any) -> str:
    protocol = _as_str(key, value).lower()
    if protocol not in ("http", "https"):
        raise _fail(key, value, "'http' or 'https'")
    return protocol


def _as_host(key: str, value: Any) -> str:
    """A host name or IP, or ``scheme://host[:port]`` (split later); never with a user name or password."""
    host = _as_str(key, value)
    if any(char.isspace() for char in host):
        raise _fail(key, value, "a host name or IP address without spaces")
    if "@" in host:
        raise _fail(
            key, value, "a host name without a user name or password (the gateway is reached without them)"
        )
    return host


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _valid_host(host: str) -> bool:
    """A DNS name (labels of letters, digits, ``-``, ``_``) or an IPv4/IPv6 address."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in name.split("."))


_PATH = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


def _as_path(key: str, value: Any) -> str:
    """A gateway path prefix: URL path characters only, no '.' or '..' segments."""
    path = _as_str(key, value)
    if not _PATH.fullmatch(path) or "://" in path or any(seg in (".", "..") for seg in path.split("/")):
        raise _fail(key, value, "a URL path prefix such as '/genesys' (no spaces, '?', '#' or '..')")
    return path


def _as_file(*, folder_ok: bool = False) -> Callable[[str, Any], str]:
    """A path the worker can read: checked when the connection is read, not on the first TLS handshake."""
    what = "a readable file or folder" if folder_ok else "a readable file"

    def coerce(key: str, value: Any) -> str:
        path = _as_str(key, value)
        exists = os.path.isfile(path) or (folder_ok and os.path.isdir(path))
        if not exists or not os.access(path, os.R_OK):
            problem = "does not exist" if not os.path.exists(path) else "is not " + what
            raise GenesysCloudConfigError(
                f"Extra {key!r} must be the path of {what} on the worker; {path!r} {problem} "
                "(or is not readable by the worker's user)."
            )
        return path

    return coerce


_COERCERS: dict[str, Callable[[str, Any], Any]] = {
    "region": _as_region,
    "gateway_host": _as_host,
    "gateway_protocol": _as_protocol,
    "gateway_port": _as_port,
    "gateway_path_params_login": _as_path,
    "gateway_path_params_api": _as_path,
    "grant_type": _as_str,
    "saml_assertion": _as_str,
    "org_name": _as_str,
    "refresh_token": _as_str,
    "access_token": _as_token,
    "max_attempts": _int(1, "a whole number from 1 to 100", 100),
    "max_retry_time": _float(0, "a number of seconds from 0 to 86400 (a day)", 86400),
    "max_retry_wait": _float(0, "a number of seconds from 0 to 86400 (a day)", 86400),
    "backoff_base": _float(0, "a number of seconds from 0 to 3600", 3600),
    "retry_non_idempotent": _as_bool,
    "connect_timeout": _float(0.001, "a number of seconds from 0.001 to 3600", 3600),
    "read_timeout": _float(0.001, "a number of seconds from 0.001 to 3600", 3600),
    "proxies": _as_proxies,
    "ca_bundle": _as_file(folder_ok=True),
    "verify_ssl": _as_bool,
    "client_cert": _as_file(),
    "client_key": _as_file(),
    "pacing": _as_bool,
    "pool_size": _int(1, "a whole number from 1 to 1000", 1000),
    "token_refresh_margin": _float(0, "a number of seconds from 0 to 86400 (a day)", 86400),
    "token_pool_size": _int(1, f"a whole number from 1 to {MAX_TOKEN_POOL_SIZE}", MAX_TOKEN_POOL_SIZE),
    "org_rate_limit_per_minute": _int(1, "a whole number of requests per minute from 1 to 1000000", 1_000_000),
}
EXTRA_KEYS = tuple(sorted(_COERCERS))


def _region(region: str | None, host: str | None) -> Region:
    """The extra 'region' wins; Airflow's host field is a region too (URI-style connections)."""
    if region:
        return resolve_region(region)
    if host and host.strip():
        return resolve_region(host)
    return DEFAULT_REGION


def _split_gateway_url(values: dict[str, Any]) -> dict[str, Any]:
    """Accept `http://127.0.0.1:8080` pasted into gateway_host by splitting it into its parts."""
    host = values["gateway_host"]
    if "://" not in host:
        if "/" in host:
            raise GenesysCloudConfigError(
                f"Extra 'gateway_host' must be a host name, got {host!r}; put a path prefix in "
                "gateway_path_params_api / gateway_path_params_login."
            )
        if not _valid_host(host):
            raise _fail("gateway_host", host, "a host name (letters, digits, '-', '.') or an IP address")
        return {}
    parts = urlsplit(host)
    try:
        port = parts.port
    except ValueError:
        raise _fail("gateway_host", host, "scheme://host[:port] with a port from 1 to 65535") from None
    if parts.path.strip("/") or parts.query or parts.fragment or not parts.hostname:
        raise GenesysCloudConfigError(
            f"Extra 'gateway_host' {host!r} is not a plain host or scheme://host[:port]; put a path prefix "
            "in gateway_path_params_api / gateway_path_params_login."
        )
    if parts.scheme.lower() not in ("http", "https"):
        raise _fail("gateway_host", host, "a host name, or http(s)://host[:port]")
    if not _valid_host(parts.hostname):
        raise _fail("gateway_host", host, "a host name (letters, digits, '-', '.') or an IP address")
    split: dict[str, Any] = {"gateway_host": parts.hostname}
    for key, found in (("gateway_protocol", parts.scheme.lower()), ("gateway_port", port)):
        if found is None:
            continue
        if values.get(key) not in (None, found):
            raise GenesysCloudConfigError(
                f"Extra 'gateway_host' says {key[8:]} {found!r} but {key!r} says {values[key]!r}; "
                "keep one of them."
            )
        split[key] = found
    return split


_PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
_PROXY_KEY = re.compile(r"(http|https|all)(://[^\s/]+)?")


def _proxies(value: str | Mapping[str, Any]) -> dict[str, str]:
    """requests' proxies mapping; every URL needs a scheme and a host (passwords never echoed)."""
    mapping = {"http": value, "https": value} if isinstance(value, str) else dict(value)
    proxies: dict[str, str] = {}
    for scheme, url in mapping.items():
        if url is None or (isinstance(url, str) and not url.strip()):
            continue
        if not isinstance(scheme, str) or not _PROXY_KEY.fullmatch(scheme):
            raise _fail(
                "proxies", value if isinstance(value, str) else scheme,
                "keyed by 'http', 'https', 'all' or 'scheme://host' (requests' proxies mapping)",
            )
        proxies[scheme] = _proxy_url(url)
    return proxies


def _proxy_url(url: Any) -> str:
    expected = f"a proxy URL like http://proxy.example.com:3128 (schemes: {', '.join(_PROXY_SCHEMES)})"
    if not isinstance(url, str):
        raise _fail("proxies", url, expected)
    text = url.strip()
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not 1-65535
    except ValueError:
        raise _fail("proxies", text, expected) from None
    if (
        parts.scheme.lower() not in _PROXY_SCHEMES
        or not parts.hostname
        or not _valid_host(parts.hostname)
        or any(char.isspace() for char in text)
    ):
        raise _fail("proxies", text, expected)
    return text


def _grant_type(values: dict[str, Any]) -> str:
    grant = values.get("grant_type")
    if grant is None:
        # A pre-issued token alone is unambiguous: no need to also spell out the grant.
        return "access_token" if values.get("access_token") else "client_credentials"
    normalised = grant.lower().replace("-", "_")
    if normalised == SAML2_BEARER_URN.replace("-", "_"):
        normalised = "saml2_bearer"
    if normalised not in GRANT_TYPES:
        raise GenesysCloudConfigError(
            f"Extra 'grant_type' {grant!r} is not supported; use one of {', '.join(GRANT_TYPES)}."
        )
    return normalised


def _check_grant(values: dict[str, Any]) -> None:
    """Each grant needs its own credentials; report the first missing or misplaced one."""
    grant = values["grant_type"]
    for key, owner in _GRANT_OF_EXTRA.items():
        if values.get(key) and owner != grant:
            raise GenesysCloudConfigError(
                f"Extra {key!r} is only used with grant_type {owner!r}, but grant_type is {grant!r}; "
                f"set grant_type to {owner!r} or remove {key!r}."
            )
    if values.get("token_pool_size", 1) > 1 and grant != "client_credentials":
        raise GenesysCloudConfigError(
            f"Extra 'token_pool_size' above 1 needs grant_type 'client_credentials', but grant_type is {grant!r} "
            "(a refresh token rotates, a SAML assertion and a pre-issued token give one token); set "
            "token_pool_size to 1 or use a client-credentials OAuth client."
        )
    if grant == "access_token":
        if not values.get("access_token"):
            raise GenesysCloudConfigError(
                "grant_type 'access_token' needs the extra 'access_token' (a token issued by Genesys Cloud)."
            )
        return
    if not values["client_id"] or not values["client_secret"]:
        missing = "Login (OAuth client id)" if not values["client_id"] else "Password (OAuth client secret)"
        raise GenesysCloudConfigError(
            f"The genesys_cloud connection has no {missing}; grant_type {grant!r} needs both the OAuth "
            "client id (Login) and its secret (Password)."
        )
    needed = {"saml2_bearer": ("saml_assertion", "org_name"), "refresh_token": ("refresh_token",)}
    for key in needed.get(grant, ()):
        if not values.get(key):
            raise GenesysCloudConfigError(f"grant_type {grant!r} needs the extra {key!r}.")
