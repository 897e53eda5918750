"""What a user gets from PyPI: the sdist and wheel build, pass ``twine check``, and the wheel alone, installed
into a fresh virtual environment with Airflow, registers the provider and brings the example DAGs.

The fresh environment is installed by uv from its cache (``--offline``: the suite reaches no network; the
cache holds every package since ``python3 dev.py test`` installed them), so it takes seconds. About 30-40 s
in all, most of it ``airflow providers list`` starting Airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from airflow_provider_genesys import __version__
from tests.conftest import PROJECT_ROOT

UV = [sys.executable, "-m", "uv"]
# What every wheel must carry besides the code (a package a user can install from PyPI).
REQUIRED_CLASSIFIERS = ("Framework :: Apache Airflow", "Framework :: Apache Airflow :: Provider", "Typing :: Typed")


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600, **kwargs)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run([*UV, "build", "--offline", "--out-dir", str(out), str(PROJECT_ROOT)])
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_sdist_and_wheel_pass_twine_check(dist: dict[str, Path]) -> None:
    result = run([sys.executable, "-m", "twine", "check", "--strict", str(dist["sdist"]), str(dist["wheel"])])
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_wheel_metadata_is_what_pypi_shows(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"airflow_provider_genesys-{__version__}.dist-info/METADATA").decode()
    for classifier in REQUIRED_CLASSIFIERS:
        assert f"Classifier: {classifier}\n" in metadata
    assert "License-Expression: Apache-2.0" in metadata
    assert f"airflow_provider_genesys-{__version__}.dist-info/licenses/LICENSE" in names
    assert "airflow_provider_genesys/py.typed" in names
    assert "Project-URL: Source, https://github.com/airflow-provider-genesys/airflow-provider-genesys" in metadata
    # PyPI's page: opens with pip install, and no relative link (they break on PyPI).
    description = metadata.split("\n\n", 1)[1]
    assert "pip install airflow-provider-genesys" in description
    assert "python3 dev.py" not in description
    assert "](docs/" not in description
    assert "](dags_examples/" not in description
    examples = sorted(p.name for p in (PROJECT_ROOT / "dags_examples").glob("*.py"))
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("airflow_provider_genesys/example_dags/"))
    assert shipped == examples


def test_the_wheel_alone_installs_with_airflow_and_registers_the_provider(
    dist: dict[str, Path], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    run([*UV, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    # The versions this suite runs with (all in uv's cache): resolved afresh, offline, uv would pick a newer
    # release of some dependency that no install on this machine ever downloaded.
    frozen = run([*UV, "pip", "freeze", "--python", sys.executable]).stdout.splitlines()
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("\n".join(line for line in frozen if "==" in line and not line.startswith(
        ("-e", "airflow-provider-genesys"))) + "\n")
    run([*UV, "pip", "install", "--quiet", "--offline", "--python", str(python), "--constraint", str(constraints),
         str(dist["wheel"])])

    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow-home"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    listed = run([str(venv / "bin" / "airflow"), "providers", "list"], env=env, cwd=tmp_path)
    (line,) = [row for row in listed.stdout.splitlines() if row.startswith("airflow-provider-genesys ")]
    assert __version__ in line
    where = run([str(python), "-c", "import airflow_provider_genesys as p; print(p.__file__)"], cwd=tmp_path)
    installed = Path(where.stdout.strip()).parent
    assert str(installed).startswith(str(venv)), "the provider must come from the wheel, not this checkout"
    assert (installed / "example_dags" / "genesys_users_permissions_extract.py").is_file()
