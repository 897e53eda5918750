"""Keep every DAG run's whole output where the secret scan reads it, and name the secrets the runs were given.

The compatibility matrix (``python3 dev.py compat``) sets ``GENESYS_TEST_ARTIFACTS`` to a folder and
``GENESYS_EMULATOR_SECRETS_FILE`` to a file outside it; unset (a plain pytest run) both helpers do nothing.
The emulator itself records its client secret and every token it issues in that file
(``airflow_provider_genesys.testing.tokens.record_secret``); what a test puts into a connection on top of
that (a SAML assertion, say) is recorded here, as ``connection``: Airflow's own connection masking sends
those values through its DEBUG log under ``airflow dags test`` (see tests/compat/scan.py).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from airflow_provider_genesys.settings import SECRET_EXTRAS
from airflow_provider_genesys.testing.tokens import record_secret

ARTIFACTS_ENV = "GENESYS_TEST_ARTIFACTS"


def artifacts_dir() -> Path | None:
    """The folder the matrix scans, or ``None`` outside the matrix."""
    value = os.environ.get(ARTIFACTS_ENV)
    return Path(value) if value else None


def save_run_output(
    label: str, cmd: list[str], result: subprocess.CompletedProcess[str], folder: Path | None = None
) -> Path | None:
    """Write one subprocess's command, stdout and stderr to ``folder`` (default: the matrix's artifacts)."""
    folder = folder or artifacts_dir()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:150]
    number = 1 + sum(1 for _ in folder.glob(f"{stem}.*.cmd"))
    base = folder / f"{stem}.{number}"
    Path(f"{base}.cmd").write_text(" ".join(cmd) + f"\nexit status {result.returncode}\n")
    Path(f"{base}.stdout").write_text(result.stdout or "")
    Path(f"{base}.stderr").write_text(result.stderr or "")
    return base


def record_connection_secrets(connection: dict) -> list[str]:
    """Record the secrets of a connection's JSON form (password, secret extras); returns them."""
    extra = connection.get("extra") or {}
    values = [connection.get("password")] + [extra.get(key) for key in sorted(SECRET_EXTRAS)]
    values = [value for value in values if isinstance(value, str) and value]
    for value in values:
        record_secret("connection", value)
    return values
