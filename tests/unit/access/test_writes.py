"""The fewest writes: role bulk-grants for subjects sharing a role and division set, bulkadd/bulkremove per
subject, member writes within Genesys' per-call limits, adds before removes, every change carried once."""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.access.registry import relation
from airflow_provider_genesys.access.relations.grants import ROLE_SUBJECTS_PER_CALL, one_grant_deletes
from airflow_provider_genesys.access.relations.group_members import GROUP_MEMBERS_PER_CALL
from airflow_provider_genesys.access.relations.queue_members import QUEUE_MEMBERS_PER_CALL


def writes_for(name: str, changes):
    """The relation's writes for ``changes``, as apply asks its module for them."""
    return relation(name).writes(list(changes))


def grant(action: str, subject: str, role: str, division: str, kind: str = "user") -> dict[str, Any]:
    return {"action": action, "subject": subject, "subject_type": kind, "role": role, "division": division}


def indexed(changes: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(changes))


def carried(writes) -> list[int]:
    return sorted(i for w in writes for i in w.changes)


def test_a_thousand_users_gaining_one_role_on_one_division_take_two_writes() -> None:
    changes = [grant("add", f"u{n:04d}", "r-sup", "d-sales") for n in range(1000)]
    writes = writes_for("grants", indexed(changes))
    assert [w.kind for w in writes] == ["role_grant", "role_grant"]
    assert writes[0].path == "/api/v2/authorization/roles/r-sup"
    assert writes[0].params == {"subjectType": "PC_USER"}
    assert len(writes[0].body["subjectIds"]) == ROLE_SUBJECTS_PER_CALL
    assert writes[0].body["divisionIds"] == ["d-sales"]
    assert carried(writes) == list(range(1000))


def test_subjects_share_a_role_write_only_with_the_same_division_set_and_type() -> None:
    changes = [
        grant("add", "u1", "r-sup", "d-sales"), grant("add", "u1", "r-sup", "d-home"),
        grant("add", "u2", "r-sup", "d-sales"), grant("add", "u2", "r-sup", "d-home"),
        grant("add", "u3", "r-sup", "d-sales"),  # another division set: alone
        grant("add", "g1", "r-sup", "d-sales", "group"), grant("add", "g2", "r-sup", "d-sales", "group"),
        grant("add", "u3", "r-qe", "*"),  # u3's other grant goes into the same bulkadd
    ]
    writes = writes_for("grants", indexed(changes))
    shapes = sorted((w.kind, w.path, tuple(w.body.get("subjectIds", ())), tuple(w.body.get("divisionIds", ())),
                     w.params.get("subjectType")) for w in writes)
    assert shapes == [
        ("bulkadd", "/api/v2/authorization/subjects/u3/bulkadd", (), (), "PC_USER"),
        ("role_grant", "/api/v2/authorization/roles/r-sup", ("g1", "g2"), ("d-sales",), "PC_GROUP"),
        ("role_grant", "/api/v2/authorization/roles/r-sup", ("u1", "u2"), ("d-home", "d-sales"), "PC_USER"),
    ]
    bulkadd = next(w for w in writes if w.kind == "bulkadd")
    assert bulkadd.body == {"grants": [{"roleId": "r-sup", "divisionId": "d-sales"},
                                       {"roleId": "r-qe", "divisionId": "*"}]}
    assert carried(writes) == list(range(len(changes)))
    group = writes_for("grants", indexed([grant("add", "g1", "r-qe", "*", "group")]))
    assert [(w.kind, w.params) for w in group] == [("bulkadd", {"subjectType": "PC_GROUP"})]


def test_removals_are_one_bulkremove_per_subject_after_every_add() -> None:
    changes = [grant("remove", "u1", "r-sup", "d-sales"), grant("add", "u1", "r-sup", "d-home"),
               grant("remove", "u1", "r-qe", "*"), grant("remove", "u2", "r-sup", "d-sales")]
    writes = writes_for("grants", indexed(changes))
    assert [w.kind for w in writes] == ["bulkadd", "bulkremove", "bulkremove"]
    assert writes[1].changes == [0, 2]
    deletes = one_grant_deletes(writes[1], dict(indexed(changes)))
    assert [(w.method, w.path, w.changes) for w in deletes] == [
        ("DELETE", "/api/v2/authorization/subjects/u1/divisions/d-sales/roles/r-sup", [0]),
        ("DELETE", "/api/v2/authorization/subjects/u1/divisions/%2A/roles/r-qe", [2]),
    ]


def test_group_members_go_fifty_at_a_time_with_the_groups_version() -> None:
    changes = [{"action": "add", "subject": f"u{n}", "subject_type": "user", "group": "g1"} for n in range(120)]
    changes += [{"action": "remove", "subject": f"v{n}", "subject_type": "user", "group": "g1"} for n in range(51)]
    writes = writes_for("group_members", indexed(changes))
    assert [(w.kind, len(w.changes)) for w in writes] == [
        ("group_add", 50), ("group_add", 50), ("group_add", 20), ("group_remove", 50), ("group_remove", 1)]
    assert all(w.versioned == "g1" for w in writes if w.kind == "group_add")
    assert writes[3].method == "DELETE"
    assert writes[3].params["ids"].count(",") == GROUP_MEMBERS_PER_CALL - 1
    assert carried(writes) == list(range(len(changes)))


def test_queue_members_go_a_hundred_at_a_time_and_delete_is_a_flag() -> None:
    changes = [{"action": "add", "subject": f"u{n}", "subject_type": "user", "queue": "q1"} for n in range(150)]
    changes += [{"action": "remove", "subject": "v1", "subject_type": "user", "queue": "q1"}]
    writes = writes_for("queue_members", indexed(changes))
    assert [(w.kind, len(w.body)) for w in writes] == [("queue_add", QUEUE_MEMBERS_PER_CALL), ("queue_add", 50),
                                                       ("queue_remove", 1)]
    assert writes[2].params == {"delete": "true"}
    assert writes[2].body == [{"id": "v1"}]


def test_user_state_is_one_patch_per_user_reactivations_first() -> None:
    changes = [{"action": "set", "subject": "u1", "subject_type": "user", "state": "inactive"},
               {"action": "set", "subject": "u2", "subject_type": "user", "state": "active"}]
    writes = writes_for("user_state", indexed(changes))
    assert [(w.method, w.path, w.body, w.versioned) for w in writes] == [
        ("PATCH", "/api/v2/users/u2", {"state": "active"}, "u2"),
        ("PATCH", "/api/v2/users/u1", {"state": "inactive"}, "u1"),
    ]
