"""UsersApi, a user's routing skills and languages: read (paged), add or update in bulk, replace (skills
only, as the SDK has it), remove one (the model is ``org/skills.py``, the catalogues ``routing.py``).

Bodies are lists of ``UserRoutingSkillPost`` / ``UserRoutingLanguagePost`` (``{"id", "proficiency"}``,
proficiency a number from 0 to 5), at most 50 per call: the SDK documents it for languages ("Max 50 routing
languages in request body"), Genesys' Terraform provider for skills ("Bulk API restricts skills adds to 50
per call"); the emulator applies it to the skills replace too (a user holds at most 50 skills, help centre).
With ``routing_write_conflict_seconds``, a write to a user less than that long after the previous one to
that user is refused as a concurrent change (``version_conflict`` says 409 or 400), as Genesys' Terraform
provider sees and retries.
"""

from __future__ import annotations

import math
from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route, json_body
from airflow_provider_genesys.testing.areas.users import UserLookup
from airflow_provider_genesys.testing.errors import bad_request, concurrent_change, not_found
from airflow_provider_genesys.testing.org.skills import KINDS, LANGUAGE, MAX_PROFICIENCY, SKILL
from airflow_provider_genesys.testing.paging import page_envelope

MAX_PAGE_SIZE = 100  # no published maximum; the house value for listings (Terraform pages these by 50)
PER_WRITE = 50
POST_MODEL = {SKILL: "UserRoutingSkillPost", LANGUAGE: "UserRoutingLanguagePost"}


class UserRoutingApi:
    """``/api/v2/users/{userId}/routingskills`` and ``/routinglanguages`` and their writes."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.clock = context.clock
        self.settings = context.settings
        self.writes = context.writes
        self.users = UserLookup(context)
        self._last_write: dict[int, float] = {}  # user -> when its skills or languages were last written

    def routes(self) -> list[Route]:
        rows: list[Route] = []
        for kind in KINDS:
            base, name = f"/api/v2/users/{SEGMENT}/routing{kind}s", f"/api/v2/users/{{userId}}/routing{kind}s"
            rows += [
                ("GET", base, name, lambda call, kind=kind: self.listing(call, kind)),
                ("PATCH", f"{base}/bulk", f"{name}/bulk", lambda call, kind=kind: self.bulk(call, kind, False)),
                ("DELETE", f"{base}/{SEGMENT}", f"{name}/{{{kind}Id}}",
                 lambda call, kind=kind: self.remove(call, kind)),
            ]
        # SDK: put_user_routingskills_bulk "replacing any current assignments"; languages have no replace
        rows.append(("PUT", f"/api/v2/users/{SEGMENT}/routingskills/bulk", "/api/v2/users/{userId}/routingskills/bulk",
                     lambda call: self.bulk(call, SKILL, True)))
        return rows

    def _user(self, user_id: str) -> int:
        """A user named in the path: 404 when unknown, created moments ago or deleted."""
        i = self.users.require(user_id)
        if self.org.state_of(i) == "deleted":
            raise not_found(f"The user {user_id} was not found.")
        return i

    def _render(self, kind: str, i: int, held: dict[int, float]) -> list[dict[str, Any]]:
        proficiencies, user_id = self.org.proficiencies, self.org.user_id(i)
        return [proficiencies.render_entry(kind, user_id, k, held[k]) for k in proficiencies.ordered(kind, held)]

    def listing(self, call: Call, kind: str) -> tuple[int, Any]:
        """``UserSkillEntityListing`` / ``UserLanguageEntityListing`` by name; ``sortOrder`` ASC or DESC."""
        i = self._user(call.args[0])
        entries = self._render(kind, i, self.org.holdings(kind, i))
        if call.params.choice("sortOrder", "ASC", ("ASC", "DESC")) == "DESC":
            entries = entries[::-1]
        return 200, page_envelope(call.path, call.params, entries, dict, max_page_size=MAX_PAGE_SIZE)

    def _entries(self, call: Call, kind: str, *, empty_ok: bool) -> dict[int, float]:
        """The body's entries as catalogue index -> proficiency; 400 naming what is wrong (nothing applied)."""
        body = json_body(call)
        example = f'[{{"id": "<{kind}Id>", "proficiency": 4}}, ...]'
        if not isinstance(body, list) or (not body and not empty_ok):
            raise bad_request(f"The request body must be a non-empty JSON list of {POST_MODEL[kind]}: {example}.")
        if len(body) > PER_WRITE:
            raise bad_request(f"A maximum of {PER_WRITE} {kind}s are allowed per request; got {len(body)}.")
        catalogue = self.org.proficiencies.catalogues[kind]
        entries: dict[int, float] = {}
        unknown: list[str] = []
        for n, entry in enumerate(body):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
                raise bad_request(f"[{n}] must be an object with a non-empty id: {example}.")
            level = entry.get("proficiency")
            if isinstance(level, bool) or not isinstance(level, int | float) or not math.isfinite(level) \
                    or not 0 <= level <= MAX_PROFICIENCY:
                raise bad_request(f"[{n}].proficiency must be a number from 0 to {MAX_PROFICIENCY:g}; got {level!r}.")
            k = catalogue.index_of(entry["id"])
            if k is None:
                unknown.append(entry["id"])
            elif k in entries:
                raise bad_request(f"The {kind} {entry['id']} is listed twice; send each {kind} once.")
            else:
                entries[k] = float(level)
        if unknown:
            raise bad_request(f"The request references {kind}s that do not exist: {', '.join(unknown)}.")
        return entries

    def _apply(self, kind: str, i: int, **change: Any) -> None:
        """Refuse a write that follows the previous one too closely, else apply it (now or after the delay)."""
        now, window = self.clock.now(), self.settings.routing_write_conflict_seconds
        last = self._last_write.get(i)
        if window and last is not None and now - last < window:
            raise concurrent_change(self.settings.version_conflict, f"user {self.org.user_id(i)}")
        self._last_write[i] = now
        org = self.org
        self.writes.apply(lambda at: org.change_proficiencies(kind, i, at, **change))

    def bulk(self, call: Call, kind: str, replace: bool) -> tuple[int, Any]:
        """Add or update (PATCH) or replace (PUT) entries: 200, the user's whole set as it will read."""
        i = self._user(call.args[0])
        entries = self._entries(call, kind, empty_ok=replace)
        held = self.org.holdings(kind, i)
        after = dict(entries) if replace else {**held, **entries}
        self._apply(kind, i, put=entries, replace=replace)
        rendered = self._render(kind, i, after)
        path = f"/api/v2/users/{self.org.user_id(i)}/routing{kind}s"
        uri = f"{path}?pageSize={max(len(rendered), 1)}&pageNumber=1"
        return 200, {"entities": rendered, "pageSize": len(rendered), "pageNumber": 1, "total": len(rendered),
                     "firstUri": uri, "selfUri": uri, "lastUri": uri, "pageCount": 1}

    def remove(self, call: Call, kind: str) -> tuple[int, Any]:
        """One entry: 204; 404 when the user, the entry or the user's holding it does not exist."""
        user_id, entry_id = call.args
        i = self._user(user_id)
        k = self.org.proficiencies.catalogues[kind].index_of(entry_id)
        if k is None or k not in self.org.holdings(kind, i):
            raise not_found(f"The user {user_id} holds no {kind} {entry_id}.")
        self._apply(kind, i, remove=frozenset({k}))
        return 204, None
