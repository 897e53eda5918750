from __future__ import annotations

import pytest

from airflow_provider_genesys.exceptions import GenesysCloudConfigError
from airflow_provider_genesys.regions import REGIONS, resolve_region


@pytest.mark.parametrize(
    "spelling",
    [
        "eu_west_1",
        "eu-west-1",
        "EU-West-1",
        " eu_west_1 ",
        "mypurecloud.ie",
        "api.mypurecloud.ie",
        "login.mypurecloud.ie",
        "https://api.mypurecloud.ie",
        "https://api.mypurecloud.ie/",
        "https://api.mypurecloud.ie/api/v2",
        "https://api.mypurecloud.ie/api/v2/",
        "HTTPS://API.MYPURECLOUD.IE",
    ],
)
def test_every_spelling_resolves_to_the_region(spelling: str) -> None:
    region = resolve_region(spelling)
    assert region.name == "eu_west_1"
    assert region.api_base_url == "https://api.mypurecloud.ie"
    assert region.login_base_url == "https://login.mypurecloud.ie"


def test_all_eighteen_regions_resolve_by_name_domain_and_url() -> None:
    assert len(REGIONS) == 18
    for name, region in REGIONS.items():
        assert resolve_region(name) is region
        assert resolve_region(name.replace("_", "-").upper()) is region
        assert resolve_region(region.domain) is region
        assert resolve_region(region.api_base_url + "/api/v2") is region
        assert region.login_base_url == f"https://login.{region.domain}"


def test_sovereign_and_fedramp_regions() -> None:
    assert resolve_region("eusc-de-east-1").api_base_url == "https://api.edee1.eusc-pure.cloud"
    assert resolve_region("use2.us-gov-pure.cloud").name == "us_east_2"


@pytest.mark.parametrize(
    "value",
    ["eu_west_9", "mypurecloud.ie.evil.example", "https://api.mypurecloud.ie/api/v2/users", "", "localhost"],
)
def test_unknown_region_lists_the_valid_names(value: str) -> None:
    with pytest.raises(GenesysCloudConfigError) as excinfo:
        resolve_region(value)
    message = str(excinfo.value)
    assert "Unknown Genesys Cloud region" in message
    assert "eusc_de_east_1" in message
    assert "gateway_host" in message
