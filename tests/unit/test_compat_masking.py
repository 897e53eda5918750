"""``mask_secret_quietly``: masked like ``mask_secret``, but never handed to Airflow's in-process runner's DEBUG log."""

from __future__ import annotations

import pytest
from airflow.sdk.execution_time import task_runner
from airflow.sdk.execution_time.comms import MaskSecret
from airflow.sdk.log import mask_secret

from airflow_provider_genesys._compat import mask_secret_quietly


class InProcessSupervisorComms:  # the name of `airflow dags test`'s comms, which log every request at DEBUG
    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, msg: object) -> None:
        self.sent.append(msg)


class SupervisorComms(InProcessSupervisorComms):  # stands for a real supervisor's comms
    pass


def _redacted(text: str) -> str:
    from airflow.sdk._shared.secrets_masker import redact

    return str(redact(text))


def test_in_process_runner_gets_no_message_but_the_value_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    comms = InProcessSupervisorComms()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    mask_secret_quietly("quiet-secret-8c1f")
    assert comms.sent == []
    assert _redacted("token quiet-secret-8c1f here") == "token *** here"


def test_a_real_supervisor_is_told_as_mask_secret_tells_it(monkeypatch: pytest.MonkeyPatch) -> None:
    comms = SupervisorComms()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    mask_secret_quietly("told-secret-51d0")
    mask_secret("told-secret-51d0")  # what Airflow's own call sends, for comparison
    assert len(comms.sent) == 2
    assert all(isinstance(msg, MaskSecret) and msg.value == "told-secret-51d0" for msg in comms.sent)
    assert _redacted("told-secret-51d0") == "***"
