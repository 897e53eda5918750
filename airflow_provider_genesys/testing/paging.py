"""Query parameters and Genesys' paged envelopes (page-number and cursor), shared by every listing."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from airflow_provider_genesys.testing.errors import bad_request

DEFAULT_PAGE_SIZE = 25


class Params:
    """The query string of one request, with Genesys-style validation (400 ``bad.request``)."""

    def __init__(self, query: dict[str, list[str]]) -> None:
        self._query = query

    def items(self) -> list[tuple[str, str]]:
        return [(key, value) for key, values in self._query.items() for value in values]

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._query.get(name)
        return values[-1] if values else default

    def list(self, name: str) -> list[str]:
        """A list parameter, sent repeated or comma-joined (Genesys accepts both)."""
        return [
            part.strip() for value in self._query.get(name, []) for part in value.split(",") if part.strip()
        ]

    def int(self, name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f"The value of {name} must be an integer; got {raw!r}.") from None
        if value < minimum:
            raise bad_request(f"The value of {name} must be at least {minimum}; got {value}.")
        if maximum is not None and value > maximum:
            raise bad_request(f"The value of {name} must be no more than {maximum}; got {value}.")
        return value

    def bool(self, name: str, default: bool) -> bool:
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise bad_request(f"The value of {name} must be true or false; got {raw!r}.")

    def choice(self, name: str, default: str, allowed: Sequence[str]) -> str:
        raw = self.get(name) or default
        for option in allowed:
            if raw.lower() == option.lower():
                return option
        raise bad_request(f"The value of {name} must be one of {', '.join(allowed)}; got {raw!r}.")

    def page_size(self, maximum: int) -> int:
        return self.int("pageSize", DEFAULT_PAGE_SIZE, 1, maximum)


def uri(path: str, params: Params, **override: Any) -> str:
    rest = [(k, v) for k, v in params.items() if k not in override]
    return f"{path}?{urlencode([*override.items(), *rest])}"


def page_envelope(
    path: str,
    params: Params,
    items: Sequence[Any],
    render: Any,
    *,
    max_page_size: int,
    uris: bool = True,
) -> dict[str, Any]:
    """Slice ``items`` by ``pageSize``/``pageNumber`` into Genesys' page-number envelope.

    URIs are relative API paths without any gateway prefix, as Genesys itself returns them. ``uris=False``
    gives the bare envelope of listings like ``/authorization/roles/{id}/users``.
    """
    size = params.page_size(max_page_size)
    number = params.int("pageNumber", 1)
    total = len(items)
    count = math.ceil(total / size)
    start = (number - 1) * size
    envelope: dict[str, Any] = {
        "entities": [render(item) for item in items[start : start + size]],
        "pageSize": size,
        "pageNumber": number,
        "total": total,
    }
    if uris:
        envelope["firstUri"] = uri(path, params, pageSize=size, pageNumber=1)
        envelope["selfUri"] = uri(path, params, pageSize=size, pageNumber=number)
        if number < count:
            envelope["nextUri"] = uri(path, params, pageSize=size, pageNumber=number + 1)
        if number > 1:
            envelope["previousUri"] = uri(
                path, params, pageSize=size, pageNumber=min(number - 1, max(count, 1))
            )
        envelope["lastUri"] = uri(path, params, pageSize=size, pageNumber=max(count, 1))
    envelope["pageCount"] = count
    return envelope


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise bad_request(
            f"The cursor {cursor!r} is not valid; send back the cursor of the previous page."
        ) from None


def cursor_uri(path: str, params: Params, cursor: str) -> str:
    return uri(path, params, cursor=cursor)
