"""read_org against the emulator (the same state the org holds), and GenesysAccessPlanOperator end to end:
desired from a file, SQL (SQLite) or rows; the plan file and the XCom; bad input fails the task."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.plan import loads
from airflow_provider_genesys.operators.access import GenesysAccessPlanOperator
from airflow_provider_genesys.testing import GenesysCloudEmulator


@pytest.fixture
def org(conn: GenesysCloudEmulator):
    """The org as read_org sees it, through the same connection the operator uses."""
    from airflow_provider_genesys.hooks.genesys import GenesysCloudHook

    with GenesysCloudHook() as hook:
        return (*read_org(hook.client, "grants"), hook.get_organization()["id"])


def test_read_org_holds_exactly_the_emulators_grants(conn: GenesysCloudEmulator, org) -> None:
    _, current, _ = org
    truth = {(s, r, d) for s, _, r, d in conn.org.iter_all_grants()}
    assert {(s, r, d) for s, held in current.held.items() for r, d in held} == truth
    assert current.admin_roles  # the emulator's admin role holds * permissions
    assert set(current.user_states) == set(conn.org.user_ids("any"))


def holders_rows(org, role_name: str) -> list[dict]:
    """Desired rows equal to who holds ``role_name`` directly now (users and groups)."""
    directory, current, _ = org
    role = directory.roles.resolve(role_name)
    rows = []
    for subject, held in sorted(current.held.items()):
        kind = current.subject_types[subject]
        if kind not in ("user", "group") or current.user_states.get(subject) == "deleted":
            continue
        for r, division in sorted(held):
            if r == role:
                rows.append({"subject": directory.users.label(subject) if kind == "user" else subject,
                             "subject_type": kind, "role": role_name, "division": division})
    return rows


def test_a_table_equal_to_the_org_plans_nothing(conn, org, tmp_path: Path) -> None:
    rows = holders_rows(org, "Agent")
    assert rows
    operator = GenesysAccessPlanOperator(task_id="plan", relation="grants", rows=rows,
                                         plan_path=str(tmp_path / "plan.json"))
    result = operator.execute({})
    assert result["plan"] == f"file://{tmp_path}/plan.json"
    plan = loads((tmp_path / "plan.json").read_text(), org_id=org[2])
    assert plan.changes == []
    assert "Nothing to change" in result["summary"]


def test_a_csv_file_and_a_sqlite_query_give_the_same_plan(conn, org, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    rows = holders_rows(org, "Agent")
    dropped, rest = rows[0], rows[1:]
    csv_path = tmp_path / "desired.csv"
    csv_path.write_text("\ufeffsubject,subject_type,role,division\r\n" + "".join(
        f"{r['subject']},{r['subject_type']},{r['role']},{r['division']}\r\n" for r in rest), encoding="utf-8")
    by_file = GenesysAccessPlanOperator(task_id="f", relation="grants", desired=str(csv_path),
                                        plan_path=str(tmp_path / "file.json"), allow_roleless=True).execute({})
    database = tmp_path / "desired.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE desired (subject TEXT, subject_type TEXT, role TEXT, division TEXT)")
        db.executemany("INSERT INTO desired VALUES (?, ?, ?, ?)",
                       [(r["subject"], r["subject_type"], r["role"], r["division"]) for r in rest])
    monkeypatch.setenv("AIRFLOW_CONN_ACCESS_DB", json.dumps({"conn_type": "sqlite", "host": str(database)}))
    by_sql = GenesysAccessPlanOperator(
        task_id="s", relation="grants", sql="SELECT subject, subject_type, role, division FROM desired",
        sql_conn_id="access_db", plan_path=str(tmp_path / "sql.json"), allow_roleless=True).execute({})
    file_plan = json.loads((tmp_path / "file.json").read_text())
    sql_plan = json.loads((tmp_path / "sql.json").read_text())
    assert file_plan["changes"] == sql_plan["changes"]
    (change,) = file_plan["changes"]
    assert change["action"] == "remove"
    assert change["division"] == dropped["division"]
    assert change["reason"].startswith("holds managed role Agent")
    assert "**0 to add, 1 to remove**" in by_file["summary"]
    assert by_sql["summary"].splitlines()[3:] == by_file["summary"].splitlines()[3:]  # all but when planned


def test_bad_input_fails_the_task_saying_what_to_fix(conn, tmp_path: Path) -> None:
    missing = tmp_path / "missing-column.csv"
    missing.write_text("subject,role\nx@example.com,Agent\n")
    with pytest.raises(AirflowFailException, match=r"lacks the column\(s\) division"):
        GenesysAccessPlanOperator(task_id="p", relation="grants", desired=str(missing),
                                  plan_path=str(tmp_path / "p.json")).execute({})
    with pytest.raises(AirflowFailException, match="no role is called 'Agnet' \\(closest: 'Agent'\\)"):
        GenesysAccessPlanOperator(task_id="p", relation="grants", plan_path=str(tmp_path / "p.json"),
                                  rows=[{"subject": "nobody@example.com", "role": "Agnet", "division": "*"}],
                                  ).execute({})
    assert not (tmp_path / "p.json").exists()
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(AirflowFailException, match=r"plan_path .* cannot be written"):
        GenesysAccessPlanOperator(task_id="p", relation="grants", mode="add_only",
                                  plan_path=str(blocked / "plan.json"),
                                  rows=[], allow_empty=True).execute({})


def test_arguments_are_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="exactly one of desired=, sql= or rows= \\(got desired, rows\\)"):
        GenesysAccessPlanOperator(task_id="p", relation="grants", desired="/d.csv", rows=[], plan_path="/p.json")
    with pytest.raises(ValueError, match="sql= needs sql_conn_id="):
        GenesysAccessPlanOperator(task_id="p", relation="grants", sql="SELECT 1", plan_path="/p.json")
    with pytest.raises(ValueError, match="relation 'roles' is not supported"):
        GenesysAccessPlanOperator(task_id="p", relation="roles", rows=[], plan_path="/p.json")
    with pytest.raises(ValueError, match="mode 'mirror' is not valid"):
        GenesysAccessPlanOperator(task_id="p", relation="grants", rows=[], plan_path="/p.json", mode="mirror")


def test_a_guardrail_is_loosened_for_one_run_through_a_template_and_checked_once_rendered(conn, org, tmp_path) -> None:
    rows = holders_rows(org, "Agent")[1:]  # one removal

    def planned(max_removals: object) -> GenesysAccessPlanOperator:
        operator = GenesysAccessPlanOperator(task_id="plan", relation="grants", rows=rows, allow_roleless=True,
                                             plan_path=str(tmp_path / "plan.json"),
                                             max_removals="{{ params.max_removals }}")
        operator.render_template_fields({"params": {"max_removals": max_removals}})
        return operator

    with pytest.raises(AirflowFailException) as refused:
        planned(0).execute({})
    assert "max_removals: the plan removes 1, more than max_removals=0" in str(refused.value)
    assert "trigger the DAG with conf setting the params this task renders them from (max_removals)" in str(
        refused.value)
    assert planned("1").execute({})["plan"], "the run's params loosen the rule"
    assert planned(None).execute({})["plan"], "None renders as no limit"
    with pytest.raises(AirflowFailException, match=r"max_removals='many' is not a whole number >= 0, or None \(no "
                                                   r"limit\) \(as rendered for this run\)"):
        planned("many").execute({})


def test_a_literal_guardrail_says_how_to_loosen_it_for_one_run(conn, org, tmp_path) -> None:
    rows = holders_rows(org, "Agent")[1:]
    with pytest.raises(AirflowFailException, match=r"give this task max_removals=\{\{ params.max_removals \}\} with "
                                                   r"DAG params"):
        GenesysAccessPlanOperator(task_id="plan", relation="grants", rows=rows, allow_roleless=True, max_removals=0,
                                  plan_path=str(tmp_path / "plan.json")).execute({})


@pytest.mark.parametrize(("argument", "message"), [
    ({"max_removals": "30"}, r"max_removals='30' is text: give max_removals as a value, or as a template "
                             r"\('\{\{ params.max_removals \}\}'\)"),
    ({"max_removal_fraction": 2}, r"max_removal_fraction=2 is not a number between 0 and 1, or None"),
    ({"min_admins": -1}, r"min_admins=-1 is not a whole number >= 0"),
    ({"allow_roleless": "yes"}, r"allow_roleless='yes' is text"),
    ({"manage_groups": 1.5}, r"manage_groups=1.5 is not True, False or None"),
])
def test_a_guardrail_of_the_wrong_kind_fails_when_the_dag_is_parsed(tmp_path, argument, message) -> None:
    with pytest.raises(ValueError, match=message):
        GenesysAccessPlanOperator(task_id="plan", relation="grants", rows=[{"subject": "x"}],
                                  plan_path=str(tmp_path / "plan.json"), **argument)
