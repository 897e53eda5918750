#!/usr/bin/env python3
"""One entry point for a fresh clone: ``python3 dev.py demo``, ``access-demo``, ``skills-demo``, ``review-demo``,
``test`` and ``compat``.

Each creates what it needs on its own (a ``.venv`` with the package and its test extras, a project-local
Airflow home with a SQLite database), so a new machine needs nothing but Python 3.10+ and the package
registries. The standard library only: this runs before any dependency is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".airflow-provider-genesys-installed"
DEMO_HOME = ROOT / ".airflow"
DEMO_DAG = "genesys_users_permissions_extract"
DEMO_OUTPUT = ROOT / "demo_output"
ACCESS_DAG = "genesys_access_sync"
SKILLS_DAG = "genesys_skills_sync"
REVIEW_DAG = "genesys_access_review"
# The browser test drives Debian's Chromium (Playwright cannot download its own browser on these machines).
CHROMIUM = Path("/usr/bin/chromium")


def _say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def _install_fingerprint() -> str:
    """Reinstall only when the declared dependencies change, so repeated runs start in seconds.

    ``bytecode`` marks venvs installed with compiled bytecode (older ones are reinstalled once to get it)."""
    return hashlib.sha256(b"bytecode\n" + (ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _installed(extras: str) -> bool:
    """Whether ``extras`` (or ``dev``, which includes every extra) is installed for this pyproject.toml."""
    if not STAMP.exists():
        return False
    fingerprint, _, installed = STAMP.read_text().partition(" ")
    return fingerprint == _install_fingerprint() and installed in (extras, "dev")


def ensure_mysql_headers() -> None:
    """Airflow's mysql provider requires ``mysqlclient`` on Linux, which PyPI ships as source only: it compiles
    against the MySQL/MariaDB client headers. Install them (Debian's ``libmariadb-dev``) when we are root with
    apt-get, as on CI and the project's machines; otherwise say what to install instead of failing deep in pip.
    """
    if not sys.platform.startswith("linux") or shutil.which("mariadb_config") or shutil.which("mysql_config"):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        _say("installing libmariadb-dev (mysqlclient, needed by Airflow's mysql provider, compiles against it)")
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "libmariadb-dev", "pkg-config"]
        if subprocess.run(install, env=apt_env, check=False, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=apt_env, check=False, stdout=subprocess.DEVNULL)
            subprocess.run(install, env=apt_env, check=True, stdout=subprocess.DEVNULL)
        return
    _say("the MySQL/MariaDB client headers are missing, so mysqlclient (required by Airflow's mysql provider) "
         "cannot compile: install libmariadb-dev and pkg-config (Debian/Ubuntu), mariadb-connector-c-devel "
         "(Fedora) or mysql-client and pkg-config (Homebrew), then run this again")
    sys.exit(1)


def ensure_venv(extras: str = "dev") -> None:
    """Create ``.venv`` and install the package with ``extras`` (uv when it installs, else pip).

    The demo needs only ``examples`` (wheels: no compiler, no system packages); the tests need ``dev``, whose
    mysql provider compiles mysqlclient against the MySQL/MariaDB client headers.
    """
    if not PYTHON.exists():
        _say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    if _installed(extras):
        return
    what = "the test tools" if extras == "dev" else "the example DAGs' SQL providers"
    _say(f"installing airflow-provider-genesys with Airflow 3 and {what} (first run: about a minute)")
    if extras == "dev":
        ensure_mysql_headers()
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "uv"], check=True)
    # Compiled bytecode: uv leaves it to the first import, which never writes it under PYTHONDONTWRITEBYTECODE,
    # and then every test run (and each subprocess) compiles Airflow again: ~3-5 s of CPU a process.
    uv = [str(PYTHON), "-m", "uv", "pip", "install", "--python", str(PYTHON), "-q", "--compile-bytecode"]
    if subprocess.run([*uv, "-e", f"{ROOT}[{extras}]"], check=False).returncode != 0:
        _say("uv could not install; falling back to pip")
        subprocess.run([*pip, "install", "-e", f"{ROOT}[{extras}]"], check=True)
    STAMP.write_text(f"{_install_fingerprint()} {extras}")


def airflow_env(home: Path) -> dict[str, str]:
    """Environment for a self-contained Airflow: its own home, SQLite database and the example DAGs."""
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags_examples"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def ensure_chromium() -> None:
    """Install Debian's Chromium for the browser test where it is missing and we may (root with apt-get).

    Elsewhere (a developer's laptop) the browser test skips with the reason, except under ``CI=true``.
    """
    if CHROMIUM.exists() or not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    _say("installing Debian's chromium for the browser test (apt-get, once per machine)")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        if subprocess.run(command, env=apt_env, check=False, stdout=subprocess.DEVNULL).returncode != 0:
            _say(f"could not install chromium ({' '.join(command)} failed); the browser test will say so")
            return


# ``--quick``: what needs no Airflow process, browser or database server and no volume run (see README).
# Two workers (pytest-xdist): the quick tests are CPU in one process otherwise (the emulator serves in the
# test's process); each worker has its own Airflow home and emulators on their own ports.
QUICK_TESTS = ["tests/unit", "tests/emulator", "tests/faults", "-m", "not slow", "-n", "2"]
# The whole suite on two workers too: the deployment and browser tests (``xdist_group`` in tests/conftest.py)
# one after another on one worker, the rest shared; each worker starts its own Airflow for the e2e DAG runs.
WORKERS = ["-n", "2", "--dist", "loadgroup"]


def run_tests(pytest_args: list[str], quick: bool = False) -> int:
    ensure_venv()
    if quick:
        pytest_args = [*QUICK_TESTS, *pytest_args]
    else:
        ensure_chromium()
    workers = [] if quick or pytest_args else WORKERS
    _say("ruff check")
    lint = subprocess.run([str(PYTHON), "-m", "ruff", "check", str(ROOT)], cwd=ROOT, check=False)
    if lint.returncode != 0:
        return lint.returncode
    _say("pytest")
    result = subprocess.run([str(PYTHON), "-m", "pytest", *workers, *pytest_args], cwd=ROOT, check=False).returncode
    if result != 0 or pytest_args:  # the whole suite (no arguments, as CI runs it) includes the matrix
        return result
    return run_compat_matrix()


# ---- the Airflow compatibility matrix --------------------------------------------------------------------
# Each declared minor line's latest release and its upload date (the package registry's), resolved as of two
# weeks after it (``--exclude-newer``): the dependencies users of that release had. See docs/decisions.md.
COMPAT_LINES = (("3.1.8", "2026-03-11"), ("3.2.2", "2026-05-29"), ("3.3.2", "2026-09-17"))
COMPAT_RESOLVE_DAYS = 14
# The tests that exercise Airflow: every example DAG end to end (but the slow week catch-up), the operators,
# sensors, trigger, hook and the connection form's provider info. Kept here, in one place.
COMPAT_TESTS = (
    "tests/e2e",
    "tests/compat",
    "tests/unit/access/test_apply_emulator.py",
    "tests/unit/access/test_apply_once.py",
    "tests/unit/access/test_plan_operator.py",
    "tests/unit/review/test_operators.py",
    "tests/unit/test_api_operator.py",
    "tests/unit/test_audit_operator.py",
    "tests/unit/test_availability_sensor.py",
    "tests/unit/test_compat_masking.py",
    "tests/unit/test_connection_form_fields.py",
    "tests/unit/test_extract_operator.py",
    "tests/unit/test_extract_operator_intervals.py",
    "tests/unit/test_form_saved_connection.py",
    "tests/unit/test_hook.py",
    "tests/unit/test_lineage.py",
    "tests/unit/test_provider_info.py",
    "tests/unit/test_sensors.py",
    "tests/unit/test_triggers.py",
)
COMPAT_MARKERS = "not slow"
# What those tests import besides the package's own dependencies (from its ``examples`` extra).
COMPAT_REQUIREMENTS = ("pytest>=8", "pytest-xdist>=3.5", "requests-mock>=1.11",
                       "apache-airflow-providers-openlineage>=2.0")
# The deployment test of the oldest line (a Celery deployment with a triggerer, where a human-in-the-loop task
# defers): its own venv, the line's plus these at their newest. The celery provider of the line's time (3.17.1
# with Airflow 3.1.8) hangs its prefork pool at start (each child blocks in kombu's after-fork cleanup of the
# Redis connection), so no task ever runs; a user deploying 3.1.8 today installs the current provider.
DEPLOYMENT_REQUIREMENTS = ("apache-airflow-providers-celery>=3.26", "celery<5.7", "redis>=5", "psycopg[binary]>=3.1")
DEPLOYMENT_TESTS = ("tests/deployment/test_access_review_deployment.py",)
# Outside the clone: CI clones into a new folder each time, the venvs stay. GENESYS_COMPAT_CACHE overrides.
COMPAT_CACHE = Path(os.environ.get("GENESYS_COMPAT_CACHE") or Path.home() / ".cache" / "airflow-provider-genesys"
                    / "compat")
COMPAT_ARTIFACTS = ROOT / "test-artifacts" / "compat"


def _compat_inputs(version: str, released: str, extra: tuple[str, ...] = ()) -> str:
    """Everything a line's venv is resolved from; its hash names the cached venv."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r"^dependencies = \[.*?^\]", pyproject, re.S | re.M)
    examples = re.search(r"^examples = \[.*?^\]", pyproject, re.S | re.M)
    return json.dumps({
        "airflow": version, "released": released, "days": COMPAT_RESOLVE_DAYS, "extra": COMPAT_REQUIREMENTS,
        "declared": declared.group(0) if declared else pyproject, "examples": examples.group(0) if examples else "",
        "python": sys.version_info[:2], **({"deployment": extra} if extra else {}),
    }, sort_keys=True)


def _compat_venv(version: str, released: str, deployment: bool = False) -> tuple[Path, bool]:
    """The cached venv of one Airflow release (built once per set of inputs); whether it was built now.

    ``deployment``: a venv of its own for the deployment test, the line's venv plus ``DEPLOYMENT_REQUIREMENTS``
    at their newest (the Celery machinery is the test's, not what is under test; see DEPLOYMENT_REQUIREMENTS).
    """
    extra = DEPLOYMENT_REQUIREMENTS if deployment else ()
    key = hashlib.sha256(_compat_inputs(version, released, extra).encode()).hexdigest()[:12]
    name = f"{version}-deployment" if deployment else version
    home = COMPAT_CACHE / f"{name}-{key}"
    python = home / "bin" / "python"
    if (home / ".complete").exists():
        return python, False
    for stale in COMPAT_CACHE.glob(f"{name}-*"):  # older inputs of the same release
        if deployment or not stale.name.startswith(f"{version}-deployment"):
            shutil.rmtree(stale, ignore_errors=True)
    until = f"{date.fromisoformat(released) + timedelta(days=COMPAT_RESOLVE_DAYS)}T00:00:00Z"
    _say(f"Airflow {version}: building its {'deployment ' if deployment else ''}venv in {home} (dependencies as of "
         f"{until}; once per inputs)")
    uv = [str(PYTHON), "-m", "uv"]
    subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(home)], check=True)
    subprocess.run([*uv, "pip", "install", "-q", "--python", str(python), "--exclude-newer", until,
                    f"apache-airflow=={version}", f"{ROOT}[examples]", *COMPAT_REQUIREMENTS], check=True)
    if extra:
        subprocess.run([*uv, "pip", "install", "-q", "--python", str(python), f"apache-airflow=={version}", *extra],
                       check=True)
    (home / ".complete").write_text(_compat_inputs(version, released, extra))
    return python, True


def _compat_line(version: str, released: str, deployment: bool = False) -> dict[str, object]:
    """Run the compat tests of one Airflow release in its venv (``deployment``: the deployment test in the
    deployment venv), then scan everything they printed."""
    started = time.monotonic()
    python, built = _compat_venv(version, released, deployment)
    tests_run, markers = (DEPLOYMENT_TESTS, "deployment") if deployment else (COMPAT_TESTS, COMPAT_MARKERS)
    installed = time.monotonic()
    # This clone's code, not the cached copy's: the package alone, its dependencies are the venv's.
    subprocess.run([str(PYTHON), "-m", "uv", "pip", "install", "-q", "--python", str(python), "--no-deps",
                    "--reinstall-package", "airflow-provider-genesys", "-e", str(ROOT)], check=True)
    run = COMPAT_ARTIFACTS / (f"{version}-deployment" if deployment else version)
    shutil.rmtree(run, ignore_errors=True)
    output, home = run / "output", run / "output" / "airflow-home"
    home.mkdir(parents=True)
    secrets = run / "secrets.tsv"  # outside what is scanned
    env = {**os.environ, "GENESYS_TEST_AIRFLOW_HOME": str(home), "GENESYS_TEST_ARTIFACTS": str(output / "runs"),
           "GENESYS_EMULATOR_SECRETS_FILE": str(secrets)}
    env.pop("AIRFLOW_HOME", None)
    _say(f"Airflow {version}: pytest -m '{markers}' on {len(tests_run)} paths (output: {output})")
    with open(output / "pytest.log", "w") as log:
        tests = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", *WORKERS,
                                "-m", markers, *tests_run], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, check=False)
    lines = (output / "pytest.log").read_text(errors="replace").splitlines()
    summary = next((line.strip("= ") for line in reversed(lines) if " in " in line and "=" in line), "no summary")
    if tests.returncode != 0:
        print("\n".join(lines[-60:]))
    scan = subprocess.run([str(python), "-m", "tests.compat.scan", "--secrets", str(secrets), str(output)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    print(scan.stdout, end="")
    verdict = scan.stdout.strip().splitlines()[-1] if scan.stdout.strip() else scan.stderr.strip()[-500:]
    return {"version": f"{version} (deployment)" if deployment else version, "tests_ok": tests.returncode == 0,
            "tests": summary,
            "scan_ok": scan.returncode == 0, "scan": verdict.removeprefix("secret scan: "), "built": built,
            "install_s": installed - started, "total_s": time.monotonic() - started}


def run_compat_matrix(deployment_only: bool = False) -> int:
    """Every declared Airflow line: its tests in its cached venv and a scan of all their output for secrets; then
    the deployment test on the oldest line (``deployment_only``: that alone)."""
    ensure_venv()
    started = time.monotonic()
    lines = [] if deployment_only else [_compat_line(version, released) for version, released in COMPAT_LINES]
    results = [*lines, _compat_line(*COMPAT_LINES[0], deployment=True)]
    _say("Airflow compatibility matrix:")
    for r in results:
        state = "passed" if r["tests_ok"] and r["scan_ok"] else "FAILED"
        venv_note = f"venv built in {r['install_s']:.0f} s" if r["built"] else "cached venv"
        print(f"  Airflow {r['version']}: {state} -- tests: {r['tests']}; secrets: {r['scan']}; "
              f"{venv_note}; {r['total_s']:.0f} s")
    failed = [r["version"] for r in results if not (r["tests_ok"] and r["scan_ok"])]
    _say(f"matrix {'FAILED on ' + ', '.join(map(str, failed)) if failed else 'passed'} "
         f"in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


@contextmanager
def emulator_connection(env: dict[str, str]) -> Iterator[str | None]:
    """Run the bundled emulator while the block runs; ``env`` gets the Airflow connection to it.

    Yields its base URL, or None (after saying why) when it did not start.
    """
    emulator = subprocess.Popen(
        [str(PYTHON), "-m", "airflow_provider_genesys.testing.emulator", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert emulator.stdout is not None
        line = emulator.stdout.readline().strip()
        if not line.startswith("listening on "):
            _say(f"the emulator did not start: {line!r}")
            yield None
            return
        base_url = line.removeprefix("listening on ")
        _say(f"Genesys Cloud emulator {base_url}")
        host, port = base_url.removeprefix("http://").rsplit(":", 1)
        env["AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"] = json.dumps({
            "conn_type": "genesys_cloud",
            "login": "emulator-client",
            "password": "emulator-secret",
            "extra": {"gateway_host": host, "gateway_protocol": "http", "gateway_port": int(port)},
        })
        yield base_url
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


def migrated_airflow() -> dict[str, str]:
    """The demo's Airflow environment, its metadata database migrated."""
    env = airflow_env(DEMO_HOME)
    DEMO_HOME.mkdir(exist_ok=True)
    _say(f"migrating the Airflow metadata database in {DEMO_HOME}")
    subprocess.run([str(PYTHON), "-m", "airflow", "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return env


def run_demo() -> int:
    """Run the users-and-permissions extract DAG on a real Airflow against the bundled emulator."""
    ensure_venv("examples")
    env = migrated_airflow()
    with emulator_connection(env) as base_url:
        if base_url is None:
            return 1
        if DEMO_OUTPUT.exists():
            shutil.rmtree(DEMO_OUTPUT)
        _say(f"airflow dags test {DEMO_DAG}")
        result = subprocess.run([str(PYTHON), "-m", "airflow", "dags", "test", DEMO_DAG], env=env, check=False)
    if result.returncode != 0:
        return result.returncode
    _say("done. Extracted files and the SQLite database:")
    for path in sorted(DEMO_OUTPUT.rglob("*")):
        if path.is_file():
            print(f"  {path}  ({path.stat().st_size:,} bytes)")
    database = DEMO_OUTPUT / "genesys.db"
    if database.exists():
        _say(f"rows in {database.name}: {_table_counts(database)}")
        if shutil.which("sqlite3"):
            _say(f"try: sqlite3 {database} 'SELECT * FROM access LIMIT 5'")  # noqa: S608
    return 0


def run_access_demo(answer: str) -> int:
    """The access DAG (plan -> approval -> apply -> verify) on a real Airflow against the bundled emulator."""
    folder = DEMO_OUTPUT / "access"
    return run_approval_demo(ACCESS_DAG, folder, answer, f"the desired table {folder / 'desired.csv'} (today's "
                             "Supervisors, 2 fewer, 2 moved, 5 more)", ["--out", str(folder / "desired.csv")])


def run_skills_demo(answer: str) -> int:
    """The skills and languages DAG (two plans -> one approval -> two applies -> two verifies), the same way."""
    folder = DEMO_OUTPUT / "skills"
    return run_approval_demo(SKILLS_DAG, folder, answer, f"the WFM tables {folder / 'skills.csv'} and languages.csv "
                             "(every agent's skills and languages; 12 agents' skills and 6 agents' languages added, "
                             "removed or changed in proficiency)",
                             ["--skills", str(folder / "skills.csv"), "--languages", str(folder / "languages.csv")])


def run_approval_demo(dag_id: str, folder: Path, answer: str, tables: str, scenario: list[str]) -> int:
    """``dag_id`` on a real Airflow against the bundled emulator, its tables written into ``folder`` (emptied
    first) from the emulator's org by ``tests.access_scenario`` (``scenario``: its arguments; ``tables``: what
    they are, for a person).

    ``airflow dags test`` waits for an approval's answer without giving one; a second process answers it
    through Airflow's REST API (the api-server's app, in-process, on the same metadata database).
    """
    ensure_venv("examples")
    env = migrated_airflow()
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"  # GET /auth/token without a password
    with emulator_connection(env) as base_url:
        if base_url is None:
            return 1
        if folder.exists():
            shutil.rmtree(folder)
        _say(f"writing {tables} from the emulator's org")
        subprocess.run([str(PYTHON), "-m", "tests.access_scenario", *scenario], env=env, check=True, cwd=ROOT)
        result = _answered_run(env, [dag_id], ["tests.approvals", "--dag-id", dag_id, "--answer", answer])
    if result != 0:
        return result
    _say("done. The tables, the plans, their ledgers and the report of every write:")
    _list_files(folder)
    return 0


def _answered_run(env: dict[str, str], dags_test: list[str], answerer: list[str]) -> int:
    """``airflow dags test`` with ``dags_test`` (the DAG id, options), answered from a second process, the module
    and arguments ``answerer``; the run's exit code. The answerer is stopped if the run ends before it asked."""
    _say(f"airflow dags test {dags_test[0]}")
    run = subprocess.Popen([str(PYTHON), "-m", "airflow", "dags", "test", *dags_test], env=env)
    answering = subprocess.Popen([str(PYTHON), "-m", *answerer], env=env, cwd=ROOT)
    result = run.wait()
    if answering.poll() is None:  # the run ended before it asked (a failed plan or open)
        answering.terminate()
    answering.wait(timeout=30)
    return result


def _list_files(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            print(f"  {path}  ({path.stat().st_size:,} bytes)")


def run_review_demo() -> int:
    """The access review DAG (open -> decisions -> close -> plan -> apply -> verify -> evidence) on a real Airflow
    against the bundled emulator, three reviewers answering through Airflow's REST API as themselves.

    A reviewer table (``user``, ``reviewer``) splits today's Supervisors between three reviewers; a second
    process logs in as each (SimpleAuthManager users with passwords: each may answer only their own task) and
    answers: keep all, revoke two items with a justification, no answer (the default keep applies).
    """
    ensure_venv("examples")
    env = migrated_airflow()
    review = DEMO_OUTPUT / "review"
    with emulator_connection(env) as base_url:
        if base_url is None:
            return 1
        if review.exists():
            shutil.rmtree(review)
        table = review / "reviewers.csv"
        _say(f"writing the reviewer table {table} from the emulator's org (today's Supervisors, three reviewers)")
        subprocess.run([str(PYTHON), "-m", "tests.reviews", "table", "--out", str(table)], env=env, check=True,
                       cwd=ROOT)
        conf = {"review_dir": str(review), "reviewers": str(table)}
        result = _answered_run(env, [REVIEW_DAG, "--conf", json.dumps(conf)],
                               ["tests.reviews", "answer", "--dag-id", REVIEW_DAG])
    if result != 0:
        return result
    _say("done. The review, its evidence (NDJSON, CSV), summary, plan, ledger and report:")
    _list_files(review)
    for summary in review.glob("*.summary.md"):
        print("\n" + summary.read_text())
    return 0


def _table_counts(database: Path) -> str:
    """Row counts of the demo database's tables, so the user sees at once that something landed."""
    with closing(sqlite3.connect(database)) as db:
        names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        counts = {name: db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}  # noqa: S608
    return ", ".join(f"{name} {count:,}" for name, count in counts.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the users-and-permissions extract DAG against the bundled emulator")
    access = sub.add_parser("access-demo", help="run the access sync DAG (plan, approval, apply, verify) against "
                            "the bundled emulator")
    skills = sub.add_parser("skills-demo", help="run the skills and languages sync DAG (two plans, one approval, "
                            "apply, verify) against the bundled emulator")
    for demo in (access, skills):
        demo.add_argument("--answer", choices=("ask", "approve", "reject"), default="ask",
                          help="the approval's answer (ask: show the plans and read y/N; approve without a terminal)")
    sub.add_parser("review-demo", help="run the access review DAG (open, a decision per reviewer, close, plan, apply, "
                   "evidence) against the bundled emulator, three reviewers answering through the REST API")
    test = sub.add_parser("test", help="ruff and the whole test suite (then, without arguments, the compat "
                                       "matrix); any further arguments go to pytest")
    test.add_argument("--quick", action="store_true",
                      help="ruff and the fast tests only (no Airflow process, browser, database or volume run)")
    compat = sub.add_parser("compat", help="the Airflow compatibility matrix: each declared minor line's tests and a "
                                           "secret scan of their output, in venvs cached outside the clone, then the "
                                           "deployment test on the oldest line")
    compat.add_argument("--deployment", action="store_true",
                        help="only the deployment test on the oldest line (a Celery deployment with a triggerer)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        if rest:
            parser.error(f"demo takes no arguments: {' '.join(rest)}")
        return run_demo()
    if args.command == "access-demo":
        if rest:
            parser.error(f"access-demo takes no further arguments: {' '.join(rest)}")
        return run_access_demo(args.answer)
    if args.command == "skills-demo":
        if rest:
            parser.error(f"skills-demo takes no further arguments: {' '.join(rest)}")
        return run_skills_demo(args.answer)
    if args.command == "review-demo":
        if rest:
            parser.error(f"review-demo takes no arguments: {' '.join(rest)}")
        return run_review_demo()
    if args.command == "compat":
        if rest:
            parser.error(f"compat takes no further arguments: {' '.join(rest)}")
        return run_compat_matrix(deployment_only=args.deployment)
    return run_tests(rest, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
