"""Routing skills and languages: the catalogues (``skills``, ``languages``) and who holds what
(``user_skills``, ``user_languages``: one record per user and skill or language, with its proficiency).

Who holds what comes from the users listing with ``expand=skills`` (``languages``), 500 users a page, for
the states a user can hold them in (active and inactive; deleted users hold none), as Genesys' Terraform
provider reads them: about one request per 500 users. Genesys resolves expands "with a best effort approach
and not guaranteed to be returned" and recommends "specific API requests instead" when the information is
required: so a user whose entry lacks the field is read directly (``GET /api/v2/users/{id}/routingskills``,
every page), 100 such users at a time through the extract's thread pool. The result is exact whether the
expand came back for everybody, for nobody or for some.

The engine reads a multi-page dataset twice to prove nothing moved between pages (``exact_passes``). The
direct reads of the first pass are kept in a private temporary SQLite database (flat memory) and replayed in
the second, so each user whose expand is missing costs one request per extract, not one per pass.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.extract.plans.common import ExtractOptions
from airflow_provider_genesys.extract.plans.users import PAGE_SIZE, users_in_state
from airflow_provider_genesys.extract.writer import ScratchTables

log = logging.getLogger(__name__)

SKILLS = "/api/v2/routing/skills"
LANGUAGES = "/api/v2/routing/languages"
HOLDING_STATES = ("active", "inactive")  # deleted users hold no skills or languages
# A user's own listing: Genesys' Terraform provider pages it by 50; a user holds at most 50 skills.
USER_PAGE_SIZE = 50
DIRECT_BATCH = 100  # users whose expand was missing, read together (in parallel, in order)


@dataclass(frozen=True)
class Holding:
    """What differs between the skills and the languages a user holds."""

    kind: str  # "skill" or "language": the record's fields are <kind>Id, <kind>Name
    expand: str  # the users listing's expand and the User field it fills
    endpoint: str  # a user's own listing, "{}" for the user id


SKILL = Holding("skill", "skills", "/api/v2/users/{}/routingskills")
LANGUAGE = Holding("language", "languages", "/api/v2/users/{}/routinglanguages")


def skills(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """Genesys' ``RoutingSkill`` records, as the catalogue returns them."""
    return fetcher.listing(SKILLS)


def languages(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """Genesys' ``Language`` records, as the catalogue returns them."""
    return fetcher.listing(LANGUAGES)


def user_skills(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """``{"id": "<userId>:<skillId>", "userId", "userName", "skillId", "skillName", "proficiency", "state"}``."""
    return holdings(fetcher, SKILL)


def user_languages(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """``{"id": "<userId>:<languageId>", "userId", "userName", "languageId", "languageName", "proficiency",
    "state"}``."""
    return holdings(fetcher, LANGUAGE)


def holding_record(holding: Holding, user: dict, entry: dict) -> dict[str, Any]:
    """One user holding one skill (language); ``proficiency`` as Genesys sends it (a float 0-5)."""
    kind = holding.kind
    return {"id": f"{user['id']}:{entry['id']}", "userId": user["id"], "userName": user.get("name"),
            f"{kind}Id": entry["id"], f"{kind}Name": entry.get("name"), "proficiency": entry.get("proficiency"),
            "state": entry.get("state")}


class DirectReads(ScratchTables):
    """The entries read directly per user, kept for the extract's later passes (flat memory: SQLite)."""

    def __init__(self) -> None:
        super().__init__(["CREATE TABLE reads (user_id TEXT PRIMARY KEY, entries TEXT) WITHOUT ROWID"])
        self.users_read = 0  # users read directly, over every pass

    def get(self, user_id: str) -> list[dict] | None:
        row = self._db.execute("SELECT entries FROM reads WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, user_id: str, entries: list[dict]) -> None:
        self._db.execute("INSERT OR REPLACE INTO reads VALUES (?, ?)", (user_id, json.dumps(entries)))



def holdings(fetcher: PageFetcher, holding: Holding) -> Iterator[dict]:
    """Every (user, entry) from the users listing's expand; users without it read one by one."""
    direct = fetcher.memo.get(f"direct_{holding.kind}")
    if direct is None:
        direct = fetcher.memo[f"direct_{holding.kind}"] = DirectReads()
    missing: list[dict] = []  # users whose entry lacked the expanded field, waiting for a direct read
    without = 0
    for state in HOLDING_STATES:
        for user in users_in_state(fetcher, state, {"pageSize": PAGE_SIZE, "expand": holding.expand}):
            entries = user.get(holding.expand)
            if entries is None:
                without += 1
                missing.append({"id": user["id"], "name": user.get("name")})
                if len(missing) >= DIRECT_BATCH:
                    yield from _read_directly(fetcher, holding, direct, missing)
                    missing = []
                continue
            for entry in entries:
                yield holding_record(holding, user, entry)
    yield from _read_directly(fetcher, holding, direct, missing)
    if without:
        log.info("%d users came back without the %s expand: read them from %s (%d users read so far)", without,
                 holding.expand, holding.endpoint.format("{userId}"), direct.users_read)


def _read_directly(fetcher: PageFetcher, holding: Holding, direct: DirectReads, users: list[dict]) -> Iterator[dict]:
    """The records of ``users`` from their own listings (or an earlier pass's reads of them), in order."""
    entries = {user["id"]: direct.get(user["id"]) for user in users}
    unread = [user for user in users if entries[user["id"]] is None]
    for user, read in zip(unread, fetcher.ordered_map(lambda u: entries_of(fetcher, holding, u["id"]), unread),
                          strict=True):
        direct.users_read += 1
        if read is not None:  # None (404): deleted, or too new to read, since the listing: holds nothing now
            direct.put(user["id"], read)
        entries[user["id"]] = read
    for user in users:
        for entry in entries[user["id"]] or []:
            yield holding_record(holding, user, entry)


def entries_of(fetcher: PageFetcher, holding: Holding, user_id: str) -> list[dict] | None:
    """Every page of one user's own listing, one after the other (this runs on the pool); ``None`` on 404."""
    entries: list[dict] = []
    try:
        for page in fetcher.client.iter_pages(api_path(holding.endpoint, user_id),
                                              params={"pageSize": USER_PAGE_SIZE}):
            fetcher.count_page()
            entries += page.entities
    except GenesysCloudApiError as err:
        if err.status == 404:
            return None
        raise
    return entries
