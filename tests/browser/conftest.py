"""Browser harness: a real Airflow api-server on loopback and Debian's Chromium driven by Playwright.

The api-server runs in its own ``AIRFLOW_HOME`` with its own SQLite database, the SimpleAuthManager with every
user an admin (no login page) and connection testing enabled, exactly as a user would start it. Chromium is
Debian's (``python3 dev.py test`` installs it when missing and it runs as root): Playwright cannot download
its own browser on these machines. Without Chromium or Playwright the tests skip with the reason, except
under ``CI=true``, where they fail.

On a failure the page's screenshot and HTML and the api-server's log are kept under
``test-artifacts/browser/<test>/`` (ignored by git); the failure report names the folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.conftest import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a headless Chromium that never reaches the network on its own (no updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"
SERVER_START_TIMEOUT = 90.0

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail under CI, where the set-up must have provided the browser."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser test must run; `python3 dev.py test` installs chromium as root)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium under Playwright, for one test module.

    Not session-wide: Playwright's sync API keeps an asyncio loop running in the main thread while it is
    open, and later tests that call ``asyncio.run`` (the trigger tests) would find it.
    """
    if not CHROMIUM.exists():
        _unavailable(
            f"{CHROMIUM} is missing: run `python3 dev.py test` as root (it apt-get installs chromium) or "
            "`sudo apt-get install chromium`"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: `python3 dev.py test` installs the test extra")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AirflowServer:
    """A running ``airflow api-server`` and the environment that reaches the same metadata database."""

    base_url: str
    env: dict[str, str]
    home: Path
    log: Path

    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run an ``airflow`` CLI command against this server's home and database."""
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.home,
        )

    def start_airflow(self, *args: str) -> subprocess.Popen[str]:
        """Start an ``airflow`` CLI command in the background (``communicate()`` collects its output)."""
        return subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=self.home,
        )

    def saved_extra(self, conn_id: str) -> str:
        """A connection's extra exactly as Airflow stored it (decrypted with this server's Fernet key)."""
        with closing(sqlite3.connect(self.home / "airflow.db")) as db:
            (encrypted,) = db.execute("SELECT extra FROM connection WHERE conn_id = ?", (conn_id,)).fetchone()
        return Fernet(self.env["AIRFLOW__CORE__FERNET_KEY"].encode()).decrypt(encrypted.encode()).decode()


def airflow_env(home: Path) -> dict[str, str]:
    """An Airflow of its own: home, SQLite database, DAGs folder; all users admins; connection test on."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
    )
    return env


def _wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"airflow api-server exited with {server.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling interval of a deadline-bound wait, not a wait for something to happen
    pytest.fail(f"airflow api-server not healthy after {SERVER_START_TIMEOUT:.0f} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    """``airflow db migrate`` then ``airflow api-server`` on a free loopback port; stopped after the module."""
    home = tmp_path_factory.mktemp("airflow-browser-home")
    (home / "dags").mkdir()
    env = airflow_env(home)
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert migrate.returncode == 0, f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}"
    port = free_port()
    log = home / "api-server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home, start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base_url, server, log)
        yield AirflowServer(base_url=base_url, env=env, home=home, log=log)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the server's own process group (its uvicorn workers)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page; its screenshot and HTML are kept if the test fails (see the hook below)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    folder = ARTIFACTS / item.name.replace("/", "_")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    page = item.funcargs.get("page")  # type: ignore[attr-defined]
    if page is not None and not page.is_closed():
        try:
            page.screenshot(path=str(folder / "page.png"), full_page=True)
            (folder / "page.html").write_text(page.content())
        except Exception as error:  # a dead page must not hide the test's own failure
            (folder / "page-error.txt").write_text(repr(error))
    server = item.funcargs.get("airflow_server")  # type: ignore[attr-defined]
    if server is not None and server.log.exists():
        shutil.copy(server.log, folder / "api-server.log")
    report.sections.append(("browser artefacts", f"screenshot, HTML and api-server log in {folder}"))
