"""GenesysAccessPlanOperator against the emulator: users named by HR key (``user_key="external:hr"``) and the
connection's own identities (the OAuth client, the user behind a user token) protected whatever the grant."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.operators.access import GenesysAccessPlanOperator
from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing.org.directory import HR_AUTHORITY
from tests.unit.access.conftest import CONN_ENV

LOOKUP = "GET /api/v2/users/externalid/"  # a 404 is counted under its own path, a 200 under the route
ME = "GET /api/v2/users/me"
LENIENT = {"max_removals": None, "max_removal_fraction": None, "allow_roleless": True, "min_admins": 0}


def lookups(emu: GenesysCloudEmulator) -> int:
    return sum(n for route, n in emu.stats.by_path.items() if route.startswith(LOOKUP))


def hr_key(emu: GenesysCloudEmulator, user_id: str) -> str | None:
    ids = emu.org.external_ids(emu.org.index_of(user_id))
    return ids[0]["externalKey"] if ids else None


def people(emu: GenesysCloudEmulator, count: int) -> list[tuple[str, str, str]]:
    """``count`` active users holding an HR key: (id, email, key)."""
    found = []
    for user_id in emu.org.user_ids("active"):
        key = hr_key(emu, user_id)
        if key:
            found.append((user_id, emu.org.render_user(emu.org.index_of(user_id))["email"], key))
    assert len(found) >= count
    return found[:count]


def plan_of(tmp_path: Path, name: str, **kwargs) -> dict:
    GenesysAccessPlanOperator(task_id=name, relation="grants", plan_path=str(tmp_path / f"{name}.json"),
                              **kwargs).execute({})
    return json.loads((tmp_path / f"{name}.json").read_text())


def grant_rows(users: list[tuple[str, str, str]], column: int) -> list[dict]:
    """Each user twice (two divisions... of one role): every name appears in two rows."""
    return [{"subject": user[column], "role": "Supervisor", "division": division}
            for user in users for division in ("*", "Home")]


def test_a_table_by_hr_key_plans_as_the_same_table_by_email_each_key_looked_up_once(conn, tmp_path) -> None:
    users = people(conn, 8)
    by_email = plan_of(tmp_path, "email", rows=grant_rows(users, 1), mode="add_only", **LENIENT)
    conn.stats.reset()
    by_key = plan_of(tmp_path, "key", rows=grant_rows(users, 2), mode="add_only", user_key=f"external:{HR_AUTHORITY}",
                     **LENIENT)
    assert by_key["changes"] == by_email["changes"]
    assert by_key["changes"]
    assert lookups(conn) == 8, "16 rows naming 8 people: 8 lookups"
    assert conn.stats.by_path[ME] == 0, "client credentials never ask who the token is"


def test_a_file_and_a_query_are_read_twice_and_give_the_same_plan(conn, tmp_path, monkeypatch) -> None:
    users = people(conn, 5)
    rows = grant_rows(users, 2)
    csv_path = tmp_path / "desired.csv"
    csv_path.write_text("subject,role,division\n" + "".join(f"{r['subject']},{r['role']},{r['division']}\n"
                                                             for r in rows))
    key = {"user_key": "external:hr", "mode": "add_only", **LENIENT}
    by_file = plan_of(tmp_path, "file", desired=str(csv_path), **key)
    database = tmp_path / "desired.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE desired (subject TEXT, role TEXT, division TEXT)")
        db.executemany("INSERT INTO desired VALUES (?, ?, ?)", [tuple(r.values()) for r in rows])
    monkeypatch.setenv("AIRFLOW_CONN_ACCESS_DB", json.dumps({"conn_type": "sqlite", "host": str(database)}))
    conn.stats.reset()
    by_sql = plan_of(tmp_path, "sql", sql="SELECT subject, role, division FROM desired", sql_conn_id="access_db",
                     **key)
    assert by_sql["changes"] == by_file["changes"]
    assert len(by_file["changes"]) >= 5
    assert lookups(conn) == 5


def test_unknown_keys_are_all_listed_with_their_rows_and_other_problems(conn, tmp_path) -> None:
    (ann,) = people(conn, 1)
    rows = [{"subject": ann[2], "role": "Supervisor", "division": "*"},
            {"subject": "E999999", "role": "Supervisor", "division": "*"},
            {"subject": ann[1], "role": "Supervisor", "division": "*"},  # an email is not a key
            {"subject": "E999999", "role": "Supervisr", "division": "*"},
            {"subject": "hr/../x", "role": "Supervisor", "division": "*"}]
    with pytest.raises(AirflowFailException) as caught:
        plan_of(tmp_path, "p", rows=rows, user_key="external:hr", **LENIENT)
    message = str(caught.value)
    assert message.startswith("5 row(s) of the desired table name something Genesys does not have")
    for line in ("row 2 (E999999, Supervisor, *): subject 'E999999': no user has external id 'E999999' under "
                 "authority 'hr'",
                 f"row 3 ({ann[1]}, Supervisor, *): subject '{ann[1]}': no user has external id '{ann[1]}' under "
                 "authority 'hr'",
                 "row 4 (E999999, Supervisr, *): subject 'E999999': no user has external id",
                 "row 4 (E999999, Supervisr, *): role 'Supervisr': no role is called 'Supervisr' (closest: "
                 "'Supervisor')",
                 "row 5 (hr/../x, Supervisor, *): subject 'hr/../x': no user has external id 'hr/../x'"):
        assert line in message
    assert lookups(conn) == 4  # E999999 once
    assert not (tmp_path / "p.json").exists()


def test_lookups_answered_429_are_sent_again_after_retry_after(conn, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(CONN_ENV, json.dumps(conn.connection_dict(max_retry_wait=2, max_attempts=3)))
    users = people(conn, 6)
    conn.faults.rate_limit(retry_after=1, count=4, path=r"^/api/v2/users/externalid/")
    try:
        by_key = plan_of(tmp_path, "key", rows=grant_rows(users, 2), mode="add_only", user_key="external:hr",
                         **LENIENT)
    finally:
        conn.faults.clear()
    by_email = plan_of(tmp_path, "email", rows=grant_rows(users, 1), mode="add_only", **LENIENT)
    assert by_key["changes"] == by_email["changes"]
    assert conn.stats.rate_limited == 4
    assert lookups(conn) == 6 + 4


def test_user_key_is_checked_when_the_dag_is_parsed() -> None:
    for bad in ("external:", "hr", "external: ", "email"):
        with pytest.raises(ValueError, match=r"user_key=.* is not understood: .*'external:<authority>'"):
            GenesysAccessPlanOperator(task_id="p", relation="grants", rows=[], plan_path="/p.json", user_key=bad)
    operator = GenesysAccessPlanOperator(task_id="p", relation="grants", rows=[], plan_path="/p.json",
                                         user_key="external:Workday HR")
    assert operator.authority == "Workday HR"


def test_protected_subjects_stay_ids_or_emails_with_external_keys(conn, tmp_path) -> None:
    ann, bob = people(conn, 2)
    with pytest.raises(AirflowFailException, match=r"1 subject\(s\) listed in protected_subjects .*: "
                                                   + ann[1].replace(".", r"\.")):
        plan_of(tmp_path, "p", rows=grant_rows([ann, bob], 2), user_key="external:hr", mode="add_only",
                protected_subjects=[ann[1]], **LENIENT)


# ---- the connection's own identities ------------------------------------------------------------------


def supervisor_holders(emu: GenesysCloudEmulator) -> tuple[list[str], str]:
    """Users holding Supervisor directly now, and the role's id."""
    from airflow_provider_genesys.hooks.genesys import GenesysCloudHook

    with GenesysCloudHook() as hook:
        directory, current = read_org(hook.client, "grants")
    role = directory.roles.resolve("Supervisor")
    holders = sorted(s for s, held in current.held.items() if current.subject_types[s] == "user"
                     and current.user_states.get(s) == "active" and any(r == role for r, _ in held))
    return holders, role


def with_token(monkeypatch: pytest.MonkeyPatch, emu: GenesysCloudEmulator, token: str) -> None:
    monkeypatch.setenv(CONN_ENV, json.dumps(emu.connection_dict(grant_type="access_token", access_token=token,
                                                                max_retry_wait=0, max_attempts=3)))


def test_the_plan_refuses_to_remove_the_token_users_grants(conn, tmp_path, monkeypatch) -> None:
    holders, _ = supervisor_holders(conn)
    me, keep = holders[0], holders[1:]
    with_token(monkeypatch, conn, conn.issue_token("saml2_bearer", user_id=me))
    label = conn.org.render_user(conn.org.index_of(me))["email"]
    rows = [{"subject": r, "role": "Supervisor", "division": "*"} for r in keep]
    with pytest.raises(AirflowFailException) as caught:
        plan_of(tmp_path, "p", rows=rows, **LENIENT)
    message = str(caught.value)
    assert "protected_subjects: the plan changes 1 of the connection's own identities, which are always protected" \
        in message
    assert f"removal(s)): {label} (the user behind the connection's token); these have no override" in message
    assert conn.stats.by_path[ME] == 1
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("answer", ["400", "403", "404"])
def test_a_client_token_used_as_access_token_has_no_user_and_plans(answer, tmp_path, monkeypatch, capsys) -> None:
    with GenesysCloudEmulator(users=30, seed=3, users_me_client=answer) as emu:
        with_token(monkeypatch, emu, emu.issue_token())
        holders, _ = supervisor_holders(emu)
        rows = [{"subject": h, "role": "Supervisor", "division": "*"} for h in holders]
        plan = plan_of(tmp_path, "p", rows=rows, allow_empty=True, **LENIENT)
        assert emu.stats.by_path[ME] == 1
    assert plan["relation"] == "grants"
    logged = capsys.readouterr().out  # the task logger writes to stdout
    assert f"no token user (GET /api/v2/users/me answered {answer}" in logged
    assert "the token has no user (a client's token)" in logged


def test_other_answers_to_users_me_still_fail(conn, tmp_path, monkeypatch) -> None:
    with_token(monkeypatch, conn, conn.issue_token("saml2_bearer"))
    conn.faults.status(401 + 100, path=r"/api/v2/users/me$", count=None)  # 501: not a "no user" answer
    try:
        with pytest.raises((AirflowFailException, GenesysCloudApiError), match="501"):
            plan_of(tmp_path, "p", rows=[], allow_empty=True)
    finally:
        conn.faults.clear()


def test_the_oauth_client_is_never_planned_even_holding_the_managed_role(conn, tmp_path) -> None:
    from airflow_provider_genesys.hooks.genesys import GenesysCloudHook

    with GenesysCloudHook() as hook:
        _, current = read_org(hook.client, "grants")
    clients = [s for s, kind in current.subject_types.items() if kind not in ("user", "group")
               and current.held.get(s)]
    assert clients, "the emulator's org has OAuth clients holding roles"
    holders, _ = supervisor_holders(conn)
    plan = plan_of(tmp_path, "p", rows=[{"subject": holders[0], "role": "Supervisor", "division": "*"}],
                   **LENIENT)
    assert not {c["subject"] for c in plan["changes"]} & set(clients)
