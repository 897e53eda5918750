"""
Ops automation: grant one role in one division to a list of users, with a dry-run switch (on by default).

1. ``plan``: resolves the role (id or name), the division (default: the home division) and the users (ids
   or emails), reads each user's current grants and logs what would change. Users who already hold the
   role there (or in all divisions, ``*``) are left alone.
2. ``grant``: with ``dry_run`` false, one GenesysCloudApiOperator per user to grant:
   ``POST /api/v2/authorization/subjects/{userId}/bulkadd`` with ``{"grants": [{"roleId", "divisionId"}]}``
   (adding a grant someone already has changes nothing, so a retry is safe). Dry run: no task is mapped.
3. ``verify``: reads the grants back and fails, naming the users, if any grant is missing.

Run: ``airflow dags test genesys_ops_grant_role --conf '{"role": "Supervisor", "users": ["<id>",
"ann@example.com"], "dry_run": false}'``. See docs/sensors.md.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

try:
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow < 3.2
    from airflow.exceptions import AirflowFailException

from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
from airflow_provider_genesys.operators.genesys import GenesysCloudApiOperator

log = logging.getLogger(__name__)


def _find_role(hook: GenesysCloudHook, wanted: str) -> dict[str, Any]:
    roles = list(hook.get_roles())
    for role in roles:
        if (
            wanted in (role.get("id"), role.get("name"))
            or wanted.lower() == str(role.get("name", "")).lower()
        ):
            return role
    names = ", ".join(sorted(str(r.get("name")) for r in roles)[:20])
    raise AirflowFailException(f"No role with id or name {wanted!r}; roles include: {names}")


def _find_division(hook: GenesysCloudHook, wanted: str | None) -> dict[str, Any]:
    divisions = list(hook.get_divisions())
    for division in divisions:
        if division.get("id") == wanted or (not wanted and division.get("homeDivision")):
            return division
    what = f"division {wanted!r}" if wanted else "a home division"
    raise AirflowFailException(
        f"No {what} in this org; give division_id one of {[d['id'] for d in divisions]}"
    )


def _resolve_users(hook: GenesysCloudHook, entries: list[str]) -> list[str]:
    """User ids, in the order given; emails are looked up in one pass over the users listing."""
    emails = {entry.lower() for entry in entries if "@" in entry}
    by_email: dict[str, str] = {}
    if emails:
        for user in hook.get_users(state="any"):
            email = str(user.get("email", "")).lower()
            if email in emails:
                by_email[email] = user["id"]
                if len(by_email) == len(emails):
                    break
    unknown = sorted(emails - set(by_email))
    if unknown:
        raise AirflowFailException(f"No user with email {', '.join(unknown)}; check the users param")
    return list(dict.fromkeys(by_email[e.lower()] if "@" in e else e for e in entries))


def _has_grant(hook: GenesysCloudHook, user_id: str, role_id: str, division_id: str) -> bool:
    try:
        subject = hook.get_subject_grants(user_id)
    except GenesysCloudApiError as err:
        if err.status == 404:
            raise AirflowFailException(f"User {user_id!r} does not exist: {err}") from err
        raise
    # The listing also holds grants inherited from the user's groups (their subjectId is the group): only
    # a direct grant counts, as the DAG adds direct grants and a user may leave the group.
    return any(
        grant.get("subjectId", user_id) == user_id
        and (grant.get("role") or {}).get("id") == role_id
        and (grant.get("division") or {}).get("id") in (division_id, "*")
        for grant in subject.get("grants", [])
    )


@dag(
    dag_id="genesys_ops_grant_role",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["genesys", "ops", "example"],
    params={
        "role": Param("", type="string", description="Role id or name, e.g. Supervisor."),
        "division_id": Param(None, type=["null", "string"], description="Division id; empty: home division."),
        "users": Param([], type="array", items={"type": "string"}, description="User ids or emails."),
        "dry_run": Param(True, type="boolean", description="Only log the plan; change nothing."),
    },
)
def genesys_ops_grant_role() -> None:
    @task
    def plan(**context: Any) -> dict[str, Any]:
        """Who needs the grant: resolved and checked against current grants, logged line by line."""
        params = context["params"]
        if not str(params.get("role") or "").strip():
            raise AirflowFailException(
                'Set the \'role\' param to a role id or name, e.g. {"role": "Supervisor"}'
            )
        if not params.get("users"):
            raise AirflowFailException("Set the 'users' param to a list of user ids or emails")
        with GenesysCloudHook() as hook:
            role = _find_role(hook, str(params["role"]).strip())
            division = _find_division(hook, params.get("division_id"))
            user_ids = _resolve_users(hook, [str(u).strip() for u in params["users"]])
            holders = [u for u in user_ids if _has_grant(hook, u, role["id"], division["id"])]
        to_grant = [u for u in user_ids if u not in holders]
        mode = "DRY RUN, nothing will change" if params["dry_run"] else "applying"
        log.info("Grant role %r in division %r (%s):", role.get("name"), division.get("name"), mode)
        for user_id in user_ids:
            log.info("  %s %s", "already has it:" if user_id in holders else "will grant:   ", user_id)
        return {
            "role_id": role["id"],
            "division_id": division["id"],
            "to_grant": to_grant,
            "already": holders,
            "dry_run": bool(params["dry_run"]),
        }

    @task
    def grant_requests(planned: dict[str, Any]) -> list[dict[str, Any]]:
        """One bulkadd call per user to grant; none on a dry run."""
        if planned["dry_run"]:
            return []
        body = {"grants": [{"roleId": planned["role_id"], "divisionId": planned["division_id"]}]}
        return [
            {"endpoint": api_path("/api/v2/authorization/subjects/{}/bulkadd", user_id), "body": body}
            for user_id in planned["to_grant"]
        ]

    @task(trigger_rule="none_failed")
    def verify(planned: dict[str, Any]) -> dict[str, Any]:
        """Read the grants back: the run fails, naming them, if any user still lacks the role."""
        if planned["dry_run"]:
            log.info("Dry run: %d grant(s) would be added; nothing changed", len(planned["to_grant"]))
            return {"granted": 0, "would_grant": len(planned["to_grant"])}
        with GenesysCloudHook() as hook:
            missing = [
                u
                for u in planned["to_grant"]
                if not _has_grant(hook, u, planned["role_id"], planned["division_id"])
            ]
        if missing:
            raise AirflowFailException(
                f"These users still lack the grant after bulkadd: {', '.join(missing)}"
            )
        log.info("Verified %d new grant(s)", len(planned["to_grant"]))
        return {"granted": len(planned["to_grant"]), "would_grant": 0}

    planned = plan()
    grant = GenesysCloudApiOperator.partial(
        task_id="grant", method="POST", retry_non_idempotent=True
    ).expand_kwargs(grant_requests(planned))
    grant >> verify(planned)


genesys_ops_grant_role()
