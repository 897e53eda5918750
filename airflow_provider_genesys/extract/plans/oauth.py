"""OAuth clients (``GET /api/v2/oauth/clients``), without any secret Genesys returns.

The operation takes no query parameter (the SDK's ``OAuthApi.get_oauth_clients``), so none is sent; its
``OAuthClientEntityListing`` has ``nextUri``, which is followed when Genesys fills it (``paging.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.extract.plans.common import ExtractOptions

OAUTH_CLIENTS = "/api/v2/oauth/clients"


def without_secrets(client: dict[str, Any]) -> dict[str, Any]:
    """The client minus every field whose name mentions a secret (``secret`` today): never written."""
    return {key: value for key, value in client.items() if "secret" not in key.lower()}


def oauth_clients(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """``OAuthClient`` records: id, name, ``authorizedGrantType``, ``state``, ``roleDivisions``, ..."""
    return map(without_secrets, fetcher.sequential(OAUTH_CLIENTS))
