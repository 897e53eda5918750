"""What every API area shares: what it is built from, the request as its handlers see it, its route rows.

Each API area (``users.py``, ``authorization.py``, ``groups.py``, ...) is a class built from a
:class:`Context` whose ``routes()`` returns :data:`Route` rows; ``areas/__init__.py`` lists them (``AREAS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_genesys.testing.clock import Clock
from airflow_provider_genesys.testing.errors import bad_request
from airflow_provider_genesys.testing.options import Settings
from airflow_provider_genesys.testing.org.conversations import History
from airflow_provider_genesys.testing.org.directory import Org
from airflow_provider_genesys.testing.org.routing import Routing
from airflow_provider_genesys.testing.paging import Params
from airflow_provider_genesys.testing.writes import Writes

SEGMENT = "([^/]+)"  # one path parameter in a route pattern


@dataclass
class Call:
    """One API request as the handlers see it (path without gateway prefix, path parameters decoded)."""

    method: str
    path: str
    params: Params
    body: bytes = b""
    args: tuple[str, ...] = ()
    token: Any = None
    job_state: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Call], tuple[int, Any]]
# (method, path pattern with SEGMENT groups, route name as in Genesys' docs, handler)
Route = tuple[str, str, str, Handler]


@dataclass(frozen=True)
class Context:
    """What every area is built from: the options and the generated org of one emulator, and its clock.

    State only one area uses (audit jobs, analytics jobs) belongs to that area, not here.
    """

    settings: Settings
    org: Org
    clock: Clock
    routing: Routing
    history: History
    writes: Writes  # every area's writes go through it (propagation delay)


class Area(Protocol):
    """One API area, as Genesys' SDKs split them (``UsersApi``, ``AuthorizationApi``, ...)."""

    def __init__(self, context: Context) -> None: ...

    def routes(self) -> list[Route]:
        """This area's rows of the route table."""
        ...


def json_body(call: Call) -> Any:
    """The request's JSON body (``None`` when empty); 400 when it does not parse."""
    try:
        return json.loads(call.body or b"null")
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
