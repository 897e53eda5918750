"""GenesysAccessVerifySensor: wait until every change apply made shows in Genesys' reads.

Genesys documents that permission changes can take minutes to show. Apply records each write's outcome in
the ledger next to the plan; this sensor re-reads the org in bulk (the planner's own listings, ``read_org``)
on each poke until every change the ledger says was made (``done``, ``confirmed``, ``absent``) is visible,
or its timeout passes: then it fails listing the changes that are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseSensorOperator

from airflow_provider_genesys._compat import AirflowFailException, AirflowSensorTimeout
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.errors import GenesysAccessError, listing
from airflow_provider_genesys.access.plan import loads
from airflow_provider_genesys.access.registry import relation as relation_named
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook, api_errors_as_failures
from airflow_provider_genesys.operators.access import object_path, read_plan_text, read_state


class GenesysAccessVerifySensor(BaseSensorOperator):
    """
    Wait until every change the apply task made to ``plan`` is visible in Genesys' reads.

    :param plan: the plan's path or URL (templated), the one given to the apply task.
    :param plan_conn_id: the connection of the plan's storage.
    :param ledger_path: the apply task's ``ledger_path``, if it set one.
    :param timeout: seconds to wait in all (default 900); then the task fails naming what is not visible.
    """

    template_fields: Sequence[str] = ("plan", "ledger_path")

    def __init__(self, *, plan: str, plan_conn_id: str | None = None, ledger_path: str | None = None,
                 genesys_conn_id: str = GenesysCloudHook.default_conn_name, timeout: float = 900,
                 max_workers: int = 4, **kwargs: Any) -> None:
        kwargs.setdefault("poke_interval", 60)
        super().__init__(timeout=timeout, **kwargs)
        self.plan, self.plan_conn_id, self.ledger_path = plan, plan_conn_id, ledger_path
        self.genesys_conn_id = genesys_conn_id
        self.max_workers = max_workers
        self.missing: list[str] = []

    @cached_property
    def hook(self) -> GenesysCloudHook:
        return GenesysCloudHook(genesys_conn_id=self.genesys_conn_id)

    def poke(self, context: Any) -> bool:
        plan_path = object_path(self.plan, self.plan_conn_id, "plan")
        text = read_plan_text(plan_path)
        state = read_state(plan_path, self.ledger_path)
        if state is None:
            raise AirflowFailException(
                f"No apply ledger for the plan {plan_path}: run the apply task on this plan first (or give "
                "ledger_path= as the apply task did)"
            )
        with self.hook as hook, api_errors_as_failures():
            try:
                plan = loads(text, org_id=hook.get_organization()["id"])
            except GenesysAccessError as err:
                raise AirflowFailException(str(err)) from None
            made = [i for i in range(len(plan.changes)) if state.settled(i)
                    and plan.changes[i].get("relation", plan.relation) == plan.relation]
            if not made:
                self.log.info("The ledger records no change made to the plan's %s: nothing to verify", plan.relation)
                return True
            self.log.info("Re-reading the org's %s state to see %d change(s) apply made", plan.relation, len(made))
            current = read_org(hook.client, plan.relation, max_workers=self.max_workers)[1]
        spec = relation_named(plan.relation)
        self.missing = []
        for index in made:
            change = plan.changes[index]
            if not spec.visible(change, current.held.get(change["subject"], set())):
                self.missing.append(spec.describe(change))
        self.log.info("%d of %d applied changes visible%s", len(made) - len(self.missing), len(made),
                      f"; not yet: {'; '.join(self.missing[:5])}" + (" ..." if len(self.missing) > 5 else "")
                      if self.missing else "")
        return not self.missing

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except AirflowSensorTimeout as err:
            raise AirflowSensorTimeout(
                f"{err} {len(self.missing)} applied change(s) are still not visible in Genesys:\n"
                + listing(self.missing)
            ) from None


__all__ = ["GenesysAccessVerifySensor"]
