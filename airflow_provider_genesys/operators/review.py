"""Access reviews in Airflow: the faces of the review engine (``access/review/``). One DAG run is one campaign.

- :class:`GenesysAccessReviewOpenOperator` snapshots the scope, assigns every item a reviewer, writes the
  checksummed review file and returns one dict per reviewer for ``.expand_kwargs`` of the decision task.
- :class:`GenesysAccessReviewDecisionOperator` is a human-in-the-loop task (Airflow's ``HITLOperator``),
  mapped once per reviewer and assigned to that reviewer only: keep all, revoke the selected items, or revoke
  all, with a justification; at the deadline the review's default applies.
- :class:`GenesysAccessReviewCloseOperator` gathers every decision, applies the stale rule, writes the evidence
  and returns the desired ``rows`` for ``GenesysAccessPlanOperator(relation="grants", mode="sync")``.
- :class:`GenesysAccessReviewEvidenceOperator` completes the evidence with what apply did (its output Assets).

Design and arguments: docs/access.md, "Access reviews".
"""

from __future__ import annotations

import inspect
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import BaseOperator, Param
from airflow.sdk.definitions.param import ParamsDict

from airflow_provider_genesys import lineage
from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.access.current import token_user
from airflow_provider_genesys.access.errors import GenesysAccessError
from airflow_provider_genesys.access.ledger import report_path
from airflow_provider_genesys.access.review import decide, evidence, table
from airflow_provider_genesys.access.review.closing import close_review, decisions_by_reviewer, read_current
from airflow_provider_genesys.access.review.file import Review, evidence_paths
from airflow_provider_genesys.access.review.model import MANAGER, OPTIONS, ReviewError, seconds
from airflow_provider_genesys.access.review.model import default_decision as check_default
from airflow_provider_genesys.access.review.opening import open_review
from airflow_provider_genesys.access.review.scope import read_snapshot
from airflow_provider_genesys.operators.access import object_path, query_rows, table_file
from airflow_provider_genesys.operators.base import (
    DEFAULT_CONN_ID,
    GenesysCloudBaseOperator,
    api_errors_as_failures,
    has_template,
)

UTC = timezone.utc  # datetime.UTC is Python 3.11+; the package supports 3.10
IDENTITIES = ("email", "id")  # how a Genesys user becomes an Airflow user, besides a mapping
# How long a reviewer has: `response_timeout` in newer standard providers; Airflow 3.1's bounded the wait with
# `execution_timeout` (its HITLOperator reads that when it defers).
WAIT_ATTRIBUTE = ("response_timeout" if "response_timeout" in inspect.signature(HITLOperator.__init__).parameters
                  else "execution_timeout")


@contextmanager
def _failures() -> Iterator[None]:
    """The review engine's errors fail the task at once: a retry cannot fix the input."""
    try:
        yield
    except GenesysAccessError as err:
        raise AirflowFailException(str(err)) from None


def _opener(path: Any, mode: str) -> Callable[[], IO[Any]]:
    return lambda: path.open(mode)


class GenesysAccessReviewOpenOperator(GenesysCloudBaseOperator):
    """
    Open an access review: snapshot who holds the managed roles directly, assign each item a reviewer, write
    the review file. Asks nobody anything and changes nothing in Genesys.

    Returns the reviews (one dict per reviewer: ``review``, ``reviewer``, ``assigned_users``) for
    ``GenesysAccessReviewDecisionOperator.partial(...).expand_kwargs(open.output)``; the same list is the XCom
    ``reviews`` and the review file's path the XCom ``review``.

    :param managed_roles: the roles whose direct grants are reviewed (names or ids).
    :param review_path: where the review file goes (fsspec URL or absolute path; templated); the evidence and
        summary are written beside it.
    :param divisions: only grants on these divisions (names, ids, ``*`` for all-division grants); default all.
    :param reviewers: ``"manager"`` (each user's Genesys manager; an inactive or missing manager falls back), a
        table of ``user``, ``reviewer`` as a CSV or NDJSON path/URL, or rows (a list of dicts); templated.
    :param reviewers_sql: or a query returning ``user``, ``reviewer`` run on ``sql_conn_id``.
    :param fallback_reviewers: who reviews users without a reviewer (ids or emails of active users); they answer
        together (any one of them).
    :param assigned_users: how a reviewer becomes an Airflow user: ``"email"`` (the Genesys email is the Airflow
        user id: SimpleAuthManager user names, FAB user names with a recent FAB), ``"id"`` (the Genesys user id),
        or a mapping from Genesys email (or id) to the Airflow user id (FAB's numeric ids).
    :param response_timeout: how long reviewers have (timedelta, seconds, or text like ``"14d"``; templated).
    :param default_decision: ``keep`` (default) or ``revoke``: what an unanswered reviewer's items get.
    """

    template_fields: Sequence[str] = ("review_path", "managed_roles", "divisions", "reviewers", "reviewers_sql",
                                      "fallback_reviewers", "response_timeout")

    def __init__(
        self,
        *,
        managed_roles: Sequence[str] | str,
        review_path: str,
        divisions: Sequence[str] | str | None = None,
        reviewers: str | list[dict[str, Any]] = MANAGER,
        reviewers_format: str | None = None,
        reviewers_conn_id: str | None = None,
        reviewers_sql: str | None = None,
        sql_conn_id: str | None = None,
        fallback_reviewers: Sequence[str] | str = (),
        assigned_users: str | Mapping[str, Any] = "email",
        response_timeout: timedelta | float | str = timedelta(days=14),
        default_decision: str = "keep",
        review_conn_id: str | None = None,
        max_workers: int = 4,
        genesys_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        if reviewers_sql is not None and not sql_conn_id:
            raise ValueError("reviewers_sql= needs sql_conn_id=, the Airflow connection to run it on.")
        if reviewers_sql is not None and reviewers != MANAGER:
            raise ValueError("Give reviewers= or reviewers_sql=, not both.")
        if isinstance(assigned_users, str) and assigned_users not in IDENTITIES:
            raise ValueError(f"assigned_users={assigned_users!r} is not valid: use 'email', 'id' or a mapping of "
                             "Genesys email (or id) to Airflow user id.")
        try:
            default_decision_ = check_default(default_decision)
            if not has_template(response_timeout):
                seconds(response_timeout)
        except ReviewError as err:
            raise ValueError(str(err)) from None
        super().__init__(genesys_conn_id=genesys_conn_id, **kwargs)
        self.managed_roles, self.divisions, self.review_path = managed_roles, divisions, review_path
        self.reviewers, self.reviewers_format, self.reviewers_conn_id = reviewers, reviewers_format, reviewers_conn_id
        self.reviewers_sql, self.sql_conn_id = reviewers_sql, sql_conn_id
        self.fallback_reviewers, self.assigned_users = fallback_reviewers, assigned_users
        self.response_timeout, self.default_decision = response_timeout, default_decision_
        self.review_conn_id, self.max_workers = review_conn_id, max_workers

    def execute(self, context: Any) -> list[dict[str, Any]]:
        path = object_path(self.review_path, self.review_conn_id, "review_path")
        now = datetime.now(UTC)
        with _failures():
            due = now + timedelta(seconds=seconds(self.response_timeout))
            with self.hook as hook, api_errors_as_failures():
                org_id = hook.get_organization()["id"]
                snapshot = read_snapshot(hook.client, self.managed_roles, self.divisions, max_workers=self.max_workers)
                requests = hook.stats.requests
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with self._reviewer_rows() as rows:
                    opened = open_review(snapshot, _opener(path, "w"), org_id=org_id, created_at=now, due_at=due,
                                         reviewers=rows, fallback_reviewers=self._list(self.fallback_reviewers),
                                         default=self.default_decision)
            except OSError as err:
                raise AirflowFailException(f"review_path {path} cannot be written ({err}): give a writable path "
                                           "(or review_conn_id with write access)") from err
            finally:
                snapshot.close()
            reviews = [{"review": str(path), "reviewer": entry["key"],
                        "assigned_users": [self._identity(person) for person in entry["reviewers"]]}
                       for entry in opened.reviewers]
        self.log.info("Review %s opened (%d requests): %d item(s) of %d user(s), %d reviewer(s), due %s; checksum %s",
                      path, requests, opened.counts["items"], opened.counts["users"], opened.counts["reviewers"],
                      due.isoformat(), opened.checksum)
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is not None:
            ti.xcom_push(key="reviews", value=reviews)
            ti.xcom_push(key="review", value=str(path))
        return reviews

    @staticmethod
    def _list(value: Sequence[str] | str) -> list[str]:
        return [value] if isinstance(value, str) else list(value or ())

    def _identity(self, person: Mapping[str, Any]) -> dict[str, str]:
        """The Airflow user a Genesys reviewer answers as (``assigned_users`` entry)."""
        email, user_id = person.get("email") or "", person["id"]
        name = email or person.get("name") or user_id
        if self.assigned_users == "email":
            if not email:
                raise ReviewError(f"reviewer {user_id} has no email in Genesys: use assigned_users='id' or a mapping")
            return {"id": email, "name": name}
        if self.assigned_users == "id":
            return {"id": user_id, "name": name}
        mapping = {str(k).casefold(): v for k, v in dict(self.assigned_users).items()}  # type: ignore[arg-type]
        found = mapping.get(email.casefold()) if email else None
        found = found if found is not None else mapping.get(user_id.casefold())
        if found is None:
            raise ReviewError(f"reviewer {name} ({user_id}) has no Airflow user in assigned_users: add their email "
                              "or Genesys id to the mapping")
        if isinstance(found, Mapping):
            return {"id": str(found["id"]), "name": str(found.get("name") or name)}
        return {"id": str(found), "name": name}

    @contextmanager
    def _reviewer_rows(self) -> Iterator[Any]:
        if self.reviewers_sql is not None:
            with query_rows(str(self.sql_conn_id), self.reviewers_sql) as (rows, columns):
                yield table.read_sql(rows, columns)
        elif isinstance(self.reviewers, str) and self.reviewers == MANAGER:
            yield MANAGER
        elif isinstance(self.reviewers, str):
            with table_file(self.reviewers, self.reviewers_conn_id, self.reviewers_format, "reviewers") as (file, fmt):
                yield table.read_file(file, fmt)
        else:
            yield table.read_rows(self.reviewers)


def _static_params() -> dict[str, Param]:
    """The form's two fields before the reviewer's items are known (execute fills in the item numbers)."""
    return {name: Param(spec["value"], description=spec["description"], title=spec["title"],
                        **{k: v for k, v in spec["schema"].items() if k not in ("examples", "values_display")})
            for name, spec in _form_fields().items()}


def _form_fields() -> dict[str, dict[str, Any]]:
    return {
        decide.REVOKE_PARAM: {"value": [], "title": "Items to revoke", "description": "Item numbers to revoke.",
                              "schema": {"type": ["array", "null"]}},
        decide.JUSTIFICATION_PARAM: {"value": "", "title": "Justification", "description": "Why.",
                                     "schema": {"type": ["string", "null"]}},
    }


class GenesysAccessReviewDecisionOperator(HITLOperator):
    """
    One reviewer's decision: a human-in-the-loop task (Airflow 3.1+) assigned to that reviewer only, mapped once
    per reviewer over the open task's reviews. The reviewer sees their items as a table and answers *Keep all*,
    *Revoke selected* (the item numbers picked under *Items to revoke*) or *Revoke all*, with a justification.
    At the review's deadline the default applies (``keep`` unless the review says ``revoke``).

    Returns the decision (XCom): the items revoked, who answered and when (or that the default applied).

    :param review: the review file (the open task's XCom ``review``; templated).
    :param reviewer: the reviewer's key in the review (from the open task's reviews).
    :param assigned_users: the Airflow users who may answer (from the open task's reviews).
    :param review_conn_id: the connection of the review file's storage.
    """

    template_fields: Sequence[str] = (*HITLOperator.template_fields, "review")
    ui_color = "#ff4f1f"

    def __init__(self, *, review: str, reviewer: str, assigned_users: Any = None, review_conn_id: str | None = None,
                 **kwargs: Any) -> None:
        for fixed in ("options", "defaults", "multiple", "subject", "body"):
            if fixed in kwargs:
                raise ValueError(f"{fixed} is set by the review (from its file); do not pass it.")
        params = ParamsDict(kwargs.pop("params", None) or {})
        params.update(_static_params())
        super().__init__(subject="Genesys access review", options=list(OPTIONS), params=params,
                         assigned_users=assigned_users, **kwargs)
        self.review, self.reviewer, self.review_conn_id = review, reviewer, review_conn_id

    def _review(self) -> Review:
        path = object_path(self.review, self.review_conn_id, "review")
        return Review(_opener(path, "r"), where=f"the review file {path}")

    def execute(self, context: Any) -> Any:
        with _failures():
            review = self._review()
            question = decide.form(review, self.reviewer)
        self.subject, self.body, self.defaults = question.subject, question.body, question.defaults
        self.params = ParamsDict({
            name: Param(spec["value"], description=spec["description"], title=spec["title"], **spec["schema"])
            for name, spec in question.params.items()})
        due = datetime.fromisoformat(review.header["due_at"])
        wait = max(due - datetime.now(UTC), timedelta(seconds=1))
        setattr(self, WAIT_ATTRIBUTE, wait)
        self.log.info("Asking %s about %d item(s); deadline %s (in %s); no answer: %s", self.assigned_users,
                      len(question.items), due.isoformat(), wait, question.defaults[0])
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        if "error" in event:
            self.process_trigger_event_error(event)
        with _failures():
            review = self._review()
            entry = review.reviewer(self.reviewer)
            at = event.get("responded_at")
            made = decide.decision(
                review, self.reviewer, range(entry["first_item"], entry["last_item"] + 1),
                chosen=event.get("chosen_options") or [], params=event.get("params_input") or {},
                responded_by=event.get("responded_by_user"),
                responded_at=at.isoformat() if hasattr(at, "isoformat") else at)
        self.log.info("%s: %s%s; %d item(s) revoked%s", made.decided_by["name"] if made.decided_by else
                      "No answer by the deadline", made.choice, " (default)" if made.default_applied else "",
                      len(made.revoke), f"; {made.note}" if made.note else "")
        return made.as_dict()


class GenesysAccessReviewCloseOperator(GenesysCloudBaseOperator):
    """
    Close the review: every decision gathered, checked against Genesys now (a user whose managed grants changed
    since the snapshot keeps them; the connection's own user is never revoked), the evidence written beside the
    review (NDJSON, CSV, a Markdown summary). Changes nothing in Genesys.

    XComs: ``rows``, the desired table for ``GenesysAccessPlanOperator(rows=..., relation="grants",
    mode="sync", managed_roles=...)`` (the managed roles' grants now, minus the revocations), ``managed_roles``
    (their ids), ``revoked`` (the revocations alone: give them to the plan as ``removable=``, so that the plan
    removes nothing else, not even a grant made since this task read the org), and the return value
    ``{"evidence", "evidence_csv", "summary", "counts"}``.

    :param review: the review file (the open task's XCom ``review``; templated).
    :param decisions: the decision task's output (one decision per reviewer).
    """

    template_fields: Sequence[str] = ("review", "decisions")

    def __init__(self, *, review: str, decisions: Any, review_conn_id: str | None = None, max_workers: int = 4,
                 genesys_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(genesys_conn_id=genesys_conn_id, **kwargs)
        self.review, self.decisions, self.review_conn_id, self.max_workers = review, decisions, review_conn_id, \
            max_workers

    def execute(self, context: Any) -> dict[str, Any]:
        path = object_path(self.review, self.review_conn_id, "review")
        decisions = self.decisions  # the decision task's output, resolved by the template rendering
        paths = [object_path(p, self.review_conn_id, "evidence") for p in evidence_paths(str(path))]
        with _failures(), self.hook as hook, api_errors_as_failures():
            org_id = hook.get_organization()["id"]
            review = Review(_opener(path, "r"), org_id=org_id, where=f"the review file {path}")
            by_reviewer = decisions_by_reviewer(review, list(decisions or ()))
            user, why = token_user(hook.client, hook.settings.grant_type)
            self.log.info("The connection's own user: %s (%s)", user or "none", why)
            current = read_current(hook.client, [r["id"] for r in review.header["managed_roles"]],
                                   max_workers=self.max_workers)
            try:
                with paths[0].open("w") as ndjson, paths[1].open("w") as csv_file:
                    closed = close_review(review, by_reviewer, current, evidence.EvidenceWriter(ndjson, csv_file),
                                          protected=[user] if user else ())
            finally:
                current.close()
            paths[2].write_text(closed.summary)
        self.log.info("Review closed: %s\n%s", closed.counts, closed.summary)
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is not None:
            ti.xcom_push(key="rows", value=closed.rows)
            ti.xcom_push(key="managed_roles", value=closed.managed_roles)
            ti.xcom_push(key="revoked", value=closed.revoked)
        return {"evidence": str(paths[0]), "evidence_csv": str(paths[1]), "summary": str(paths[2]),
                "counts": closed.counts, "managed_roles": closed.managed_roles}


EVIDENCE_ALIASES = ("genesys-access-review-evidence ", "genesys-access-review-evidence-csv ",
                    "genesys-access-review-summary ")


class GenesysAccessReviewEvidenceOperator(BaseOperator):
    """
    Complete the review's evidence with what apply did: each revocation ``removed``, ``refused`` (and why) or
    ``not_applied``, from apply's report beside the plan. Its output Assets are the evidence (NDJSON, CSV) and the
    summary. Runs whatever happened upstream (``trigger_rule="all_done"``); fails (after writing the evidence)
    when a revocation was not applied or apply made a change the review did not decide.

    :param review: the review file (templated).
    :param plan: the plan the review's rows were planned into (templated; its report is read beside it). Empty
        or missing when the plan was not made: every revocation is then ``not_applied``.
    """

    template_fields: Sequence[str] = ("review", "plan")
    ui_color = "#ff4f1f"

    def __init__(self, *, review: str, plan: str | None = None, review_conn_id: str | None = None,
                 plan_conn_id: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        if "outlets" not in kwargs and isinstance(review, str):
            files = evidence_paths(review)
            kwargs["outlets"] = [
                lineage.destination_outlet(name, None if has_template(review) else str(
                    object_path(name, review_conn_id, "review")), prefix)
                for name, prefix in zip(files, EVIDENCE_ALIASES, strict=True)]
        super().__init__(**kwargs)
        self.review, self.plan, self.review_conn_id, self.plan_conn_id = review, plan, review_conn_id, plan_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        path = object_path(self.review, self.review_conn_id, "review")
        paths = [object_path(p, self.review_conn_id, "evidence") for p in evidence_paths(str(path))]
        with _failures():
            review = Review(_opener(path, "r"), where=f"the review file {path}")
            if not paths[0].exists():
                raise ReviewError(f"No evidence at {paths[0]}: the close task did not run; run it first")
            report, why = self._report()
            with tempfile.TemporaryDirectory() as folder:
                local = [Path(folder) / "evidence.ndjson", Path(folder) / "evidence.csv"]
                try:
                    with paths[0].open("r") as old, local[0].open("w") as ndjson, local[1].open("w") as csv_file:
                        text, tally, unreviewed = evidence.complete(
                            review.header, review.checksum, evidence.read_lines(old), report,
                            evidence.EvidenceWriter(ndjson, csv_file), why_missing=why)
                finally:
                    if report is not None:
                        report.close()
                for source, target in zip(local, paths, strict=False):
                    with source.open("rb") as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
            paths[2].write_text(text)
        for target, prefix in zip(paths, EVIDENCE_ALIASES, strict=True):
            lineage.emit_destination_asset(self.outlets, context, str(target), prefix)
        self.log.info("Evidence completed: %s\n%s", tally.total, text)
        missing = tally.total["not_applied"] + tally.total["pending"]
        if missing or unreviewed:
            raise AirflowFailException(
                f"The evidence is complete, but {missing} revocation(s) were not applied"
                + (f" and apply made {len(unreviewed)} change(s) the review did not decide" if unreviewed else "")
                + f": see {paths[2]}")
        return {"evidence": str(paths[0]), "evidence_csv": str(paths[1]), "summary": str(paths[2]),
                "counts": tally.total}

    def _report(self) -> tuple[evidence.Report | None, str]:
        plan = (self.plan or "").strip()
        if not plan or plan == "None":
            return None, "not applied: no plan was made (see the plan task's log: a guardrail, a bad table)"
        target = object_path(report_path(plan), self.plan_conn_id, "plan")
        if not target.exists():
            return None, f"not applied: apply wrote no report beside {plan} (see the apply task's log)"
        with target.open("r") as lines:
            return evidence.Report(evidence.read_lines(lines)), "not in apply's report: the plan did not hold it"


__all__ = [
    "GenesysAccessReviewCloseOperator", "GenesysAccessReviewDecisionOperator", "GenesysAccessReviewEvidenceOperator",
    "GenesysAccessReviewOpenOperator",
]
