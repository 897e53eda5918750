"""The plan artifact: made from the pieces, stored as JSON, refused when edited or from another org; the
Markdown summary stays small."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from airflow_provider_genesys.access.desired import read_file, read_rows
from airflow_provider_genesys.access.errors import GuardrailError, PlanError, UnresolvedNamesError
from airflow_provider_genesys.access.guardrails import Guardrails
from airflow_provider_genesys.access.plan import SCHEMA, SUMMARY_LIMIT, dumps, loads, summary
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.access.state import CurrentState, fingerprint
from tests.unit.access.org import ANN, BOB, CLIENT, ORG, directory, grants_state

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
TABLE = (b"subject,subject_type,role,division\r\n"
         b"ann@example.com,,Supervisor,Home\r\n"
         b"bob@example.com,user,Quality Evaluator,*\r\n"
         b"Team Leads,group,supervisor,Support\r\n"
         b"ANN@example.com,,Supervisor,home\r\n")


def make(table=TABLE, **kwargs):
    args = {"relation": "grants", "directory": directory(), "current": grants_state(), "org_id": ORG,
            "created_at": NOW, **kwargs}
    return plan_access(read_file(io.BytesIO(table), "grants", "csv"), **args)


def test_a_plan_names_each_change_why_and_the_touched_subjects_fingerprints():
    plan = make()
    assert plan.changes == [
        {"action": "add", "subject": ANN, "subject_type": "user", "subject_name": "ann@example.com",
         "role": "r-sup", "role_name": "Supervisor", "division": "d-home", "division_name": "Home",
         "reason": "row 1 of the desired table", "row": 1},
        {"action": "remove", "subject": ANN, "subject_type": "user", "subject_name": "ann@example.com",
         "role": "r-sup", "role_name": "Supervisor", "division": "d-sales", "division_name": "Sales",
         "reason": "holds managed role Supervisor on Sales, not in the desired state"},
    ]
    assert plan.scope == {"mode": "sync", "managed": ["r-qe", "r-sup"],
                          "managed_names": ["Quality Evaluator", "Supervisor"], "managed_from": "the desired table"}
    assert plan.counts == {"add": 1, "remove": 1, "set": 0, "subjects": 1, "desired_rows": 4, "managed_held": 3}
    assert plan.warnings == [{"kind": "duplicate", "count": 1, "examples": ["row 4 repeats row 1"],
                              "message": "rows repeat an earlier row and were collapsed into it"}]
    current = grants_state()
    assert plan.fingerprints == {ANN: current.fingerprint(ANN)}
    assert plan.created_at == "2026-12-04T09:30:00+00:00"


def test_fingerprints_change_with_the_subjects_grants_and_not_with_reading_order():
    a = fingerprint("grants", ANN, [("r1", "d1"), ("r2", "*")])
    assert a == fingerprint("grants", ANN, [("r2", "*"), ("r1", "d1")])
    assert a != fingerprint("grants", ANN, [("r1", "d1")])
    assert a != fingerprint("grants", BOB, [("r1", "d1"), ("r2", "*")])


def test_the_json_round_trips_and_refuses_edits_other_orgs_and_other_schemas():
    plan = make()
    text = dumps(plan)
    assert loads(text, org_id=ORG) == plan
    assert json.loads(text)["checksum"].startswith("sha256:")
    edited = text.replace('"action": "remove"', '"action": "add"')
    with pytest.raises(PlanError, match="edited after it was made"):
        loads(edited, org_id=ORG)
    with pytest.raises(PlanError, match="made for org 'org-1', but the connection is to org 'org-2'"):
        loads(text, org_id="org-2")
    with pytest.raises(PlanError, match="not JSON"):
        loads(text[:100], org_id=ORG)
    with pytest.raises(PlanError, match="not a Genesys access plan"):
        loads("{}", org_id=ORG)
    other = json.loads(text)
    other["schema"] = "genesys-access-plan/9"
    with pytest.raises(PlanError, match=f"this version reads '{SCHEMA}'"):
        loads(json.dumps(other), org_id=ORG)


def test_unknown_names_fail_the_plan_listing_every_row():
    table = b"subject,role,division\nann@example.com,Supervsor,Home\nzed@example.com,Supervisor,Nowhere\n"
    with pytest.raises(UnresolvedNamesError) as caught:
        make(table)
    assert caught.value.problems == [
        "row 1 (ann@example.com, Supervsor, Home): role 'Supervsor': no role is called 'Supervsor' (closest: "
        "'Supervisor')",
        "row 2 (zed@example.com, Supervisor, Nowhere): subject 'zed@example.com': no user has the email "
        "'zed@example.com'",
        "row 2 (zed@example.com, Supervisor, Nowhere): division 'Nowhere': no division is called 'Nowhere'",
    ]
    assert str(caught.value).startswith("3 row(s) of the desired table name something Genesys does not have")


def test_managed_roles_and_protected_subjects_by_name_and_their_typos():
    plan = make(managed=["supervisor"], protected_subjects=["Night Shift", BOB])
    assert plan.scope["managed"] == ["r-sup"]
    with pytest.raises(UnresolvedNamesError, match="managed roles 'Supervisors': no role is called"):
        make(managed=["Supervisors"])
    with pytest.raises(UnresolvedNamesError, match="protected subject 'nobody' is neither a user nor a group"):
        make(protected_subjects=["nobody"])


def test_guardrails_run_before_a_plan_exists():
    with pytest.raises(GuardrailError, match="max_removals: the plan removes 1, more than max_removals=0"):
        make(rails=Guardrails(max_removals=0))
    with pytest.raises(GuardrailError, match="the user behind the connection's token"):
        make(token_user_id=ANN, oauth_client_id=CLIENT)


def test_the_oauth_client_is_never_touched_even_holding_a_managed_role():
    plan = make(b"subject,role,division\nann@example.com,Supervisor,Sales\n", managed=["Supervisor"],
                rails=Guardrails(allow_roleless=True))
    assert CLIENT not in {c["subject"] for c in plan.changes}


def test_summary_is_markdown_with_counts_changes_and_warnings():
    text = summary(make())
    assert "**1 to add, 1 to remove** across 1 subject(s), from 4 desired rows (3 held in scope now)." in text
    assert "| add | ann@example.com | Supervisor | Home | row 1 of the desired table |" in text
    assert "- 1 rows repeat an earlier row and were collapsed into it (e.g. row 4 repeats row 1)" in text


def test_summary_of_a_large_plan_stays_small():
    users = [{"id": f"00000000-0000-4000-8000-{n:012d}", "email": f"u{n}@example.com", "state": "active"}
             for n in range(3000)]
    rows = [{"subject": u["email"], "role": "Supervisor", "division": "Home"} for u in users]
    current = CurrentState("grants")
    current.add_users(users)
    plan = plan_access(read_rows(rows, "grants"), relation="grants", directory=directory(users=users),
                       current=current, org_id=ORG, created_at=NOW)
    text = summary(plan)
    assert len(plan.changes) == 3000
    assert "... and 2980 more changes in the plan file." in text
    assert len(text) < SUMMARY_LIMIT


def test_a_plan_needs_a_time_zone_and_a_matching_state():
    with pytest.raises(PlanError, match="time zone"):
        make(created_at=datetime(2026, 12, 4))
    with pytest.raises(Exception, match="current state is of 'user_state'"):
        make(current=CurrentState("user_state"))
