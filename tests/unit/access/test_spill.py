"""Planning's spill: the plan files, checksums and guardrail verdicts are the ones planning gave before the
desired set and the changes moved to a temporary SQLite database (digests pinned from that code)."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import random
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.access.desired import read_rows
from airflow_provider_genesys.access.diff import Change, Scope, diff
from airflow_provider_genesys.access.errors import GenesysAccessError, GuardrailError
from airflow_provider_genesys.access.guardrails import Guardrails, Protected, check
from airflow_provider_genesys.access.names import DesiredItem, Directory, NameIndex, UserIndex
from airflow_provider_genesys.access.plan import checksum, dumps, loads, summary, write
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.access.relations.queue_members import add_queue_members
from airflow_provider_genesys.access.spill import Spill, SpilledFingerprints, SpilledSequence
from airflow_provider_genesys.access.state import CurrentState
from airflow_provider_genesys.operators.access import GenesysAccessPlanOperator
from tests.unit.access import test_plan_operator as operator_tests
from tests.unit.access.org import ORG, uid

diff_module = importlib.import_module("airflow_provider_genesys.access.diff")

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
ROLES = [{"id": f"r-{n}", "name": f"Role {n}"} for n in range(5)] + [
    {"id": "r-admin", "name": "Admin", "permissionPolicies": [{"domain": "*"}]}]
DIVISIONS = [{"id": f"d-{n}", "name": f"Division {n}"} for n in range(4)]
GROUPS = [{"id": f"g-{n}", "name": f"Group {n}"} for n in range(3)]
QUEUES = [{"id": f"q-{n}", "name": f"Queue {n}"} for n in range(3)]
RELAXED = Guardrails(max_removals=None, max_removal_fraction=None, min_admins=0, allow_roleless=True)


def random_org(rng: random.Random, relation: str, users: int = 60) -> tuple[Directory, CurrentState]:
    """Users of every state, grants (admin role included), group and queue members; ``authz`` for the
    membership relations, so the admin guardrail has something to count."""
    people = [{"id": uid(n), "email": f"user{n}@example.com", "state": rng.choice(["active"] * 8 + ["inactive",
               "deleted"])} for n in range(users)]
    members = [{"groupId": rng.choice(GROUPS)["id"], "userId": uid(n)} for n in range(users) if rng.random() < 0.4]
    grants = [(uid(rng.randrange(users)), "user", rng.choice(ROLES)["id"], rng.choice([*DIVISIONS, {"id": "*"}])["id"])
              for _ in range(users * 2)]
    grants += [(g["id"], "group", rng.choice(ROLES)["id"], "d-0") for g in GROUPS if rng.random() < 0.7]

    def authz() -> CurrentState:
        state = CurrentState("grants")
        state.add_users(people)
        state.add_roles(ROLES)
        for subject, kind, role, division in grants:
            state.add_grant({"subjectId": subject, "subjectType": kind, "roleId": role, "divisionId": division})
        state.add_group_members(members)
        return state

    if relation == "grants":
        current = authz()
    else:
        current = CurrentState(relation)
        current.add_users(people)
        current.add_group_members(members)
        add_queue_members(current, ({"queueId": rng.choice(QUEUES)["id"], "userId": uid(n)}
                                    for n in range(users) if rng.random() < 0.3))
        current.authz = authz()
    directory = Directory(NameIndex.of("role", ROLES), NameIndex.of("division", DIVISIONS),
                          NameIndex.of("group", GROUPS), NameIndex.of("queue", QUEUES), UserIndex.of(people))
    return directory, current


def random_rows(rng: random.Random, relation: str, users: int = 60) -> list[dict[str, str]]:
    def user() -> str:
        n = rng.randrange(users)
        return f"user{n}@example.com" if rng.random() < 0.7 else uid(n)

    rows, states = [], {}
    for _ in range(rng.randint(1, users * 2)):
        if relation == "grants":
            group = rng.random() < 0.1
            subject = rng.choice(GROUPS)["name"] if group else user()
            role = rng.choice([*ROLES[:3], ROLES[-1]])["name"]
            rows.append({"subject": subject, "subject_type": "group" if group else "user", "role": role,
                         "division": rng.choice([*DIVISIONS, {"name": "*"}])["name"]})
        elif relation == "group_members":
            rows.append({"group": rng.choice(GROUPS)["name"], "user": user()})
        elif relation == "queue_members":
            rows.append({"queue": rng.choice(QUEUES)["name"], "user": user()})
        else:
            n = len(rows) * 7 % users  # a user asked for twice asks for the same state: two would be an error
            rows.append({"user": uid(n), "state": states.setdefault(n, rng.choice(["active", "inactive"]))})
    return rows


CASES = [(relation, seed, mode) for relation in ("grants", "group_members", "queue_members", "user_state")
         for seed in range(3) for mode in ("sync", "add_only")]


def planned(relation: str, seed: int, mode: str):
    rng = random.Random(f"{relation}-{seed}")
    directory, current = random_org(rng, relation)
    rows = random_rows(rng, relation)
    managed = None if seed != 2 or relation == "user_state" else [
        {"grants": ROLES, "group_members": GROUPS, "queue_members": QUEUES}[relation][0]["name"]]
    return plan_access(read_rows(rows, relation), relation=relation, directory=directory, current=current,
                       org_id=ORG, created_at=NOW, managed=managed, mode=mode, rails=RELAXED)


# sha256 of the plan file, the plan's checksum and sha256 of the summary, as the code before the spill gave.
PINNED: dict[str, tuple[str, str, str]] = {
    "grants-0-sync": (
        "dbfb9ad09224dd7e372d35095c103247ac2217ef41e724370916cf508ce30da8",
        "sha256:4adeda3b2a8a1bd1be1d4df0dc3be346065f23d61ebcf672f8509b9f87712e4c",
        "b0b70bbd78bda91308f18f5a45c40ba00b8c96ee28d42dd32eee7641d63628a2"),
    "grants-0-add_only": (
        "271c1b024c253d46914c2d7ed3eec5c6ce57e63484f29ee171525322e218b162",
        "sha256:06129f6aaeeb4efd73bfc604053018ccdce54197c8829c79a2040ee100f850e0",
        "898090ee14b6a114a426b2bbbd4c480f9b01d546d0ab90d843e18f6574105632"),
    "grants-1-sync": (
        "b234797e2ca625908e0d4c517a1e1e6b5a933a809b3273f5a4a3c58e4d4ced94",
        "sha256:06813c3b135b5886260b6446387a41c00235aa310de4cb4562aa7888b36ba6e8",
        "21b5c1947f80eea65c305e850f3b0f58521e4f25c2a2c6ea2d740b0b8affb1ce"),
    "grants-1-add_only": (
        "9823b1894e46faf930727c7ea26d0742c437b53c1266b14d527e970c5f8c61db",
        "sha256:dabc74a7934a36ceca666fa2758287145ebdde3bc017748cc191dd7eb763352a",
        "627c49f6a851f34c293efe72bfc6f29f4b1072cef1907c463753f56c468ed56c"),
    "grants-2-sync": (
        "513e93b32112fce633ff20b666f017de9539b0129a7ec4cf7fcf5b3d36c8cafc",
        "sha256:5b97b403c39415da797b517d695c535fac56b1c7f532c7e0edf13670326b9ce4",
        "5b977fe725239e5e1c2707b2634b65d7098eaeaac9716371d44c9f23fac4b62f"),
    "grants-2-add_only": (
        "72228874fc10ebf252cf043d693113de935a63592d06e57bdde7980371146a11",
        "sha256:0d45bf589e4ac94b8d0ef61f0184debbef90c9005be8b938c27fc469190ac3a9",
        "2e163572d9eb0a483d1c217cc6893a5eeda5b2600a153d4220b3c0406a9109c5"),
    "group_members-0-sync": (
        "c4e22187057f21db4acc980618c2a30afd51fe0b0503fa071a19f6ec807b0db0",
        "sha256:558042436b34bc76819415bd48d7b6261c5e882cd549498dec3abb911d0d82c0",
        "8ff4e2fc3b8b1d3bd95b17dbd446bf2e0db0480bf3ad26b82329f23903870485"),
    "group_members-0-add_only": (
        "b6e02f1dd996f3f4d9d34db6595a235b9c7d3097e6583b7e2a1e26815f4f6eaa",
        "sha256:cb2366674a3d9479242767e77b5e96767686080486d16d11823b513045b4ed88",
        "c4b133d46051cfcbac0ffd7077c5948b2cd2444e3ef6f258bb4e4e0e3dc306d3"),
    "group_members-1-sync": (
        "ad6dbaff47fbfa364043e2bd15b5fd38c50e21e02c9704ef1667d828a5d5b03a",
        "sha256:ff2a32b287bd58696e3fa4a431749f36e5d637a3c1892cc3c05f28dc4c568cf2",
        "818d6c2391476dca400350d755aca8a1c27b358df0de74d9946b172d082ccd2b"),
    "group_members-1-add_only": (
        "2863997b69ba9544523f41fcc659b8ce87ab649ceebab17dd4bbbbf096d2e8bd",
        "sha256:a28f6c31c5e971d9dbae2f65e4c59d99bbe7952e279e9899712e2e1a88092bc8",
        "993d66f4d3506d526c635d71c6cf6712d508848e68987cd6a5541026bad3cf10"),
    "group_members-2-sync": (
        "fae4e0009c9ef121f5266c0e14a2f4349436efd9bf3529cde958390945754076",
        "sha256:a7be4d92b7c105f6340b659a1826f00b65f17c3af94c466b19ca6f99768b996e",
        "248cc77fd0298327702359b5274ee4beca77d904a5069e228aedaeda58a03b17"),
    "group_members-2-add_only": (
        "ebd4be303945bb49884a490f07559a0e93fc798b79a031505692929a22edc424",
        "sha256:9a13d14ba757c6bef996e2ff46dacb8825d731b8152f9323187a300c92de2757",
        "185188e2f4de109b2c0a70d75291414bf17c06848554e3c3ef79200c8ce137e6"),
    "queue_members-0-sync": (
        "814a3bef0423fa033ff0f674af2d6d49fd8b5924127d01d99491adf0c3e36212",
        "sha256:4e170514eaf992273a21f4d6886aac7074cc8ed79bbe48591791734d38d8ba00",
        "fb9e2c4f1697809a9c0cd1e7387a0b00191d3745a8a8634a3f15305617d116f1"),
    "queue_members-0-add_only": (
        "4b4cea7c149114b1eccd6d5d4b1dbe79b6175752dc64fe4662cfa050bea13876",
        "sha256:845547d7aab4ba86e687c7ff7907b0329f6ed0d80f600da9b307eaf3a9653deb",
        "2824d706cde6e6eaf821a8e9562856cf48a9eb8f5ef6118ddc6225091b6e8c8f"),
    "queue_members-1-sync": (
        "29276349669f5b8d4036779dc0b7a2dbce6639719092ebce81b12388e2bc4c08",
        "sha256:b97487f81637e159509e6d3644e634bb26a4b151c5fb3f4350fe8367f2428726",
        "dc0fd3293b6fc5fd2f9e1329f52aeeedcedee9142b9a4f23e024d7936e2bdef5"),
    "queue_members-1-add_only": (
        "3f5d225bfb08aec9b33a9cefd2ff020c67520e324e85adbe264e691929ee5bac",
        "sha256:e86ad0c994f9b320ddaf446da9d8dda66611988df715a8003ffa4326e6710c7b",
        "95887a187853a64182f32a5208160d498ee805baf628105c1342563f6619e480"),
    "queue_members-2-sync": (
        "33b099fcb13504e18a19969e288252991ddde1923da924c54a24f8934ef1d07f",
        "sha256:74b831cac43f560edeaba9b6a9eb740dac00aeffc0a7f8c43864d100830841fd",
        "9db2db88c41aff81dcd73cc6e513466882462529a3fe0c332bfab0bfa4d4aeac"),
    "queue_members-2-add_only": (
        "5f960515d362fdf3d932cc0ef0e1530206fa7f9feff89bf98e46c3e3c6fcfe12",
        "sha256:b37b90655a6694b80f54fdb454c95f3bab6f3b65e6d732ecbb25f57e88d89caa",
        "53e839948fe585769cad5f43c2eabf1a8eb47a376405165b6f1dcdbf997c193a"),
    "user_state-0-sync": (
        "90663783edfccc4d356cad4e13012c76f26a93b9b6b51ed55baaae40d10b69f5",
        "sha256:4e6bb27e0e6ba4f65fd71c6872509c3b9f436fbaf5c4b5c98956be23b56a88d2",
        "0c0493d2efa84f1ce9575b8a4afdf0f3052eb5f2d432291f0ad0bc5c0b7be601"),
    "user_state-0-add_only": (
        "12e0045b01ea50a60f20ea87d61d01fe6471e14f6952c1743984a03efac602da",
        "sha256:13e21bcdeb9ca8e093c897cb3f0eb79d036c9f2041e79b321781af1c826ef928",
        "048a8b1ab94d38ec59d65a3cf48d0e3d2e0d0586acadf0295b841bb03f93e1b3"),
    "user_state-1-sync": (
        "835ae4e725ff26e70e40778a8327facd268858e5811d24fa2f0133c43f6be735",
        "sha256:36cd84e23a2c379bbda4fbb161d8952c48f259b13f692e08ef4578cb41b41dab",
        "4c4a1d41060e7e81bde3383f75550c3e9c3f0e2cb009eb9ec792056b411eec2f"),
    "user_state-1-add_only": (
        "7d68354358e81bac2c87389a9f4ff4cda8b4af85131f34bf8a74db70c2377fb9",
        "sha256:8764703bf3a775c6614239ca5e6bba1ed2935859e8765dbc28a6494d765463cb",
        "34c00a4366cd0b453888183000a612f4fb56d84814fbdc289754e2a4eb41f289"),
    "user_state-2-sync": (
        "64818c7db2264c0d1c0155a1bc15fc156a949af1b0abc0437e4f6608bc3a9a9b",
        "sha256:a68cdfd8d81738ed1aeb53a6749f623b75c164ee14d8bed7566a4640c09e3c6d",
        "d5d14fae26ba5935496fc1e4373ed151c16bcf4ff7102a61e531f718096674a0"),
    "user_state-2-add_only": (
        "771b7d7bcb2e7777b846837b59d7cb9f3e2d6885b4eac913e1b88899e92ed43b",
        "sha256:998c1e52769a46df90f51b42b683a8b53ff4c6f7a0a5ecb8beed8a42ae952f75",
        "404fb4dcc4bbdc9ed90b3c2da801322b7d851405e8399cdc38d6ec1e152bbd8d"),
}


@pytest.mark.parametrize(("relation", "seed", "mode"), CASES)
def test_plan_files_checksums_and_summaries_are_byte_identical_to_before_the_spill(relation, seed, mode):
    """Byte-identical but for the people a group's removed grant takes a role from (the plan's ``losses``,
    added since: these pins are from before it; without it the file and summary are the pinned ones)."""
    plan = planned(relation, seed, mode)
    text = dumps(plan)
    assert json.loads(text)["checksum"] == checksum({k: v for k, v in json.loads(text).items() if k != "checksum"})
    losses, plan.losses = plan.losses, []
    if losses:
        assert mode == "sync"
        assert relation == "grants", "only a group's grant takes access from several people"
        assert "losses" in json.loads(text)
        assert all(f"- group {loss['subject_name']} loses " in summary(replace(plan, losses=losses))
                   for loss in losses)
    text = dumps(plan)
    got = (hashlib.sha256(text.encode()).hexdigest(), checksum(json.loads(text) | {"checksum": None}),
           hashlib.sha256(summary(plan).encode()).hexdigest())
    assert got == PINNED[f"{relation}-{seed}-{mode}"]


def verdicts(relation: str, seed: int) -> list:
    """Every guardrail's verdict on a random case, with tight rails and a few protected subjects."""
    rng = random.Random(f"rails-{relation}-{seed}")
    directory, current = random_org(rng, relation, users=30)
    items = []
    for row in random_rows(rng, relation, users=30):
        key = {"grants": "subject", "user_state": "user"}.get(relation, "user")
        subject = row[key] if row[key].startswith("0") else directory.users.resolve(row[key]) \
            if "@" in row[key] else directory.groups.resolve(row[key])
        kind = "group" if row.get("subject_type") == "group" else "user"
        target = {"grants": lambda r: (directory.roles.resolve(r["role"]), directory.divisions.resolve(r["division"])
                                       if r["division"] != "*" else "*"),
                  "group_members": lambda r: (directory.groups.resolve(r["group"]),),
                  "queue_members": lambda r: (directory.queues.resolve(r["queue"]),),
                  "user_state": lambda r: (r["state"],)}[relation](row)
        items.append(DesiredItem(len(items) + 1, subject, kind, target))
    rails = Guardrails(max_removals=rng.randint(0, 20), max_removal_fraction=rng.choice([0.1, 0.3, None]),
                       min_admins=rng.randint(1, 4), allow_roleless=rng.random() < 0.3)
    protected = Protected.of([uid(rng.randrange(30)) for _ in range(3)], oauth_client_id="client-1",
                             token_user_id=uid(rng.randrange(30)))
    try:
        check(diff(items, current, Scope()), current, rails, protected)
    except GenesysAccessError as err:
        return getattr(err, "violations", [str(err)])
    return []


def test_guardrail_verdicts_are_the_ones_before_the_spill_or_stricter():
    """The verdicts of the code before the spill (``verdicts_before_people.json``: the rules and a digest
    of the messages, per case), since when the removal rules count people: a group's grant counts once per
    member who loses it, a deactivation once, and a table naming no group leaves groups alone. A case none
    of that touches gives the same messages; every other case trips at least the rules it tripped before,
    but where groups are no longer removed."""
    before = json.loads((Path(__file__).parent / "verdicts_before_people.json").read_text())
    found = {f"{relation}-{seed}": verdicts(relation, seed)
             for relation in ("grants", "group_members", "queue_members", "user_state") for seed in range(40)}
    assert sum(bool(v) for v in found.values()) > 40, "the cases must trip the rules"
    same = 0
    for case, messages in found.items():
        old = before[case]
        if hashlib.sha256(json.dumps(messages).encode()).hexdigest()[:16] == old["sha256"]:
            same += 1
            continue
        rules = [m.split(":")[0] for m in messages]
        if case.startswith("user_state"):
            assert set(old["rules"]) <= set(rules), case
            assert "max_removals" in rules or "max_removal_fraction" in rules, case
        else:
            assert case.startswith("grants"), f"{case}: only grants and user_state count differently now"
            assert set(old["rules"]) - set(rules) <= {"max_removals", "max_removal_fraction", "allow_roleless",
                                                      "min_admins"}, case
    assert same > 100, "most cases are untouched"


# -- the spill itself ----------------------------------------------------------------------------------


def test_the_desired_set_keeps_each_entrys_first_row_and_reads_back_by_subject_then_row():
    spill = Spill(width=2)
    try:
        assert spill.desire("b", ("r1", "d1"), 1) is None
        assert spill.desire("a", ("r1", "*"), 2) is None
        assert spill.desire("b", ("r0", "d1"), 3) is None
        assert spill.desire("b", ("r1", "d1"), 4) == (1, ("r1", "d1")), "a repeat names the row that first asked"
        assert spill.desired_count == 3
        assert list(spill.desired()) == [("a", ("r1", "*"), 2), ("b", ("r1", "d1"), 1), ("b", ("r0", "d1"), 3)]
        assert spill.desired_row("a", ("r1", "*")) == 2
        assert spill.desired_row("a", ("r1", "d1")) is None
        with pytest.raises(ValueError, match="A target of 2 id"):
            spill.desire("c", ("r1",), 5)
    finally:
        spill.close()


def test_a_key_with_a_value_is_desired_once_and_a_second_value_is_a_conflict():
    """A proficiency per skill (key width 1 of 2): the key is what rows repeat or contradict."""
    spill = Spill(width=2, key_width=1)
    try:
        assert spill.desire("u1", ("s1", "3"), 1) is None
        assert spill.desire("u1", ("s1", "3"), 2) == (1, ("s1", "3")), "the same value: a duplicate"
        assert spill.desire("u1", ("s1", "5"), 3) == (1, ("s1", "3")), "another value: the first row and its value"
        assert spill.desired_row("u1", ("s1", "4")) == 1, "removals look a key up whatever its value"
        assert list(spill.desired()) == [("u1", ("s1", "3"), 1)]
    finally:
        spill.close()
    state = Spill(width=1, key_width=0)  # one value per subject (a state, a division)
    try:
        assert state.desire("u1", ("inactive",), 1) is None
        assert state.desire("u1", ("active",), 2) == (1, ("inactive",))
    finally:
        state.close()


def test_changes_read_back_in_order_with_counts_subjects_and_views():
    spill = Spill(width=1)
    try:
        made = [("add", "u2", "user", ("g1",), "row 1 of the desired table", 1, None),
                ("add", "u1", "user", ("g2",), "row 2 of the desired table", 2, None),
                ("remove", "u2", "user", ("g3",), "holds managed group G3, not in the desired state", None, None),
                ("remove", "u3", "user", ("g1",), "holds managed group G1, not in the desired state", None, None)]
        for record in made:
            spill.add(*record)
        assert list(spill.changes()) == made
        assert len(spill) == 4
        assert spill.counts == {"add": 2, "remove": 2, "set": 0, "update": 0}
        assert spill.subject_count == 3
        assert list(spill.subjects()) == ["u2", "u1", "u3"]
        assert list(spill.subjects(by_name=True)) == ["u1", "u2", "u3"]
        assert [s for s, _ in spill.changes_by_subject()] == ["u2", "u1", "u3"]
        assert dict(spill.changes_by_subject())["u2"] == [made[0], made[2]]
        assert list(spill.changes_on(["g1"])) == [made[0], made[3]]
        assert list(spill.changes_on([])) == []
        assert spill.first_ids("remove") == {"g3", "g1"}
        assert spill.has_target(("g2",))
        assert spill.target_of("u2") == ("g1",)
        assert spill.target_of("nobody") is None
        assert spill.first_change("u3") == 3
        assert spill.first_change("nobody") is None

        changes = SpilledSequence(spill, lambda record: Change(*record))
        assert changes == [Change(*record) for record in made]
        assert changes != made[:3]
        assert changes[1] == Change(*made[1])
        assert changes[-1] == Change(*made[3])
        assert changes[1:3] == [Change(*made[1]), Change(*made[2])]
        assert changes[::2] == [Change(*made[0]), Change(*made[2])]
        assert changes[5:] == []
        assert changes.mapped(lambda c: c.subject)[:] == ["u2", "u1", "u2", "u3"]
        with pytest.raises(IndexError):
            changes[4]
        spill.keep_fingerprints(str.upper)
        names = SpilledFingerprints(spill)
        assert dict(names) == {"u2": "U2", "u1": "U1", "u3": "U3"}
        assert list(names) == ["u2", "u1", "u3"]
        assert list(names.items()) == [("u2", "U2"), ("u1", "U1"), ("u3", "U3")]
        assert list(names.sorted_items()) == [("u1", "U1"), ("u2", "U2"), ("u3", "U3")]
        assert len(names) == 3
        assert names == {"u1": "U1", "u2": "U2", "u3": "U3"}
        with pytest.raises(KeyError):
            names["nobody"]
    finally:
        spill.close()


def spill_files() -> list[str]:
    """This process's open SQLite temporary files (unlinked when opened: only the descriptor keeps them)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return [name for name in found if "etilqs_" in name]


def big_org(users: int) -> tuple[Directory, CurrentState, list[dict[str, str]]]:
    """``users`` users each holding Role 0 on Division 0; a table naming the first 100 of them."""
    people = [{"id": uid(n), "email": f"user{n}@example.com", "state": "active"} for n in range(users)]
    current = CurrentState("grants")
    current.add_users(people)
    for n in range(users):
        current.add_grant({"subjectId": uid(n), "subjectType": "user", "roleId": "r-0", "divisionId": "d-0"})
    directory = Directory(NameIndex.of("role", ROLES), NameIndex.of("division", DIVISIONS),
                          NameIndex.of("group", GROUPS), NameIndex.of("queue", QUEUES), UserIndex.of(people))
    rows = [{"subject": f"user{n}@example.com", "role": "Role 0", "division": "Division 0"} for n in range(100)]
    return directory, current, rows


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/self/fd")
def test_the_spill_file_is_gone_when_the_plan_closes_and_when_planning_fails(monkeypatch):
    directory, current, rows = big_org(30_000)  # 29,900 removals: past the 2 MiB page cache, onto disk
    before = spill_files()
    plan = plan_access(read_rows(rows, "grants"), relation="grants", directory=directory, current=current,
                       org_id=ORG, created_at=NOW, rails=RELAXED)
    with plan:
        assert len(spill_files()) > len(before), "the spill outgrew its cache into its (unlinked) file"
        assert len(plan.changes) == 29_900
    assert spill_files() == before
    assert plan._spill is not None
    assert plan._spill.closed
    plan.close()  # twice is harmless
    with planned("grants", 0, "sync") as small:
        loaded = loads(dumps(small), org_id=ORG)
    assert loaded._spill is None, "a loaded plan has no spill"
    loaded.close()  # and closing it does nothing

    spills: list[Spill] = []
    monkeypatch.setattr(diff_module, "Spill", lambda **shape: spills.append(Spill(**shape)) or spills[-1])
    with pytest.raises(GuardrailError, match="max_removals: the plan removes 29900"):
        plan_access(read_rows(rows, "grants"), relation="grants", directory=directory, current=current,
                    org_id=ORG, created_at=NOW)
    assert spills[-1].closed
    assert spill_files() == before

    def broken():
        yield from read_rows(rows[:50], "grants")
        raise RuntimeError("the table's storage went away")

    with pytest.raises(RuntimeError, match="went away"):
        plan_access(broken(), relation="grants", directory=directory, current=current, org_id=ORG, created_at=NOW)
    assert spills[-1].closed
    assert len(spills) == 2


def test_planning_memory_is_flat_in_the_number_of_changes():
    """20,000 removals: before the spill, planning held them (about 1 KB each); now a page cache does."""
    directory, current, rows = big_org(20_000)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        with plan_access(read_rows(rows, "grants"), relation="grants", directory=directory, current=current,
                         org_id=ORG, created_at=NOW, rails=RELAXED) as plan:
            assert plan.counts["remove"] == 19_900
            write(plan, Sink())
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"planning peaked at {peak / 2**20:.2f} MiB"


class Sink:
    """A text file that drops what it is given (``dumps`` would hold the plan's whole text)."""

    def write(self, piece: str) -> None:
        pass


# The emulator and connection fixtures are the package's (conftest.py); the org the plan operator's tests use.
org = operator_tests.org


def test_the_plan_operator_deletes_the_spill_whether_the_plan_is_written_or_not(conn, org, tmp_path, monkeypatch):
    spills: list[Spill] = []
    monkeypatch.setattr(diff_module, "Spill", lambda **shape: spills.append(Spill(**shape)) or spills[-1])
    rows = operator_tests.holders_rows(org, "Agent")[1:]  # one removal
    result = GenesysAccessPlanOperator(task_id="plan", relation="grants", rows=rows, allow_roleless=True,
                                       plan_path=str(tmp_path / "plan.json")).execute({})
    assert "**0 to add, 1 to remove**" in result["summary"]
    assert spills[-1].closed
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(AirflowFailException, match=r"plan_path .* cannot be written"):
        GenesysAccessPlanOperator(task_id="plan", relation="grants", rows=rows, allow_roleless=True,
                                  plan_path=str(blocked / "plan.json")).execute({})
    assert len(spills) == 2
    assert spills[-1].closed
