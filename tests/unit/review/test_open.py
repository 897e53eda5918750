"""Opening a review against the emulator: the snapshot holds exactly the org's direct grants of the managed
roles, each item goes to the user's active manager or the fallback (or the table's reviewer), the file is
checksummed, and every bad input is one clear error before anything is asked of anyone."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest

import airflow_provider_genesys.testing.org.catalogue as cat
from airflow_provider_genesys.access.review import ReviewError, open_review, read_snapshot
from airflow_provider_genesys.access.review import table as reviewer_table
from airflow_provider_genesys.access.review.model import FALLBACK
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.conftest import client_for
from tests.unit.review.conftest import NOW, division_id, loaded, review_text, role_id, user_grants, users


def first_active(emu: GenesysCloudEmulator, *, skip: set[str] = frozenset()) -> dict:
    return next(u for u in users(emu).values() if u["state"] == "active" and u["id"] not in skip)


def test_the_snapshot_is_the_orgs_direct_grants_each_with_its_managers_or_the_fallbacks_review(emu) -> None:
    fallback = first_active(emu)
    review = loaded(review_text(emu, fallback_reviewers=[fallback["email"]]), emu.org.org_id)
    items = list(review.items())
    supervisor = role_id(emu, "Supervisor")
    everyone = users(emu)
    assert {(i["user"], i["division"]) for i in items} == {
        (u, d) for u, d in user_grants(emu, supervisor) if everyone[u]["state"] != "deleted"}
    assert [i["item"] for i in items] == list(range(1, len(items) + 1))
    for item in items:
        manager = (everyone[item["user"]].get("manager") or {}).get("id")
        if manager and everyone[manager]["state"] == "active" and manager != item["user"]:
            assert (item["reviewer"], item["assigned_by"]) == (manager, "manager")
        else:
            assert item["reviewer"] == FALLBACK
            assert item["assigned_by"].startswith("fallback: ")
        assert item["role_name"] == "Supervisor"
        assert [supervisor, item["division"]] in item["user_held"]
    entries = review.reviewers
    assert entries[-1]["key"] == FALLBACK, "the fallback reviewers come last"
    assert entries[-1]["reviewers"] == [{"id": fallback["id"], "email": fallback["email"], "name": fallback["name"]}]
    for entry in entries:  # each reviewer's items are contiguous and counted
        mine = [i["item"] for i in items if i["reviewer"] == entry["key"]]
        assert mine == list(range(entry["first_item"], entry["last_item"] + 1))
        assert len(mine) == entry["items"]
    assert review.header["counts"] == {"items": len(items), "users": len({i["user"] for i in items}),
                                       "reviewers": len(entries)}


def test_an_item_says_which_groups_also_give_the_user_that_role_on_that_division(fresh) -> None:
    org = fresh.org
    everywhere = org.subjects.groups[0]  # the emulator's first group holds Supervisor on every division (*)
    member = next(i for i in org.subjects.members(0) if org.state_of(i) == "active")
    sales, support = (org.division_index(division_id(fresh, name)) for name in ("Sales", "Support"))
    org.change_grants([member], 0.0, add=[(cat.SUPERVISOR, sales), (cat.SUPERVISOR, support)])
    review = loaded(review_text(fresh, fallback_reviewers=[first_active(fresh)["email"]]))
    user = org.user_ids_by_index()[member]
    mine = {i["division_name"]: i["through_groups"] for i in review.items() if i["user"] == user}
    assert mine["Sales"] == mine["Support"] == [everywhere.name]
    outsiders = [i for i in review.items() if org.index_of(i["user"]) not in {
        u for g in range(len(org.subjects.groups)) for u in org.subjects.members(g)}]
    assert outsiders
    assert all(i["through_groups"] == [] for i in outsiders)


def test_a_manager_made_inactive_sends_their_people_to_the_fallback(fresh) -> None:
    everyone = users(fresh)
    before = list(loaded(review_text(fresh, fallback_reviewers=[first_active(fresh)["email"]])).items())
    manager = next(i["reviewer"] for i in before if i["reviewer"] != FALLBACK)
    theirs = {i["user"] for i in before if i["reviewer"] == manager}
    fresh.org.set_state(fresh.org.index_of(manager), "inactive", 0.0)
    after = list(loaded(review_text(fresh, fallback_reviewers=[first_active(fresh, skip={manager})["email"]])).items())
    moved = [i for i in after if i["user"] in theirs]
    assert moved
    assert all(i["reviewer"] == FALLBACK for i in moved)
    assert all(f"the manager {everyone[manager]['email']} is inactive" in i["assigned_by"] for i in moved)
    assert all(i["reviewer"] != manager for i in after)


def test_divisions_narrow_the_scope_and_star_means_the_all_division_grants(emu) -> None:
    fallback = [first_active(emu)["email"]]
    sales = loaded(review_text(emu, divisions=["sales"], fallback_reviewers=fallback))
    assert {i["division_name"] for i in sales.items()} == {"Sales"}
    assert sales.header["divisions"] == [{"id": division_id(emu, "Sales"), "name": "Sales"}]
    everything = loaded(review_text(emu, roles=["Master Admin"], divisions=["*"], fallback_reviewers=fallback))
    assert {i["division"] for i in everything.items()} == {"*"}


def table_rows(emu: GenesysCloudEmulator, reviewer: dict) -> list[tuple[str, str]]:
    """Every Supervisor but the first three by ``reviewer`` (the three go to the fallback)."""
    holders = sorted({u for u, _ in user_grants(emu, role_id(emu, "Supervisor"))})
    everyone = users(emu)
    return [(everyone[u]["email"], reviewer["email"]) for u in holders[3:] if u != reviewer["id"]]


@pytest.mark.parametrize("source", ["csv", "ndjson", "rows", "sql"])
def test_a_reviewer_table_from_a_file_rows_or_sql_names_each_users_reviewer(emu, source: str) -> None:
    reviewer = first_active(emu)
    fallback = first_active(emu, skip={reviewer["id"]})
    pairs = table_rows(emu, reviewer)
    if source == "csv":
        text = "\ufeffUser , REVIEWER\r\n" + "".join(f"{u},{r}\r\n" for u, r in pairs) + "\r\n"
        rows = reviewer_table.read_file(io.BytesIO(text.encode()), "csv")
    elif source == "ndjson":
        text = "".join(json.dumps({"user": u, "Reviewer": r, "note": "x"}) + "\n" for u, r in pairs)
        rows = reviewer_table.read_file(io.StringIO(text), "ndjson")
    elif source == "rows":
        rows = reviewer_table.read_rows([{"user": u, "reviewer": r} for u, r in pairs])
    else:
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE t (user TEXT, reviewer TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", pairs)
        cursor = db.execute("SELECT user, reviewer FROM t")
        rows = reviewer_table.read_sql(cursor, [c[0] for c in cursor.description])
    review = loaded(review_text(emu, reviewers=rows, fallback_reviewers=[fallback["email"]]))
    named = {u for u, _ in pairs}
    assert review.header["reviewers_from"] == "table"
    for item in review.items():
        if item["user_email"] in named:
            assert item["reviewer"] == reviewer["id"]
            assert item["assigned_by"].startswith("reviewer table row ")
        else:
            assert (item["reviewer"], item["assigned_by"]) == (FALLBACK, "fallback: not in the reviewer table")


def opening_fails(emu: GenesysCloudEmulator, **options) -> str:
    """Open a review that must be refused; the message, and proof that nothing was written."""
    opened = []
    snapshot = read_snapshot(client_for(emu), options.pop("roles", ["Supervisor"]), options.pop("divisions", None))
    try:
        with pytest.raises(ReviewError) as refused:
            open_review(snapshot, lambda: opened.append(1) or io.StringIO(), org_id="o", created_at=NOW,
                        due_at=NOW, **options)
    finally:
        snapshot.close()
    assert not opened, "nothing is written (nothing asked of anyone) when the review cannot be opened"
    return str(refused.value)


def test_an_empty_scope_is_refused_naming_the_scope(emu) -> None:
    holders = {d for _, d in user_grants(emu, role_id(emu, "Master Admin"))}
    empty = next(name for name in ("Sales", "Support", "Back Office") if division_id(emu, name) not in holders)
    message = opening_fails(emu, roles=["Master Admin"], divisions=[empty], fallback_reviewers=[])
    assert f"the scope is empty: no user holds Master Admin on {empty} directly" in message


def test_a_user_with_no_reviewer_and_no_fallback_is_refused_naming_them(emu) -> None:
    message = opening_fails(emu)
    assert "have no reviewer and no fallback_reviewers are given" in message
    assert "(no manager in Genesys)" in message
    assert "Give fallback_reviewers=[...]" in message


def test_a_reviewer_table_naming_unknown_or_inactive_people_is_refused_with_every_row(emu) -> None:
    everyone = users(emu)
    inactive = next(u for u in everyone.values() if u["state"] == "inactive")
    reviewer = first_active(emu)
    pairs = table_rows(emu, reviewer)
    rows = [(1, pairs[0][0], pairs[0][1]), (2, "nobody@example.com", reviewer["email"]),
            (3, pairs[1][0], "ghost@example.com"), (4, pairs[2][0], inactive["email"]),
            (5, pairs[0][0], first_active(emu, skip={reviewer["id"]})["email"])]
    message = opening_fails(emu, reviewers=iter(rows), fallback_reviewers=[reviewer["email"], "who@example.com"])
    for line in ("fallback reviewer 'who@example.com' is not a user of this org",
                 "row 2 of the reviewer table: user 'nobody@example.com' is not a user of this org",
                 "row 3 of the reviewer table: reviewer 'ghost@example.com' is not a user of this org",
                 f"row 4 of the reviewer table: reviewer '{inactive['email']}' is inactive",
                 "row 5 of the reviewer table: user"):
        assert line in message
    assert opening_fails(emu, reviewers=iter([]), fallback_reviewers=[reviewer["email"]]).count(
        "the reviewer table has no rows") == 1


def test_unknown_roles_or_divisions_are_refused_before_any_user_is_read(emu) -> None:
    emu.stats.reset()
    with pytest.raises(ReviewError, match=r"managed_roles 'Supervisr': no role is called 'Supervisr' \(closest: "
                                          r"'Supervisor'\)[\s\S]*divisions 'Mars'"):
        read_snapshot(client_for(emu), ["Supervisr"], ["Mars"])
    assert not any(" /api/v2/users" in route for route in emu.stats.by_path), "no user was read"
    with pytest.raises(ReviewError, match="managed_roles is empty"):
        read_snapshot(client_for(emu), [])


def test_opening_reads_listings_only_never_one_request_per_user(emu) -> None:
    emu.stats.reset()
    review_text(emu, fallback_reviewers=[first_active(emu)["email"]])
    routes = set(emu.stats.by_path)
    assert not [r for r in routes if "/users/{" in r or "/subjects/{" in r], routes
    assert sum(emu.stats.by_path.values()) < 20


def test_the_review_file_is_refused_when_edited_cut_short_of_another_org_or_not_a_review(emu) -> None:
    text = review_text(emu, fallback_reviewers=[first_active(emu)["email"]])
    assert loaded(text, emu.org.org_id).checksum.startswith("sha256:")
    lines = text.splitlines(keepends=True)
    edited = lines[1].replace('"keep"', '"revoke"').replace("Supervisor", "Supervisr")
    for broken, why in (("".join([lines[0], edited, *lines[2:]]), "does not match its content"),
                        ("".join(lines[:-1]), "has no checksum line"),
                        ("".join([*lines, lines[1]]), "goes on after its checksum line"),
                        ('{"plan": 1}\n', "is not a Genesys access review")):
        with pytest.raises(ReviewError, match=why):
            loaded(broken)
    with pytest.raises(ReviewError, match="was made for org"):
        loaded(text, "another-org")
