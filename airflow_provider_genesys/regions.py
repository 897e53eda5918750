"""Genesys Cloud regions and every spelling users copy from consoles, SDK docs and browser bars."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_provider_genesys.exceptions import GenesysCloudConfigError


@dataclass(frozen=True)
class Region:
    """One Genesys Cloud region: its AWS-style name and the domain its API and login hosts live under."""

    name: str
    domain: str

    @property
    def api_base_url(self) -> str:
        return f"https://api.{self.domain}"

    @property
    def login_base_url(self) -> str:
        # The SDKs derive login from the API URL by swapping the `//api.` prefix.
        return self.api_base_url.replace("//api.", "//login.", 1)


REGIONS: dict[str, Region] = {
    region.name: region
    for region in (
        Region("us_east_1", "mypurecloud.com"),
        Region("eu_west_1", "mypurecloud.ie"),
        Region("ap_southeast_2", "mypurecloud.com.au"),
        Region("ap_northeast_1", "mypurecloud.jp"),
        Region("eu_central_1", "mypurecloud.de"),
        Region("us_west_2", "usw2.pure.cloud"),
        Region("ca_central_1", "cac1.pure.cloud"),
        Region("ap_northeast_2", "apne2.pure.cloud"),
        Region("eu_west_2", "euw2.pure.cloud"),
        Region("ap_south_1", "aps1.pure.cloud"),
        Region("us_east_2", "use2.us-gov-pure.cloud"),
        Region("sa_east_1", "sae1.pure.cloud"),
        Region("me_central_1", "mec1.pure.cloud"),
        Region("ap_northeast_3", "apne3.pure.cloud"),
        Region("eu_central_2", "euc2.pure.cloud"),
        Region("mx_central_1", "mxc1.pure.cloud"),
        Region("ap_southeast_1", "apse1.pure.cloud"),
        Region("eusc_de_east_1", "edee1.eusc-pure.cloud"),
    )
}
DEFAULT_REGION = REGIONS["us_east_1"]

# The names Genesys shows users for its regions (the region list of its login page and developer center;
# sources in docs/decisions.md). The connection form's region picker shows them; the id is what is stored.
REGION_LABELS: dict[str, str] = {
    "us_east_1": "Americas (US East)",
    "us_east_2": "Americas (US East 2)",
    "us_west_2": "Americas (US West)",
    "ca_central_1": "Americas (Canada)",
    "sa_east_1": "Americas (São Paulo)",
    "mx_central_1": "Americas (Mexico)",
    "eu_west_1": "EMEA (Dublin)",
    "eu_central_1": "EMEA (Frankfurt)",
    "eu_west_2": "EMEA (London)",
    "eu_central_2": "EMEA (Zurich)",
    "me_central_1": "EMEA (UAE)",
    "eusc_de_east_1": "EU Sovereign Cloud (Germany)",
    "ap_south_1": "Asia Pacific (Mumbai)",
    "ap_northeast_2": "Asia Pacific (Seoul)",
    "ap_southeast_2": "Asia Pacific (Sydney)",
    "ap_northeast_1": "Asia Pacific (Tokyo)",
    "ap_northeast_3": "Asia Pacific (Osaka)",
    "ap_southeast_1": "Asia Pacific (Singapore)",
}
_BY_DOMAIN = {region.domain: region for region in REGIONS.values()}


def _domain_of(value: str) -> str | None:
    """The bare domain of `api.x`, `login.x`, `https://api.x[/api/v2]`, or None if the URL has a path."""
    host = value
    if "://" in value:
        parts = urlsplit(value)
        if parts.path.rstrip("/") not in ("", "/api/v2") or parts.query:
            return None
        host = parts.hostname or ""
    host = host.rstrip("/")
    for prefix in ("api.", "login."):
        if host.startswith(prefix) and host[len(prefix) :] in _BY_DOMAIN:
            return host[len(prefix) :]
    return host


def resolve_region(value: str | Region) -> Region:
    """Accept `eu_west_1`, `eu-west-1` (any case), `mypurecloud.ie`, `api.mypurecloud.ie` or its URL."""
    if isinstance(value, Region):
        return value
    text = str(value).strip().lower()
    name = text.replace("-", "_")
    if name in REGIONS:
        return REGIONS[name]
    domain = _domain_of(text)
    if domain in _BY_DOMAIN:
        return _BY_DOMAIN[domain]
    raise GenesysCloudConfigError(
        f"Unknown Genesys Cloud region {value!r}. Set the extra 'region' to one of: "
        f"{', '.join(REGIONS)} (or its domain, e.g. mypurecloud.ie, or API URL https://api.mypurecloud.ie). "
        "To reach a gateway or the emulator, set gateway_host instead."
    )
