"""A DAG that leaks on purpose: it proves the secret scan reads the output a DAG run really produces.

Its task fetches a token through the provider's hook (so the masker knows the client secret and the token),
then writes both to the process's raw stderr file descriptor: ``os.write`` bypasses logging, so no secrets
masker can catch it. ``tests/e2e/test_no_secret_in_output.py`` runs it and expects the scan to fail.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

from airflow_provider_genesys.hooks.genesys import GenesysCloudHook


@dag(dag_id="genesys_compat_leak", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False)
def genesys_compat_leak() -> None:
    @task
    def leak() -> None:
        hook = GenesysCloudHook()
        hook.get_token_info()  # a real token, registered with the masker like every other
        secret = hook.get_connection(hook.genesys_conn_id).password or ""
        os.write(2, f"deliberate leak: {secret}\n".encode())

    leak()


genesys_compat_leak()
