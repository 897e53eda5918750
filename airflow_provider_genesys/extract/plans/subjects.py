"""Who a grant's subject is: ``user``, ``group``, ``oauth_client``, ``trustee_user``, ``trustee_group``.

Role subject grants (``SubjectDivisionGrants``) say it (``PC_USER``, ...); division grants (``AuthzGrant``)
do not, so :class:`SubjectTypes` resolves their ids from the listings of users, groups and OAuth clients,
never by guessing. User ids go to a private temporary SQLite set (flat memory however many users); groups
and OAuth clients are few and kept in a dict.
"""

from __future__ import annotations

import hashlib
from typing import Any

from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.extract.plans.groups import GROUPS
from airflow_provider_genesys.extract.plans.oauth import OAUTH_CLIENTS
from airflow_provider_genesys.extract.plans.users import users_in_state
from airflow_provider_genesys.extract.writer import SeenIds

SUBJECT_TYPES = ("user", "group", "oauth_client", "trustee_user", "trustee_group", "unknown")
_FROM_API = {
    "PC_USER": "user",
    "PC_GROUP": "group",
    "PC_OAUTH_CLIENT": "oauth_client",
    "PC_TRUSTEE_USER": "trustee_user",
    "PC_TRUSTEE_GROUP": "trustee_group",
}


def subject_type(api_type: Any) -> str:
    """``SubjectDivisionGrants.type`` as a grant record spells it (``UNKNOWN`` or anything new: unknown)."""
    return _FROM_API.get(str(api_type or "").upper(), "unknown")


class UserIds(SeenIds):
    """A flat-memory set of user ids that can also be asked (``in``)."""

    def __contains__(self, user_id: object) -> bool:
        key = hashlib.blake2b(str(user_id).encode(), digest_size=16).digest()
        return self._db.execute("SELECT 1 FROM seen WHERE key = ?", (key,)).fetchone() is not None


class SubjectTypes:
    """Subject ids of the org's users, groups and OAuth clients, read once per grants extract."""

    def __init__(self, fetcher: PageFetcher) -> None:
        with fetcher.doing("reading the groups, OAuth clients and users to tell which kind of subject each grant "
                           "names (no grant is written before)"):
            self.others: dict[str, str] = {g["id"]: "group" for g in fetcher.listing(GROUPS)}
            self.others.update({c["id"]: "oauth_client" for c in fetcher.sequential(OAUTH_CLIENTS)})
            self.users = UserIds()
            for user in users_in_state(fetcher, "any", {"pageSize": 500}):
                self.users.add(user["id"])

    def resolve(self, subject_id: str) -> str | None:
        """The subject's type, or ``None`` when no listing has it (a trustee, or a subject added since)."""
        if subject_id in self.others:
            return self.others[subject_id]
        return "user" if subject_id in self.users else None

    def close(self) -> None:
        self.users.close()
