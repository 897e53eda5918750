"""No secret in a DAG run's output, at DEBUG too; and the scan that says so fails on a real leak.

The scan (tests/compat/scan.py) looks for every secret the emulator handed out or the test put into the
connection in everything a run printed. The compatibility matrix runs these on every declared Airflow line.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing.tokens import SECRETS_FILE_ENV
from tests.compat.output import save_run_output
from tests.compat.scan import load_secrets, scan

pytestmark = pytest.mark.e2e
FIXTURE_DAGS = Path(__file__).resolve().parents[1] / "compat" / "dags"
DEBUG = {"AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG"}


@pytest.fixture
def secrets_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The matrix's secrets file (the run's tokens land there for its final scan too), or this test's own."""
    if os.environ.get(SECRETS_FILE_ENV):
        return Path(os.environ[SECRETS_FILE_ENV])
    path = tmp_path / "secrets.tsv"
    monkeypatch.setenv(SECRETS_FILE_ENV, str(path))
    return path


def test_saml_grant_run_at_debug_prints_no_secret(
    run_dag: Callable[..., Any], secrets_file: Path, tmp_path: Path
) -> None:
    own = tmp_path / "output"
    assertion = f"saml-assertion-{secrets.token_urlsafe(24)}"
    with GenesysCloudEmulator(users=40, seed=3, client_secret=f"client-secret-{secrets.token_urlsafe(16)}") as emu:
        connection = emu.connection_dict(grant_type="saml2_bearer", saml_assertion=assertion, org_name="acme")
        result = run_dag("genesys_users_permissions_extract", connection=connection,
                         conf={"base": str(tmp_path / "out")}, env=DEBUG, artifacts=own, own_process=True)
        issued = emu.stats.tokens_issued
    save_run_output("debug_saml_run", list(map(str, result.args)), result)  # for the matrix's whole-run scan

    recorded = load_secrets(secrets_file)
    tokens = [value for value, kinds in recorded.items() if "access_token" in kinds]
    assert issued >= 1
    assert len(tokens) >= issued  # the scan knows every token this run used
    assert {emu.client_secret, assertion} <= recorded.keys()
    assert "[debug" in result.stdout + result.stderr  # DEBUG really was on
    findings, files = scan([own], recorded)
    assert files == 3  # the command, stdout, stderr
    assert [f.describe() for f in findings if not f.upstream] == []


def test_a_raw_stderr_leak_fails_the_scan(
    run_dag: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Not in the matrix's secrets file: this run's leak must not fail the matrix's own scan.
    monkeypatch.delenv(SECRETS_FILE_ENV, raising=False)
    own = tmp_path / "output"
    secret = f"leaked-secret-{secrets.token_urlsafe(16)}"
    with GenesysCloudEmulator(users=5, client_secret=secret) as emu:
        run_dag("genesys_compat_leak", connection=emu.connection_dict(), artifacts=own,
                env={"AIRFLOW__CORE__DAGS_FOLDER": str(FIXTURE_DAGS)}, own_process=True)
    findings, _ = scan([own], {secret: {"client_secret"}})
    assert [(f.path.suffix, f.upstream) for f in findings] == [(".stderr", False)]
