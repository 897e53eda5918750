"""What every API area's handlers share: the request as they see it, and the route table's shape.

Each API area (``api.py`` users and authorization, ``api_groups.py``, ``api_oauth.py``, ...) is a class
whose ``routes()`` returns :data:`Route` rows; ``api.py`` combines them in one place (``AREAS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_genesys.testing.errors import bad_request
from airflow_provider_genesys.testing.paging import Params

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


def json_body(call: Call) -> Any:
    """The request's JSON body (``None`` when empty); 400 when it does not parse."""
    try:
        return json.loads(call.body or b"null")
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
