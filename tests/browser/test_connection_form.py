"""A Genesys Cloud connection added through Airflow's connection form, in Chromium, works in a task.

This is how a user meets the provider: pick "Genesys Cloud", type the Client ID and Secret, point the
gateway fields at their Genesys (here the emulator), leave every other field as the form pre-fills it, save.
Airflow masks any extra key named like a secret (``token_refresh_margin`` contains "token") including the
default the form pre-fills, so before fa68bb6 such a connection was saved with ``"***"`` and failed every
test and task; this test failed on that commit and passes since.

Runtime, measured on this project's 2-core machines shared by several agents (load 5-7): 70-110 s, of which
30-56 s start Airflow (``db migrate`` ~9 s and the api-server ~12 s when timed alone) and 36-47 s are the test
itself: the form ~6 s, then ``connections test`` (~11 s) while the one-task ``dags test`` (~20 s) runs.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.regions import REGION_LABELS
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.browser.conftest import AirflowServer

pytestmark = pytest.mark.browser
CONN_ID = "genesys_from_the_form"
DAG_ID = "genesys_form_connection_in_a_task"
def region_option(page: Any, region_id: str) -> Any:
    """The picker's entry for a region, found by the name Genesys gives it ("EMEA (Dublin) · ...")."""
    return page.get_by_role("option", name=re.compile(f"^{re.escape(REGION_LABELS[region_id])} "))


def add_connection_through_the_form(page: Any, server: AirflowServer, emulator: GenesysCloudEmulator) -> None:
    """What a user does: only the credentials, the region and the gateway fields; every default left as is."""
    from playwright.sync_api import expect

    page.goto(f"{server.base_url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    page.get_by_label("Connection ID").fill(CONN_ID)
    page.get_by_role("combobox", name="Connection Type").fill("Genesys Cloud")
    page.get_by_role("option", name="Genesys Cloud", exact=True).click()
    page.get_by_label("Client ID").fill(emulator.client_id)
    page.get_by_label("Client Secret").fill(emulator.client_secret)
    page.get_by_role("button", name="Extra Fields", exact=True).click()

    # The region picker speaks Genesys' names (the id is what gets stored).
    region_picker = page.locator("[name=element_region]").locator("xpath=..").get_by_role("combobox")
    region_picker.click()
    for region_id in ("us_east_1", "eu_west_1", "ap_northeast_1"):
        expect(region_option(page, region_id)).to_be_visible()
    region_option(page, "eu_west_1").click()

    page.locator("#element_gateway_host").fill(emulator.host)
    page.locator("#element_gateway_protocol").fill("http")
    page.locator("input[name=element_gateway_port]").fill(str(emulator.port))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_text(CONN_ID, exact=True)).to_be_visible()


def write_dag(server: AirflowServer, output: Path) -> None:
    """A one-task DAG that extracts the org's roles through the connection the form saved."""
    (server.home / "dags" / f"{DAG_ID}.py").write_text(textwrap.dedent(f"""
        from datetime import datetime

        from airflow.sdk import DAG

        from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator

        with DAG({DAG_ID!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
            GenesysCloudExtractOperator(
                task_id="extract_roles",
                genesys_conn_id={CONN_ID!r},
                dataset="roles",
                destination={output.as_uri()!r},
            )
    """))


def test_connection_added_through_the_form_works_in_a_task(
    airflow_server: AirflowServer,
    page: Any,
    genesys_emulator_factory: Callable[..., GenesysCloudEmulator],
    tmp_path: Path,
) -> None:
    emulator = genesys_emulator_factory()
    add_connection_through_the_form(page, airflow_server, emulator)

    stored = airflow_server.saved_extra(CONN_ID)
    saved = json.loads(stored)
    print(f"extra as the form saved it: {stored!r}")  # tests/unit/test_form_saved_connection.py replays it
    assert saved["region"] == "eu_west_1", saved
    assert saved["gateway_host"] == emulator.host

    # The task runs while the connection is tested (both only read the connection): half the wall time.
    destination = tmp_path / "roles.ndjson"
    write_dag(airflow_server, destination)
    task = airflow_server.start_airflow("dags", "test", DAG_ID)
    try:
        # What the user sees first: Airflow's own connection test (the UI's Test button runs the same code).
        tested = airflow_server.airflow("connections", "test", CONN_ID)
        output = tested.stdout + tested.stderr
        assert tested.returncode == 0, output[-4000:]
        assert "Connection success!" in output, output[-4000:]
        masked = {key: value for key, value in saved.items() if value == "***"}
        assert not masked, f"the form saved Airflow's mask instead of a value: {masked}"
        task_output, _ = task.communicate(timeout=300)
    finally:
        if task.poll() is None:
            task.kill()
            task.communicate()
    assert task.returncode == 0, task_output[-6000:]
    roles = [json.loads(line) for line in destination.read_text().splitlines()]
    assert {role["id"] for role in roles} == {role["id"] for role in emulator.org.roles}
