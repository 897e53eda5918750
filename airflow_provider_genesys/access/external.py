"""Users named by an HR key: each distinct key looked up once through the Users API (no Airflow).

With ``user_key="external:<authority>"`` a desired table names users by the key Genesys keeps in their
external ids under that authority. Genesys has no bulk listing of external ids (``GET /api/v2/users`` does
not return them), so each key is one ``GET /api/v2/users/externalid/{authorityName}/{externalKey}`` (SDK
``UsersApi.get_users_externalid_authority_name_external_key``; both case sensitive; permission
``directory:user:view``), answered with the ``User`` or 404 when no user holds the key.

The rows are a one-pass stream: :func:`lookup_keys` reads them once, a chunk (1,000 user names) at a time, looks
up that chunk's keys not seen before in parallel through the client (which paces to the rate limit and
honours 429), and keeps only ``key -> user id`` (and the set of unknown keys): never the rows. The planner
then reads the table a second time (the operator reopens the file, reruns the query, reuses the list:
docs/decisions.md). An unknown key is left out of the map: the resolver reports every row naming one, with
its row number, together with every other unresolved name.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from airflow_provider_genesys.access.desired import DesiredRow
from airflow_provider_genesys.access.registry import relation as relation_named
from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.extract.fetch import ApiClient

BY_EXTERNAL_ID = "/api/v2/users/externalid/{}/{}"
CHUNK = 1000  # rows read before their new keys are looked up


@dataclass
class ExternalIds:
    """What the lookups found: ``ids`` maps each known key to its user id; ``unknown`` the keys answered 404.

    Keys a path cannot carry (blank, ``.``, ``..``) are in neither: no request is sent for them.
    """

    authority: str
    ids: dict[str, str] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)

    @property
    def requests(self) -> int:
        """Lookups sent: one per distinct key, found or not (the client's retries not counted)."""
        return len(self.ids) + len(self.unknown)

    def seen(self, key: str) -> bool:
        return key in self.ids or key in self.unknown


def user_keys(rows: Iterable[DesiredRow], relation: str) -> Iterator[str]:
    """The user names of ``rows``, as the relation reads them (``user``; ``subject`` of user grants)."""
    spec = relation_named(relation)
    for row in rows:
        yield from spec.user_names(row)


def lookup_keys(client: ApiClient, authority: str, keys: Iterable[str], *, max_workers: int = 4,
                chunk: int = CHUNK) -> ExternalIds:
    """Look up each distinct non-blank key of ``keys`` once, ``chunk`` keys read at a time."""
    found = ExternalIds(authority)
    stream = iter(keys)
    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="genesys-extid") as pool:
        while batch := list(itertools.islice(stream, chunk)):
            new = [key for key in dict.fromkeys(batch) if lookable(key) and not found.seen(key)]
            for key, user_id in zip(new, pool.map(lambda key: user_of(client, authority, key), new), strict=True):
                if user_id is None:
                    found.unknown.add(key)
                else:
                    found.ids[key] = user_id
    return found


def lookable(key: str) -> bool:
    """A key a path can carry: not blank, not ``.`` or ``..`` (the resolver reports the others' rows)."""
    return key.strip() not in ("", ".", "..")


def user_of(client: ApiClient, authority: str, key: str) -> str | None:
    """The id of the user holding ``key`` under ``authority``; ``None`` when Genesys answers 404."""
    try:
        user = client.request("GET", api_path(BY_EXTERNAL_ID, authority, key))
    except GenesysCloudApiError as err:
        if err.status == 404:
            return None
        raise
    return str(user["id"]) if isinstance(user, dict) and user.get("id") else None
