"""OAuthApi: ``/api/v2/oauth/clients`` (``OAuthClientEntityListing``).

The SDK's ``get_oauth_clients`` defines no query parameter, yet its answer has the whole page-number envelope
(``pageSize``, ``pageNumber``, ``total``, ``pageCount``, ``nextUri``, ...). How Genesys fills it for an org
with many clients is not published: ``oauth_clients_listing`` chooses (docs/emulator.md).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route
from airflow_provider_genesys.testing.errors import bad_request, not_found
from airflow_provider_genesys.testing.paging import DEFAULT_PAGE_SIZE, Params, page_envelope


class OAuthApi:
    """The org's OAuth clients, ``secret`` included as Genesys may return it (extracts must drop it)."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.listing = context.settings.oauth_clients_listing

    def routes(self) -> list[Route]:
        return [
            ("GET", "/api/v2/oauth/clients", "/api/v2/oauth/clients", self.list_clients),
            ("GET", f"/api/v2/oauth/clients/{SEGMENT}", "/api/v2/oauth/clients/{clientId}", self.get_client),
        ]

    def list_clients(self, call: Call) -> tuple[int, Any]:
        """``whole``/``strict``: every client in one answer; ``paged``: Genesys' default 25 a page."""
        subjects = self.org.subjects
        items = list(range(len(subjects.clients)))
        if self.listing == "paged":
            return 200, page_envelope(call.path, call.params, items, subjects.render_client,
                                      max_page_size=DEFAULT_PAGE_SIZE)
        if self.listing == "strict" and call.params.items():
            names = ", ".join(sorted({name for name, _ in call.params.items()}))
            raise bad_request(f"GET /api/v2/oauth/clients takes no query parameters; got {names}.")
        everything = Params({"pageSize": [str(max(len(items), 1))]})  # paging parameters are ignored
        return 200, page_envelope(call.path, everything, items, subjects.render_client, max_page_size=len(items) or 1)

    def get_client(self, call: Call) -> tuple[int, Any]:
        subjects = self.org.subjects
        for n, subject in enumerate(subjects.clients):
            if subject.id == call.args[0]:
                return 200, subjects.render_client(n)
        raise not_found(f"The OAuth client {call.args[0]} was not found.")
