"""GenesysAccessPlanOperator: the Airflow face of the access engine's planning (``access/``).

It opens the desired table (an fsspec URL through ``ObjectStoragePath``, a SQL query through any Airflow SQL
connection, or rows from XCom), reads the org's current state through the hook with the extract's bulk
listings, plans (``access.planner.plan_access``), writes the plan to ``plan_path`` and returns
``{"plan": <path>, "summary": <Markdown>}``. It never writes to Genesys. Bad input, unknown names and
guardrails fail the task with ``AirflowFailException`` saying what to fix.

GenesysAccessApplyOperator applies a plan (``access.apply``): it keeps the ledger next to the plan (a local
copy first when the plan is on object storage) and writes the report next to it, the task's output Asset.
One apply per plan at a time: it holds the ledger's lock, and for a plan on object storage a lease beside
the plan (``access/lock.py``), and continues from the newer of the two copies of the ledger.
The verify sensor (``sensors/access.py``) reads the same ledger. Design: docs/access.md.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_genesys import lineage
from airflow_provider_genesys._compat import (
    AirflowException,
    AirflowFailException,
    AirflowProviderDeprecationWarning,
    BaseHook,
)
from airflow_provider_genesys.access import report
from airflow_provider_genesys.access.apply import SETTLE_TIMEOUT, Applier, ApplyResult, load_plan
from airflow_provider_genesys.access.current import read_org, token_user
from airflow_provider_genesys.access.desired import DesiredRow, format_of, read_file, read_rows, read_sql
from airflow_provider_genesys.access.diff import MODES
from airflow_provider_genesys.access.errors import GenesysAccessError, GuardrailError, listing
from airflow_provider_genesys.access.external import lookup_keys, user_keys
from airflow_provider_genesys.access.guardrails import RULE_KINDS, Guardrails, rule_value
from airflow_provider_genesys.access.ledger import (
    Ledger,
    LedgerConflictError,
    lease_path,
    ledger_path,
    newer_copy,
    read_ledger,
    report_path,
    snapshots_in,
)
from airflow_provider_genesys.access.lock import ApplyLockedError, Lease, LedgerLock
from airflow_provider_genesys.access.names import parse_user_key
from airflow_provider_genesys.access.plan import Plan, checksum, summary, write
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.access.registry import RELATIONS
from airflow_provider_genesys.operators.base import (
    DEFAULT_CONN_ID,
    GenesysCloudBaseOperator,
    api_errors_as_failures,
    has_template,
)

UTC = timezone.utc  # datetime.UTC is Python 3.11+; the package supports 3.10

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

    :param relation: ``grants``, ``group_members``, ``queue_members``, ``user_state``, ``user_skills``,
        ``user_languages`` or ``user_division`` (docs/access.md, "Relations and their columns").
    :param plan_path: where the plan JSON goes (fsspec URL or absolute path; templated).
    :param desired: the desired table as a CSV or NDJSON file (``.gz`` allowed; templated).
    :param sql: or a query whose columns are the relation's (templated), run through ``sql_conn_id``.
    :param rows: or the rows themselves (a list of dicts, e.g. from XCom; templated).
    :param managed: what the sync manages, by id or name: the roles of ``grants``, the groups or queues of the
        membership relations, the skills or languages of ``user_skills``/``user_languages``; default: those the
        table names (``user_state`` and ``user_division`` manage the users the table names).
    :param managed_roles: the same argument under its first name (kept for DAGs that use it).
    :param mode: ``sync`` (add and remove) or ``add_only``.
    :param user_key: how the table names users: by id or email (default), or ``external:<authority>``: by
        the key Genesys keeps in their external ids under that authority (each distinct key looked up once;
        the table is read twice, docs/access.md).
    :param max_removals, max_removal_fraction, protected_subjects, min_admins, allow_roleless: guardrails
        (docs/access.md); the connection's own OAuth client and token user are always protected. Templated, so
        one run can loosen a rule: ``max_removals="{{ params.max_removals }}"`` with a DAG param of that name,
        then trigger the run with conf ``{"max_removals": 300}``; a rendered value is read as its kind (text
        ``"300"``, ``"none"``, ``"true"``) and checked, a literal of the wrong kind fails when the DAG is parsed.
    :param manage_groups: whether a ``grants`` sync manages groups' own grants too (``None``, the default:
        when the table names a group; a table naming only people leaves groups' grants alone). Templated.
    :param allow_empty: accept a desired table without rows.
    :param removable: rows of the relation's columns naming the only holdings ``sync`` may remove; anything else
        the table leaves out is kept (warned). An access review passes its revocations, so that a grant made
        between its close and this plan is not removed (templated; a list of dicts, e.g. from XCom).
    :param restore_from: ``user_state`` only: earlier plans (or their ledgers) whose leaver snapshots are
        restored to the users this plan reactivates (direct grants, groups and queues), as changes of this
        plan: shown in its summary, approved with it, applied once like the others (templated).
    """

    template_fields: Sequence[str] = ("desired", "sql", "rows", "plan_path", "managed", "protected_subjects",
                                      "restore_from", "removable", *RULE_KINDS)

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
        managed: Sequence[str] | None = None,
        managed_roles: Sequence[str] | None = None,
        mode: str = "sync",
        user_key: str = "id_or_email",
        max_removals: int | None = 100,
        max_removal_fraction: float | None = 0.2,
        protected_subjects: Sequence[str] = (),
        min_admins: int = 2,
        allow_roleless: bool = False,
        manage_groups: bool | None = None,
        restore_from: Sequence[str] | str | None = None,
        removable: list[dict[str, Any]] | None = None,
        allow_empty: bool = False,
        max_workers: int = 4,
        genesys_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        rules = {"max_removals": max_removals, "max_removal_fraction": max_removal_fraction,
                 "min_admins": min_admins, "allow_roleless": allow_roleless, "manage_groups": manage_groups}
        for name, value in rules.items():  # a template is checked once rendered; anything else now
            if not has_template(value):
                if isinstance(value, str):
                    raise ValueError(f"{name}={value!r} is text: give {name} as a value, or as a template "
                                     f"('{{{{ params.{name} }}}}') to set it per run")
                try:
                    rule_value(name, value)
                except GenesysAccessError as err:
                    raise ValueError(str(err)) from None
        if relation not in RELATIONS:
            raise ValueError(f"relation {relation!r} is not supported; use one of: {', '.join(RELATIONS)}.")
        if managed is not None and managed_roles is not None:
            raise ValueError("Give managed= or managed_roles= (its first name), not both.")
        if restore_from is not None and relation != "user_state":
            raise ValueError(f"restore_from is for relation='user_state' (it restores what reactivated users held), "
                             f"not {relation!r}.")
        sources = [name for name, value in (("desired", desired), ("sql", sql), ("rows", rows)) if value is not None]
        if len(sources) != 1:
            raise ValueError(f"Give exactly one of desired=, sql= or rows= (got {', '.join(sources) or 'none'}).")
        if sql is not None and not sql_conn_id:
            raise ValueError("sql= needs sql_conn_id=, the Airflow connection to run it on.")
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not valid; use one of: {', '.join(MODES)}.")
        try:
            authority = parse_user_key(user_key)
        except GenesysAccessError as err:
            raise ValueError(str(err)) from None
        super().__init__(genesys_conn_id=genesys_conn_id, **kwargs)
        self.relation, self.mode, self.user_key, self.authority = relation, mode, user_key, authority
        # where the desired table comes from (one of the three) and where the plan goes
        self.desired, self.desired_conn_id, self.format = desired, desired_conn_id, format
        self.sql, self.sql_conn_id, self.rows = sql, sql_conn_id, rows
        self.plan_path, self.plan_conn_id = plan_path, plan_conn_id
        self.managed = managed if managed is not None else managed_roles
        self.max_removals, self.max_removal_fraction = max_removals, max_removal_fraction
        self.min_admins, self.allow_roleless, self.manage_groups = min_admins, allow_roleless, manage_groups
        self.templated_rules = {name for name, value in rules.items() if has_template(value)}
        self.protected_subjects = protected_subjects
        self.restore_from = restore_from
        self.removable = removable
        self.allow_empty = allow_empty
        self.max_workers = max_workers

    @property
    def managed_roles(self) -> Sequence[str] | None:
        """``managed`` under its first name."""
        return self.managed

    @property
    def rails(self) -> Guardrails:
        """The guardrails of this run, from the (rendered) arguments."""
        return self._rails(self._rules())

    @staticmethod
    def _rails(values: dict[str, Any]) -> Guardrails:
        return Guardrails(max_removals=values["max_removals"], max_removal_fraction=values["max_removal_fraction"],
                          min_admins=values["min_admins"], allow_roleless=values["allow_roleless"])

    def _rules(self) -> dict[str, Any]:
        try:
            return {name: rule_value(name, getattr(self, name)) for name in RULE_KINDS}
        except GenesysAccessError as err:
            raise AirflowFailException(f"{err} (as rendered for this run): check the run's conf or params") from None

    def execute(self, context: Any) -> dict[str, str]:
        plan_path = object_path(self.plan_path, self.plan_conn_id, "plan_path")
        rules = self._rules()
        rails, manage_groups = self._rails(rules), rules["manage_groups"]
        try:
            with self.hook as hook, api_errors_as_failures():
                org_id = hook.get_organization()["id"]
                settings = hook.settings
                user, why = token_user(hook.client, settings.grant_type)  # a user's token: never sync that user
                self.log.info("Protected: the OAuth client %s and %s (%s)", settings.client_id,
                              f"the token's user {user}" if user else "no token user", why)
                external_ids = self._external_ids(hook) if self.authority is not None else None
                directory, current = read_org(hook.client, self.relation, user_key=self.user_key,
                                              external_ids=external_ids, max_workers=self.max_workers)
                requests = hook.stats.requests
            self.log.info("Read the org's %s state; %d requests in all so far", self.relation, requests)
            with self._desired_rows() as rows:
                plan = plan_access(
                    rows, relation=self.relation, directory=directory, current=current, org_id=org_id,
                    created_at=datetime.now(UTC), managed=self.managed, mode=self.mode,  # type: ignore[arg-type]
                    rails=rails, protected_subjects=self.protected_subjects,
                    oauth_client_id=settings.client_id, token_user_id=user, manage_groups=manage_groups,
                    restore=snapshots_in(restore_ledgers(self.restore_from)) if self.restore_from else None,
                    removable=(read_rows(self.removable, self.relation, allow_empty=True)
                               if self.removable is not None else None),
                )
        except GuardrailError as err:
            raise AirflowFailException(f"{err}\n{self._override_hint(err)}") from None
        except GenesysAccessError as err:
            raise AirflowFailException(str(err)) from None
        with plan:  # the plan's changes are read from the planning spill, deleted when it closes
            try:
                plan_path.parent.mkdir(parents=True, exist_ok=True)  # a new folder per table or day, as extracts do
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

    def _override_hint(self, err: GuardrailError) -> str:
        """How to loosen the rules that fired for one run, as this task is written."""
        fired = [name for name in RULE_KINDS if any(v.startswith(f"{name}:") for v in err.violations)]
        if not fired:
            return ""
        if all(name in self.templated_rules for name in fired):
            return ("To loosen them for one run, trigger the DAG with conf setting the params this task renders "
                    f"them from ({', '.join(fired)}): docs/access.md, \"Overrides for one run\".")
        return (f"To loosen them for one run, give this task {', '.join(f'{n}={{{{ params.{n} }}}}' for n in fired)} "
                "with DAG params of those names (defaults: today's values) and trigger the run with conf setting "
                "them: docs/access.md, \"Overrides for one run\".")

    def _external_ids(self, hook: Any) -> dict[str, str]:
        """The table's external keys -> user ids: a first read of the table, each distinct key looked up once."""
        before = hook.stats.requests
        with self._desired_rows() as rows:
            found = lookup_keys(hook.client, str(self.authority), user_keys(rows, self.relation),
                                max_workers=self.max_workers)
        self.log.info("Looked up %d distinct external key(s) under authority %r in %d requests (retries "
                      "included): %d found, %d unknown", found.requests, self.authority,
                      hook.stats.requests - before, len(found.ids), len(found.unknown))
        return found.ids

    @contextmanager
    def _desired_rows(self) -> Iterator[Iterator[DesiredRow]]:
        if self.rows is not None:
            yield read_rows(self.rows, self.relation, allow_empty=self.allow_empty)
        elif self.sql is not None:
            with query_rows(str(self.sql_conn_id), self.sql) as (rows, columns):
                yield read_sql(rows, columns, self.relation, allow_empty=self.allow_empty)
        else:
            with table_file(str(self.desired), self.desired_conn_id, self.format, "desired") as (file, fmt):
                yield read_file(file, self.relation, fmt, allow_empty=self.allow_empty)


@contextmanager
def query_rows(sql_conn_id: str, sql: str) -> Iterator[tuple[Iterator[Sequence[Any]], list[str]]]:
    """A query's rows (fetched ``SQL_BATCH`` at a time, never all at once) and its column names, through any
    Airflow SQL connection; the cursor and connection are closed after."""
    hook = BaseHook.get_connection(sql_conn_id).get_hook()
    connection = hook.get_conn()
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
        columns = [column[0] for column in cursor.description or ()]

        def fetch() -> Iterator[Sequence[Any]]:
            while batch := cursor.fetchmany(SQL_BATCH):
                yield from batch

        yield fetch(), columns
    finally:
        cursor.close()
        connection.close()


@contextmanager
def table_file(url: str, conn_id: str | None, fmt: str | None, what: str) -> Iterator[tuple[Any, str]]:
    """A CSV or NDJSON table's file (``.gz`` read through gzip) and its format (``fmt``, or from its name)."""
    path = object_path(url, conn_id, what)
    fmt = fmt or format_of(str(path))
    try:
        raw = path.open("rb")
    except OSError as err:
        raise AirflowFailException(f"{what} {path} cannot be read ({err})") from err
    with raw:
        yield (gzip.GzipFile(fileobj=raw) if str(path).endswith(".gz") else raw), fmt


def restore_ledgers(restore_from: Sequence[str] | str | None) -> list[str]:
    """The ledgers ``restore_from`` names: earlier plans (their ledgers beside them) or ledgers, local paths."""
    paths = [restore_from] if isinstance(restore_from, str) else list(restore_from or ())
    found = []
    for path in paths:
        name = path if path.endswith(".ndjson") else ledger_path(path)
        local = name.removeprefix("file://")
        if not Path(local).exists():
            raise AirflowFailException(
                f"restore_from {path!r}: no ledger at {local}; give the plan paths (or ledgers) of the runs "
                "that deactivated the users"
            )
        found.append(local)
    return found


REPORT_ALIAS_PREFIX = "genesys-access-report "


def _duration(value: timedelta | float | int | None, name: str) -> timedelta | None:
    """A timedelta, seconds, or None (no limit)."""
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    raise ValueError(f"{name} must be a timedelta, a number of seconds, or None; got {value!r}.")


def beside(plan_path: ObjectStoragePath, name: str) -> ObjectStoragePath:
    """``name`` on the plan's storage, through the plan's connection (Airflow 3.3's ``ObjectStoragePath``
    keeps ``conn_id`` out of ``storage_options``, where earlier ones had it)."""
    conn_id = getattr(plan_path, "conn_id", None) or plan_path.storage_options.get("conn_id")
    return ObjectStoragePath(name, conn_id=conn_id)


def ledger_file(plan_path: ObjectStoragePath, local: str | None) -> tuple[Path, ObjectStoragePath | None]:
    """The ledger's local file, and the copy next to the plan when the plan is not on a local disk.

    A local plan keeps its ledger beside it (``<plan>.ledger.ndjson``): fsync'd appends need a file system.
    A plan on object storage gets a local ledger (``ledger_path``, or the worker's temporary folder) that is
    copied next to the plan when apply ends; a run continues from whichever of the two is newer.
    """
    if plan_path.protocol in ("file", "local", ""):
        return Path(ledger_path(plan_path.path)), None
    remote = beside(plan_path, ledger_path(str(plan_path)))
    if local:
        return Path(local), remote
    digest = hashlib.sha256(str(plan_path).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / "genesys-access" / f"{digest}.ledger.ndjson", remote


@contextmanager
def one_apply(plan_path: ObjectStoragePath, local: Path, remote: ObjectStoragePath | None,
              warn: Callable[[str], None]) -> Iterator[Lease | None]:
    """Hold the ledger's lock, and for a plan on object storage the lease beside it, for the whole run.

    Yields the lease (``None`` for a local plan: its lock cannot be lost while the process lives).
    """
    with LedgerLock(local, str(plan_path)):
        if remote is None:
            yield None
            return
        with Lease(plan_path.fs, lease_path(plan_path.path), str(plan_path), warn=warn) as lease:
            yield lease


def take_newer_ledger(local: Path, remote: ObjectStoragePath) -> None:
    """Continue from the newer copy of the ledger: a worker's own file may be older than the copy beside the
    plan (another worker applied since) and must then be replaced by it, never the other way round."""
    if not remote.exists():
        return
    theirs = remote.read_text()
    if local.exists() and newer_copy(local.read_text(encoding="utf-8"), theirs, local_name=str(local),
                                     remote_name=str(remote)) == "local":
        return
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(local.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        out.write(theirs)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, local)


def publish_ledger(local: Path, remote: ObjectStoragePath) -> None:
    """Copy the ledger beside the plan, unless the copy there holds lines this one lacks."""
    text = local.read_text(encoding="utf-8")
    if remote.exists() and newer_copy(text, remote.read_text(), local_name=str(local),
                                      remote_name=str(remote)) == "remote":
        raise LedgerConflictError(
            f"The ledger beside the plan, {remote}, moved on while this apply ran (another apply wrote it): it "
            f"was not overwritten. This run's ledger is {local}; make a new plan to apply what is left."
        )
    remote.write_text(text)


def read_plan_text(plan_path: ObjectStoragePath) -> str:
    try:
        return plan_path.read_text()
    except (OSError, ValueError) as err:
        raise AirflowFailException(
            f"plan {plan_path} cannot be read ({err}): give apply the path the plan task returned "
            "({{ ti.xcom_pull(task_ids='plan')['plan'] }}); nothing was changed in Genesys."
        ) from None


class GenesysAccessApplyOperator(GenesysCloudBaseOperator):
    """
    Apply a reviewed plan exactly once; safe to kill and rerun (docs/access.md, "Apply").

    Re-reads the touched subjects in bulk, refuses each subject changed since the plan (by name; the rest
    proceed), sends the fewest writes, adds before removes, records each write in the ledger next to the
    plan before and after sending it, reads back any write whose outcome is unknown before sending anything
    again, and writes the report (one NDJSON line per change a write carried) next to the plan.

    :param plan: the plan's path or URL (templated), e.g. ``{{ ti.xcom_pull(task_ids='plan')['plan'] }}``.
    :param max_plan_age: refuse an older plan (timedelta or seconds; None: any age). Default 24 hours.
    :param plan_conn_id: the connection of the plan's storage.
    :param ledger_path: a local (or mounted) file for the ledger when the plan is on object storage; put it
        on a volume every worker sees so a rerun on another worker reads it and its lock excludes across
        workers (templated).
    :param restore_from: deprecated: give it to the plan task (``GenesysAccessPlanOperator(restore_from=...)``),
        so the restores are in the plan people approve, under its checksum. Here it still restores the users
        this plan reactivates whose plan holds no restores, through the same writes and ledger.
    :param fail_on_refused: fail the task (after applying the rest) when subjects were refused as changed
        since the plan, or writes were refused; default True, so verify does not run on a partial apply.
    """

    template_fields: Sequence[str] = ("plan", "ledger_path", "restore_from")

    def __init__(
        self,
        *,
        plan: str,
        max_plan_age: timedelta | float | None = timedelta(hours=24),
        plan_conn_id: str | None = None,
        ledger_path: str | None = None,
        restore_from: Sequence[str] | str | None = None,
        fail_on_refused: bool = True,
        max_workers: int = 4,
        settle_timeout: timedelta | float = timedelta(seconds=SETTLE_TIMEOUT),
        genesys_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        self.max_plan_age = _duration(max_plan_age, "max_plan_age")
        settle = _duration(settle_timeout, "settle_timeout")
        self.settle_timeout = settle.total_seconds() if settle is not None else SETTLE_TIMEOUT
        if "outlets" not in kwargs and isinstance(plan, str):
            uri = None if has_template(plan) else str(object_path(report_path(plan), plan_conn_id, "plan"))
            kwargs["outlets"] = [lineage.destination_outlet(report_path(plan), uri, REPORT_ALIAS_PREFIX)]
        super().__init__(genesys_conn_id=genesys_conn_id, **kwargs)
        self.plan, self.plan_conn_id, self.ledger_path = plan, plan_conn_id, ledger_path
        if restore_from is not None:
            warnings.warn(
                "GenesysAccessApplyOperator(restore_from=...) is deprecated since airflow-provider-genesys 0.2.0: "
                "give restore_from to GenesysAccessPlanOperator, so the restores are in the plan that is reviewed "
                "and checksummed (docs/access.md, \"Leavers\"). It goes in 0.3.0 at the earliest.",
                AirflowProviderDeprecationWarning, stacklevel=2)
        self.restore_from = restore_from
        self.fail_on_refused = fail_on_refused
        self.max_workers = max_workers

    def execute(self, context: Any) -> dict[str, Any]:
        plan_path = object_path(self.plan, self.plan_conn_id, "plan")
        text = read_plan_text(plan_path)
        local, remote = ledger_file(plan_path, self.ledger_path)
        try:
            with one_apply(plan_path, local, remote, self.log.warning) as lease:
                if remote is not None:
                    take_newer_ledger(local, remote)
                result, plan, report_uri = self._apply(plan_path, text, local, remote, lease)
        except ApplyLockedError as err:  # another apply of this plan runs: retryable (docs/decisions.md)
            raise AirflowException(str(err)) from None
        except GenesysAccessError as err:  # WritePermissionError too: a 403 stops everything
            raise AirflowFailException(str(err)) from None
        lineage.emit_destination_asset(self.outlets, context, report_uri, REPORT_ALIAS_PREFIX)
        self._log(result, plan, report_uri)
        if self.fail_on_refused and (result.refused_subjects or result.failed):
            raise AirflowFailException(self._failure(result, plan, report_uri))
        if result.retry:  # retryable: a 404 for a user created moments ago, an outcome unknown twice
            raise AirflowException(
                f"{len(result.retry)} write(s) did not complete; the task's retries send them again (the "
                "ledger skips what is done):\n" + listing(result.retry)
            )
        return {"plan": str(plan_path), "report": report_uri, "ledger": str(remote or local),
                "writes": result.writes, "settled": result.settled, "changes": len(plan.changes),
                "refused_subjects": sorted(result.refused_subjects), "failed": result.failed}

    def _apply(self, plan_path: ObjectStoragePath, text: str, local: Path, remote: ObjectStoragePath | None,
               lease: Lease | None) -> tuple[ApplyResult, Plan, str]:
        with self.hook as hook, api_errors_as_failures():
            plan = load_plan(text, org_id=hook.get_organization()["id"], now=datetime.now(UTC),
                             max_age=self.max_plan_age)
            restore = snapshots_in(restore_ledgers(self.restore_from)) if self.restore_from else {}
            guard = lease.check if lease is not None else None
            with closing(Ledger(local, checksum(plan.document()), guard=guard)) as ledger:
                applier = Applier(plan, hook.client, ledger, restore=restore, max_workers=self.max_workers,
                                  settle_timeout=self.settle_timeout)
                try:
                    result = applier.apply()
                finally:
                    report_uri = self._report(plan_path, applier, plan)
                    if remote is not None and lease is not None and not lease.lost:  # lost: the taker's copy
                        publish_ledger(local, remote)
        return result, plan, report_uri

    def _report(self, plan_path: ObjectStoragePath, applier: Applier, plan: Plan) -> str:
        target = beside(plan_path, report_path(str(plan_path)))
        try:
            with target.open("w") as out:
                report.write(out, applier.state, applier.changes, plan.relation)
        except OSError as err:
            raise AirflowFailException(
                f"the report {target} cannot be written ({err}); the ledger {applier.ledger.path} holds "
                "every write's outcome"
            ) from err
        return str(target)

    def _log(self, result: ApplyResult, plan: Plan, report_uri: str) -> None:
        self.log.info("Applied %d of %d changes in %d writes; report %s", result.settled, len(plan.changes),
                      result.writes, report_uri)

    @staticmethod
    def _failure(result: ApplyResult, plan: Plan, report_uri: str) -> str:
        lines = []
        if result.refused_subjects:
            lines.append(f"{len(result.refused_subjects)} subject(s) changed since the plan were refused, not "
                         "overwritten (make a new plan to include them): "
                         + ", ".join(sorted(result.refused_subjects)[:50]))
        lines += result.failed + result.retry
        return (f"Apply finished with problems ({result.settled} of {len(plan.changes)} changes done; all "
                f"others were applied; report {report_uri}):\n" + listing(lines))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the plan in; the report and the org's access relation out (``lineage.py``)."""
        plan_path = str(object_path(self.plan, self.plan_conn_id, "plan"))
        relation = "unknown"
        with suppress(AirflowFailException):
            relation = json_relation(read_plan_text(object_path(self.plan, self.plan_conn_id, "plan")))
        return lineage.access_lineage(self.hook, relation, plan_path, report_path(plan_path))


def json_relation(text: str) -> str:
    """The relation a plan's JSON names (without checking it: lineage only)."""
    try:
        return str(json.loads(text).get("relation", "unknown"))
    except (ValueError, AttributeError):
        return "unknown"


def read_state(plan_path: ObjectStoragePath, local: str | None):
    """The ledger of a plan, read only and without its lock (apply may be writing it: a line cut short is
    skipped): the newer of this worker's file and the copy beside the plan."""
    file, remote = ledger_file(plan_path, local)
    mine = file.read_text(encoding="utf-8") if file.exists() else None
    theirs = remote.read_text() if remote is not None and remote.exists() else None
    if mine is not None and theirs is not None:
        try:
            newer = newer_copy(mine, theirs, local_name=str(file), remote_name=str(remote))
        except LedgerConflictError as err:
            raise AirflowFailException(str(err)) from None
        mine = mine if newer == "local" else theirs
    text = mine if mine is not None else theirs
    return None if text is None else read_ledger(text.splitlines())


__all__ = ["GenesysAccessApplyOperator", "GenesysAccessPlanOperator"]
