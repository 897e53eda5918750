"""On a failure, the report of the deployment test shows the last lines each Airflow component logged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

DEPLOYMENT = pytest.StashKey[Any]()  # the test's tests.deployment.cluster.Deployment, set by its fixture


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.failed and DEPLOYMENT in item.stash:
        report.sections.append(("Airflow deployment logs", item.stash[DEPLOYMENT].log_tails()))
    return report
