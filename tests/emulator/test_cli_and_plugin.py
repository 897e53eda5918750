"""The command (subprocess, SIGTERM) and the pytest plugin as a user enables it."""

from __future__ import annotations

import inspect
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing.emulator import _parser
from airflow_provider_genesys.testing.options import shown_default

DOCS = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"


def test_command_prints_one_line_serves_and_stops_on_sigterm():
    command = [
        sys.executable, "-m", "airflow_provider_genesys.testing.emulator",
        "--host", "127.0.0.1", "--port", "0", "--users", "30",
        "--client-id", "cli", "--client-secret", "s3cret",
        "--path-prefix-api", "/gw", "--fault", "status:status=503,count=1",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        base = line.removeprefix("listening on ")
        token = requests.post(
            f"{base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("cli", "s3cret"),
            timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{base}/gw/api/v2/users", headers=headers, timeout=10).status_code == 503
        body = requests.get(f"{base}/gw/api/v2/users", headers=headers, timeout=10).json()
        assert body["total"] == GenesysCloudEmulator(users=30).org.user_count("active")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "explode"], "unknown fault kind 'explode'"),
        (["--users-query", "maybe"], "users_query must be one of allowed, forbidden; got 'maybe'"),
    ],
)
def test_command_rejects_bad_options_clearly(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_genesys.testing.emulator", *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr


def test_help_and_docs_list_every_option_with_the_same_default():
    """``--help`` shows each option's default, the context manager has the same defaults, and
    docs/emulator.md's options table says the same."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_genesys.testing.emulator", "--help"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    options = result.stdout.split("options:", 1)[1]
    # one entry per option: "--flag METAVAR  help text (default: X)", argparse's wrapping undone
    entries = {e.split()[0]: " ".join(e.split()) for e in ("\n" + options).split("\n  --")[1:]}
    actions = [a for a in _parser()._actions if a.dest != "help"]
    expected = {a.option_strings[0]: shown_default(a.default) for a in actions}
    assert set(entries) == {flag.removeprefix("--") for flag in expected}
    for flag, default in expected.items():
        entry = entries[flag.removeprefix("--")].replace("- ", "-")  # undo wrapping inside words
        assert entry.endswith(f"(default: {default})"), entry
    constructor = inspect.signature(GenesysCloudEmulator).parameters
    for action in actions:
        if action.dest in constructor:
            assert constructor[action.dest].default == action.default, action.dest
    rows = [line.split("|") for line in DOCS.read_text().splitlines() if line.startswith("| `--")]
    assert {cells[1].strip(" `").split()[0]: cells[3].strip(" `") for cells in rows} == expected


def test_connection_dict_points_at_the_emulator(emu):
    conn = emu.connection_dict(timeout=5)
    assert conn == {
        "conn_type": "genesys_cloud",
        "login": "emulator-client",
        "password": "emulator-secret",
        "extra": {
            "gateway_host": "127.0.0.1",
            "gateway_protocol": "http",
            "gateway_port": emu.port,
            "timeout": 5,
        },
    }
    assert emu.connection_uri().startswith("genesys-cloud://emulator-client:emulator-secret@?__extra__=")


def test_pytest_plugin_fixture_marker_and_env(tmp_path):
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["airflow_provider_genesys.testing.pytest_plugin"]\n'
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import json, os
            import pytest

            @pytest.mark.genesys_emulator(users=12, rate_limit=5)
            def test_marker(genesys_emulator):
                conn = json.loads(os.environ["AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"])
                assert conn["extra"]["gateway_port"] == genesys_emulator.port
                assert genesys_emulator.org.user_count("any") == 12
                assert genesys_emulator.settings.rate_limit == 5

            @pytest.mark.parametrize("genesys_emulator", [{"users": 3}], indirect=True)
            def test_indirect(genesys_emulator, genesys_emulator_factory):
                other = genesys_emulator_factory(users=4)
                assert genesys_emulator.org.user_count("any") == 3
                assert other.port != genesys_emulator.port

            def test_session(genesys_emulator_session):
                assert genesys_emulator_session.org.user_count("any") == 200
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_no_airflow_import():
    code = (
        "import json, sys\n"
        "import airflow_provider_genesys.testing.emulator\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(result.stdout) == []
