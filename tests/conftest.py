"""Suite-wide Airflow environment: a private AIRFLOW_HOME with a SQLite database, set before Airflow loads.

Airflow reads its configuration at import time, so this runs when pytest collects the suite, before any
test module imports ``airflow``. Nothing here touches the network or the user's own Airflow home.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(os.environ.get("GENESYS_TEST_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="genesys-airflow-"))

os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags_examples")
os.environ.pop("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", None)

# Our own tests use the emulator fixtures exactly as a user's suite would.
pytest_plugins = ["airflow_provider_genesys.testing.pytest_plugin", "tests.servers"]
