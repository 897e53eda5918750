from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.exceptions import GenesysCloudConfigError
from airflow_provider_genesys.settings import EXTRA_KEYS, GenesysSettings
from tests.unit.conftest import CLIENT_ID, CLIENT_SECRET, make_settings


def settings_from(extra: dict[str, Any] | None = None, **fields: Any) -> GenesysSettings:
    fields.setdefault("login", CLIENT_ID)
    fields.setdefault("password", CLIENT_SECRET)
    return GenesysSettings.from_connection(extra=extra, **fields)


def config_error(extra: dict[str, Any] | None = None, **fields: Any) -> str:
    with pytest.raises(GenesysCloudConfigError) as excinfo:
        settings_from(extra, **fields)
    return str(excinfo.value)


def test_defaults_are_the_documented_ones() -> None:
    settings = settings_from()
    assert settings.region.name == "us_east_1"
    assert settings.grant_type == "client_credentials"
    assert settings.token_url == "https://login.mypurecloud.com/oauth/token"
    assert settings.api_base_url == "https://api.mypurecloud.com"
    assert (settings.max_attempts, settings.max_retry_time, settings.max_retry_wait) == (10, 600, 180)
    assert (settings.connect_timeout, settings.read_timeout, settings.pool_size) == (10, 60, 16)
    assert settings.pacing is True
    assert settings.retry_non_idempotent is False
    assert settings.verify is True


@pytest.mark.parametrize(
    ("extra", "login_base", "api_base"),
    [
        ({"gateway_host": "gw.example.com"}, "https://gw.example.com", "https://gw.example.com"),
        (
            {"gateway_host": "gw.example.com", "gateway_protocol": "http", "gateway_port": "8080"},
            "http://gw.example.com:8080",
            "http://gw.example.com:8080",
        ),
        (
            {"gateway_host": "gw.example.com", "gateway_port": -1},
            "https://gw.example.com",
            "https://gw.example.com",
        ),
        (
            {"gateway_host": "gw", "gateway_path_params_login": "login/", "gateway_path_params_api": "/api/"},
            "https://gw/login",
            "https://gw/api",
        ),
        (
            {"gateway_host": "gw", "gateway_port": 443, "gateway_path_params_api": "genesys/api"},
            "https://gw:443",
            "https://gw:443/genesys/api",
        ),
        (
            {"gateway_host": "127.0.0.1", "gateway_protocol": "http", "gateway_port": 5555},
            "http://127.0.0.1:5555",
            "http://127.0.0.1:5555",
        ),
        ({"gateway_host": "http://127.0.0.1:5555"}, "http://127.0.0.1:5555", "http://127.0.0.1:5555"),
        ({"gateway_host": "gw", "gateway_protocol": ""}, "https://gw", "https://gw"),
    ],
)
def test_gateway_urls_are_built_like_the_sdks(extra: dict[str, Any], login_base: str, api_base: str) -> None:
    settings = settings_from({"region": "eu_west_1", **extra})
    assert settings.login_base_url == login_base
    assert settings.token_url == f"{login_base}/oauth/token"
    assert settings.api_base_url == api_base


def test_gateway_url_conflicting_with_port_is_reported() -> None:
    message = config_error({"gateway_host": "http://127.0.0.1:5555", "gateway_port": 6666})
    assert "gateway_port" in message
    assert "keep one" in message


def test_form_strings_are_coerced() -> None:
    settings = settings_from(
        {
            "max_attempts": "3",
            "max_retry_time": "30",
            "read_timeout": "2.5",
            "retry_non_idempotent": "true",
            "verify_ssl": "False",
            "pacing": "0",
            "pool_size": " 4 ",
            "region": "",  # empty form field means "not set"
            "gateway_host": None,
        }
    )
    assert settings.max_attempts == 3
    assert settings.max_retry_time == 30.0
    assert settings.read_timeout == 2.5
    assert settings.retry_non_idempotent is True
    assert settings.verify_ssl is False
    assert settings.pacing is False
    assert settings.pool_size == 4
    assert settings.region.name == "us_east_1"
    assert settings.gateway_host is None


def test_airflows_mask_saved_by_the_form_means_the_default(caplog: pytest.LogCaptureFixture) -> None:
    """Connections already saved with ``"***"`` (Airflow's mask of a key named like a secret) keep working."""
    assert settings_from({"token_refresh_margin": "***"}) == settings_from({})
    assert "token_refresh_margin" in caplog.text


@pytest.mark.parametrize("key", ["refresh_token", "saml_assertion", "access_token"])
def test_airflows_mask_in_a_secret_extra_asks_for_the_secret_again(key: str) -> None:
    grant = {"refresh_token": "refresh_token", "saml_assertion": "saml2_bearer", "access_token": "access_token"}
    message = config_error({key: "***", "grant_type": grant[key], "org_name": "org"})
    assert key in message
    assert "type the secret into the connection form again" in message


def test_legacy_prefixed_keys_are_accepted_and_plain_keys_win() -> None:
    settings = settings_from(
        {"extra__genesys_cloud__region": "eu-west-1", "extra__genesys_cloud__max_attempts": 2}
    )
    assert settings.region.name == "eu_west_1"
    assert settings.max_attempts == 2
    both = settings_from({"region": "ap_south_1", "extra__genesys_cloud__region": "eu_west_1"})
    assert both.region.name == "ap_south_1"


def test_unknown_key_is_named_with_a_suggestion_and_the_valid_keys() -> None:
    message = config_error({"regoin": "eu_west_1"})
    assert "'regoin'" in message
    assert "Did you mean 'region'?" in message
    assert "gateway_path_params_api" in message


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ({"max_attempts": "ten"}, ["'max_attempts'", "'ten'", "whole number"]),
        ({"max_attempts": 0}, ["'max_attempts'", "from 1 to 100"]),
        ({"max_attempts": 2.5}, ["'max_attempts'"]),
        ({"read_timeout": "-1"}, ["'read_timeout'", "from 0.001 to 3600"]),
        ({"gateway_port": 70000}, ["'gateway_port'", "1-65535"]),
        ({"verify_ssl": "maybe"}, ["'verify_ssl'", "true or false"]),
        ({"proxies": 3}, ["'proxies'", "proxy URL"]),
        ({"grant_type": "password"}, ["'password'", "client_credentials", "saml2_bearer"]),
        ({"gateway_host": "gw/prefix"}, ["gateway_path_params_api"]),
    ],
)
def test_wrong_values_name_the_key_and_the_fix(extra: dict[str, Any], fragments: list[str]) -> None:
    message = config_error(extra)
    for fragment in fragments:
        assert fragment in message


def test_wrongly_typed_secret_is_not_echoed() -> None:
    message = config_error({"grant_type": "refresh_token", "refresh_token": ["rt-very-secret"]})
    assert "'refresh_token'" in message
    assert "rt-very-secret" not in message


def test_host_field_is_a_region_for_uri_style_connections() -> None:
    assert settings_from(host="mypurecloud.ie").region.name == "eu_west_1"
    assert settings_from({"region": "ap_south_1"}, host="mypurecloud.ie").region.name == "ap_south_1"


def test_missing_client_credentials_are_reported() -> None:
    assert "Password (OAuth client secret)" in config_error(password=None)
    assert "Login (OAuth client id)" in config_error(login="  ")


def test_saml2_bearer_accepts_the_urn_and_needs_assertion_and_org() -> None:
    settings = settings_from(
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:saml2-bearer",
            "saml_assertion": "PHNhbWw+",
            "org_name": "acme",
        }
    )
    assert settings.grant_type == "saml2_bearer"
    assert "'org_name'" in config_error({"grant_type": "saml2_bearer", "saml_assertion": "PHNhbWw+"})
    assert "'saml_assertion'" in config_error({"grant_type": "saml2_bearer", "org_name": "acme"})


def test_refresh_token_grant_needs_a_refresh_token() -> None:
    assert "'refresh_token'" in config_error({"grant_type": "refresh_token"})


def test_access_token_grant_needs_no_client_credentials_and_is_inferred() -> None:
    settings = GenesysSettings.from_connection(
        login=None, password=None, extra={"access_token": "pre-issued"}
    )
    assert settings.grant_type == "access_token"
    assert "'access_token'" in config_error({"grant_type": "access_token"})


def test_access_token_with_a_line_break_is_refused_without_echoing_it() -> None:
    # Sent as is, http.client's "Invalid header value" error would quote the whole token.
    message = config_error({"access_token": "half-of-it\nSECRET-REST"})
    assert "'access_token'" in message
    assert "SECRET-REST" not in message


def test_grant_specific_key_with_another_grant_is_reported() -> None:
    message = config_error({"grant_type": "client_credentials", "access_token": "pre-issued"})
    assert "only used with grant_type 'access_token'" in message
    assert "pre-issued" not in message


def test_repr_hides_every_secret() -> None:
    settings = settings_from(
        {"grant_type": "saml2_bearer", "saml_assertion": "ASSERTION-XYZ", "org_name": "acme"}
    )
    text = repr(settings)
    assert CLIENT_ID in text
    for secret in (CLIENT_SECRET, "ASSERTION-XYZ"):
        assert secret not in text


def test_proxies_tls_and_client_certificate(tmp_path: Path) -> None:
    ca, cert, key, both = (tmp_path / name for name in ("ca.pem", "c.pem", "k.pem", "both.pem"))
    for path in (ca, cert, key, both):
        path.write_text("-----BEGIN CERTIFICATE-----\n")
    one = make_settings(
        proxies="http://proxy:3128", ca_bundle=str(ca), client_cert=str(cert), client_key=str(key)
    )
    assert one.proxies == {"http": "http://proxy:3128", "https": "http://proxy:3128"}
    assert one.verify == str(ca)
    assert one.cert == (str(cert), str(key))
    two = make_settings(proxies={"https": "http://p:1"}, verify_ssl="false", client_cert=str(both))
    assert two.proxies == {"https": "http://p:1"}
    assert two.verify is False
    assert two.cert == str(both)


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Unknown key"):
        settings_from({"nope": 1})


def test_extra_must_be_an_object() -> None:
    with pytest.raises(GenesysCloudConfigError, match="JSON object"):
        GenesysSettings.from_connection(login="a", password="b", extra=["region"])  # type: ignore[arg-type]


# -- every extra key, good and bad values ------------------------------------------------------------------
# key -> (values accepted, [(value refused, fragment the error must contain)]). A key added to settings.py
# without a row here fails test_every_extra_key_has_a_row: write its good and bad values down.
READABLE = "<a readable file>"
_TABLE: dict[str, tuple[list[Any], list[tuple[Any, str]]]] = {
    "region": (["eu_west_1", "eu-west-1", "mypurecloud.ie", "https://api.mypurecloud.ie"], [
        ("mars_1", "region"), ("https://user:pw@api.mypurecloud.ie", "no spaces or user info"),
        ("eu west 1", "no spaces"),
    ]),
    "gateway_host": (
        ["gw.example.com", "127.0.0.1", "::1", "http://127.0.0.1:5555", "gw_1.internal"],
        [
            ("gw example.com", "without spaces"),
            ("https://user:pw@gw.example.com", "without a user name or password"),
            ("user:pw@gw.example.com", "without a user name or password"),
            ("ftp://gw.example.com", "http(s)://host"),
            ("http://gw.example.com:99999", "port"),
            ("gw..example.com", "host name"),
            ("-gw.example.com", "host name"),
            ("https://gw.example.com?x=1", "plain host"),
        ],
    ),
    "gateway_protocol": (["http", "https", "HTTPS"], [("ftp", "'http' or 'https'"), ("tcp", "'http' or 'https'")]),
    "gateway_port": ([8443, "8080", -1, 65535], [(0, "1-65535"), (70000, "1-65535"), ("inf", "port"), (1e300, "port")]),
    "gateway_path_params_login": (["/login", "login/", "a/b-c_d.e"], [("/lo gin", "URL path"), ("/a?b", "URL path")]),
    "gateway_path_params_api": (["/api", "/genesys/api/"], [("../x", "URL path"), ("http://x/api", "URL path")]),
    "grant_type": (["client_credentials", "client-credentials"], [("password", "not supported")]),
    "saml_assertion": ([], [(5, "a string")]),
    "org_name": ([], [(5, "a string")]),
    "refresh_token": ([], [(["x"], "a string")]),
    "access_token": ([], [("a b", "without spaces")]),
    "max_attempts": (
        [1, "3", 100],
        [(0, "from 1 to 100"), (101, "from 1 to 100"), ("inf", "whole number"), (2.5, "whole number")],
    ),
    "max_retry_time": ([0, "600", 86400], [("inf", "from 0 to 86400"), ("nan", "from 0 to 86400"), (-1, "from 0")]),
    "max_retry_wait": ([0, 180.5], [(float("inf"), "from 0 to 86400"), (90000, "from 0 to 86400")]),
    "backoff_base": ([0, "1.5"], [("-1", "from 0 to 3600"), ("NaN", "from 0 to 3600")]),
    "retry_non_idempotent": ([True, "false", "yes"], [("maybe", "true or false")]),
    "connect_timeout": ([0.5, "10"], [(0, "from 0.001"), ("inf", "from 0.001"), (3601, "to 3600")]),
    "read_timeout": ([60, "0.2"], [("-inf", "from 0.001"), ("infinity", "from 0.001"), (True, "seconds")]),
    "proxies": (
        ["http://proxy:3128", {"https": "http://user:pw@proxy:3128"}, {"all": "socks5h://p:1080"}],
        [
            (3, "proxy URL"),
            ("proxy:3128", "proxy URL like"),
            ("ftp://proxy:21", "proxy URL like"),
            ({"https": "http://user:pw@proxy:99999"}, "proxy URL like"),
            ({"https": "http://user:pw@pro xy:3128"}, "proxy URL like"),
            ({"htps": "http://proxy:3128"}, "keyed by"),
        ],
    ),
    "ca_bundle": ([READABLE, "<a folder>"], [("/nonexistent/ca.pem", "does not exist")]),
    "verify_ssl": ([False, "true"], [("sometimes", "true or false")]),
    "client_cert": ([READABLE], [("/nonexistent/c.pem", "does not exist"), ("<a folder>", "is not a readable file")]),
    "client_key": ([], [("/nonexistent/k.pem", "does not exist")]),
    "pacing": ([True, "off"], [("2", "true or false")]),
    "pool_size": ([1, "16", 1000], [(0, "from 1 to 1000"), (1001, "from 1 to 1000"), ("x", "whole number")]),
    "token_refresh_margin": ([0, "300"], [("inf", "from 0 to 86400"), (-5, "from 0 to 86400")]),
    "token_pool_size": ([1, "2", 50], [(0, "from 1 to 50"), (51, "from 1 to 50"), ("inf", "token_pool_size"),
                                       ("x", "token_pool_size")]),
    "org_rate_limit_per_minute": ([1, "300"], [(0, "requests per minute"), ("inf", "requests per minute"),
                                               ("x", "org_rate_limit_per_minute")]),
}
_NEEDS = {  # what a value of the key needs besides itself to be valid
    "saml_assertion": {"grant_type": "saml2_bearer", "org_name": "acme"},
    "org_name": {"grant_type": "saml2_bearer", "saml_assertion": "PHNhbWw+"},
    "refresh_token": {"grant_type": "refresh_token"},
}


def _concrete(value: Any, tmp_path: Path) -> Any:
    if value == READABLE:
        path = tmp_path / "file.pem"
        path.write_text("pem")
        return str(path)
    if value == "<a folder>":
        return str(tmp_path)
    return value


def test_every_extra_key_has_a_row() -> None:
    assert sorted(_TABLE) == sorted(EXTRA_KEYS)


@pytest.mark.parametrize(
    ("key", "value"), [(key, value) for key, (good, _) in _TABLE.items() for value in good]
)
def test_good_values_are_accepted(key: str, value: Any, tmp_path: Path) -> None:
    settings_from({**_NEEDS.get(key, {}), key: _concrete(value, tmp_path)})


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [(key, value, fragment) for key, (_, bad) in _TABLE.items() for value, fragment in bad],
)
def test_bad_values_are_a_config_error_naming_the_key(key: str, value: Any, fragment: str, tmp_path: Path) -> None:
    message = config_error({**_NEEDS.get(key, {}), key: _concrete(value, tmp_path)})
    assert key in message or (key == "region" and "region" in message)
    assert fragment in message
    for secret in ("user:pw", ":pw@"):
        assert secret not in message  # user info of a pasted URL is never echoed


def test_client_key_needs_client_cert(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("pem")
    assert "client_cert" in config_error({"client_key": str(key)})


def test_a_bad_setting_fails_the_task_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the hook: AirflowFailException (no Airflow retries), the key named, no user info echoed."""
    import json

    from airflow_provider_genesys._compat import AirflowFailException
    from airflow_provider_genesys.hooks.genesys import GenesysCloudHook

    conn = {"conn_type": "genesys_cloud", "login": "id", "password": "pw",
            "extra": {"gateway_host": "https://admin:hunter2@gw.example.com"}}
    monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", json.dumps(conn))
    with pytest.raises(AirflowFailException) as excinfo:
        GenesysCloudHook().settings  # noqa: B018
    assert "'gateway_host'" in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value)
    assert "admin" not in str(excinfo.value)
