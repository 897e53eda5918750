"""GenesysAccessPlanOperator: the Airflow face of the access engine's planning (``access/``).

It opens the desired table (an fsspec URL through ``ObjectStoragePath``, a SQL query through any Airflow SQL
connection, or rows from XCom), reads the org's current state through the hook with the extract's bulk
listings, plans (``access.planner.plan_access``), writes the plan to ``plan_path`` and returns
``{"plan": <path>, "summary": <Markdown>}``. It never writes to Genesys. Bad input, unknown names and
guardrails fail the task with ``AirflowFailException`` saying what to fix. Apply and verify: not built yet
(docs/access.md).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_genesys._compat import AirflowFailException, BaseHook
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.desired import RELATIONS, DesiredRow, format_of, read_file, read_rows, read_sql
from airflow_provider_genesys.access.diff import MODES
from airflow_provider_genesys.access.errors import GenesysAccessError
from airflow_provider_genesys.access.guardrails import Guardrails
from airflow_provider_genesys.access.names import parse_user_key
from airflow_provider_genesys.access.plan import summary, write
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.operators.base import DEFAULT_CONN_ID, GenesysCloudBaseOperator, api_errors_as_failures

SQL_BATCH = 1000  # rows fetched from the cursor at a time


def object_path(url: str, conn_id: str | None, what: str) -> ObjectStoragePath:
    """``url`` as an ``ObjectStoragePath``; a plain absolute path means ``file://``."""
    if not isinstance(url, str) or not url.strip():
        raise AirflowFailException(f"{what} must be a file path or URL, e.g. s3://bucket/access/{what}.csv")
    if "://" not in url:
        if not url.startswith("/"):
            raise AirflowFailException(f"{what} {url!r} is relative: give an absolute path or a URL")
        url = f"file://{url}"
    try:
        return ObjectStoragePath(url, conn_id=conn_id)
    except (ValueError, ImportError) as err:
        raise AirflowFailException(f"{what} {url!r} cannot be opened ({err}): use a scheme Airflow knows") from None


class GenesysAccessPlanOperator(GenesysCloudBaseOperator):
    """
    Plan the changes that make Genesys equal a desired table; write the plan, change nothing.

    :param relation: ``grants``, ``group_members``, ``queue_members`` or ``user_state``.
    :param plan_path: where the plan JSON goes (fsspec URL or absolute path; templated).
    :param desired: the desired table as a CSV or NDJSON file (``.gz`` allowed; templated).
    :param sql: or a query whose columns are the relation's (templated), run through ``sql_conn_id``.
    :param rows: or the rows themselves (a list of dicts, e.g. from XCom; templated).
    :param managed_roles: the roles (groups, queues for the membership relations) the sync manages, by id or
        name; default: those the table names.
    :param mode: ``sync`` (add and remove) or ``add_only``.
    :param user_key: how the table names users: by id or email (default), or ``external:<authority>``
        (not read by this operator yet).
    :param max_removals, max_removal_fraction, protected_subjects, min_admins, allow_roleless: guardrails
        (docs/access.md); the connection's own OAuth client and token user are always protected.
    :param allow_empty: accept a desired table without rows.
    """

    template_fields: Sequence[str] = ("desired", "sql", "rows", "plan_path", "managed_roles", "protected_subjects")

    def __init__(
        self,
        *,
        relation: str,
        plan_path: str,
        desired: str | None = None,
        desired_conn_id: str | None = None,
        format: str | None = None,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        rows: list[dict[str, Any]] | None = None,
        plan_conn_id: str | None = None,
        managed_roles: Sequence[str] | None = None,
        mode: str = "sync",
        user_key: str = "id_or_email",
        max_removals: int | None = 100,
        max_removal_fraction: float | None = 0.2,
        protected_subjects: Sequence[str] = (),
        min_admins: int = 2,
        allow_roleless: bool = False,
        allow_empty: bool = False,
        max_workers: int = 4,
        genesys_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        if relation not in RELATIONS:
            raise ValueError(f"relation {relation!r} is not supported; use one of: {', '.join(RELATIONS)}.")
        sources = [name for name, value in (("desired", desired), ("sql", sql), ("rows", rows)) if value is not None]
        if len(sources) != 1:
            raise ValueError(f"Give exactly one of desired=, sql= or rows= (got {', '.join(sources) or 'none'}).")
        if sql is not None and not sql_conn_id:
            raise ValueError("sql= needs sql_conn_id=, the Airflow connection to run it on.")
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not valid; use one of: {', '.join(MODES)}.")
        if parse_user_key(user_key) is not None:
            raise ValueError("user_key='external:...' is supported by the engine but not read by this operator yet; "
                             "name users by id or email.")
        super().__init__(genesys_conn_id=genesys_conn_id, **kwargs)
        self.relation, self.mode, self.user_key = relation, mode, user_key
        # where the desired table comes from (one of the three) and where the plan goes
        self.desired, self.desired_conn_id, self.format = desired, desired_conn_id, format
        self.sql, self.sql_conn_id, self.rows = sql, sql_conn_id, rows
        self.plan_path, self.plan_conn_id = plan_path, plan_conn_id
        self.managed_roles = managed_roles
        self.rails = Guardrails(max_removals=max_removals, max_removal_fraction=max_removal_fraction,
                                min_admins=min_admins, allow_roleless=allow_roleless)
        self.protected_subjects = protected_subjects
        self.allow_empty = allow_empty
        self.max_workers = max_workers

    def execute(self, context: Any) -> dict[str, str]:
        plan_path = object_path(self.plan_path, self.plan_conn_id, "plan_path")
        with self.hook as hook, api_errors_as_failures():
            org_id = hook.get_organization()["id"]
            settings = hook.settings
            token_user = None
            if settings.grant_type != "client_credentials":  # a user's token: never sync that user
                token_user = (hook.request("GET", "/api/v2/users/me") or {}).get("id")
            directory, current = read_org(hook.client, self.relation, max_workers=self.max_workers)
            requests = hook.stats.requests
        self.log.info("Read the org's %s state in %d requests", self.relation, requests)
        try:
            with self._desired_rows() as rows:
                plan = plan_access(
                    rows, relation=self.relation, directory=directory, current=current, org_id=org_id,
                    created_at=datetime.now(UTC), managed=self.managed_roles, mode=self.mode,  # type: ignore[arg-type]
                    rails=self.rails, protected_subjects=self.protected_subjects,
                    oauth_client_id=settings.client_id, token_user_id=token_user,
                )
        except GenesysAccessError as err:
            raise AirflowFailException(str(err)) from None
        try:
            with plan_path.open("w") as out:
                write(plan, out)
        except OSError as err:
            raise AirflowFailException(
                f"plan_path {plan_path} cannot be written ({err}): give a writable path (or plan_conn_id with "
                "write access); nothing was changed in Genesys."
            ) from err
        text = summary(plan)
        self.log.info("Plan written to %s\n%s", plan_path, text)
        return {"plan": str(plan_path), "summary": text}

    @contextmanager
    def _desired_rows(self) -> Iterator[Iterator[DesiredRow]]:
        if self.rows is not None:
            yield read_rows(self.rows, self.relation, allow_empty=self.allow_empty)
        elif self.sql is not None:
            yield from self._sql_rows()
        else:
            path = object_path(str(self.desired), self.desired_conn_id, "desired")
            fmt = self.format or format_of(str(path))
            try:
                raw = path.open("rb")
            except OSError as err:
                raise AirflowFailException(f"desired {path} cannot be read ({err})") from err
            with raw:
                file = gzip.GzipFile(fileobj=raw) if str(path).endswith(".gz") else raw
                yield read_file(file, self.relation, fmt, allow_empty=self.allow_empty)

    def _sql_rows(self) -> Iterator[Iterator[DesiredRow]]:
        hook = BaseHook.get_connection(str(self.sql_conn_id)).get_hook()
        connection = hook.get_conn()
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql)
            columns = [column[0] for column in cursor.description or ()]

            def fetch() -> Iterator[Sequence[Any]]:
                while batch := cursor.fetchmany(SQL_BATCH):
                    yield from batch

            yield read_sql(fetch(), columns, self.relation, allow_empty=self.allow_empty)
        finally:
            cursor.close()
            connection.close()


__all__ = ["GenesysAccessPlanOperator"]
