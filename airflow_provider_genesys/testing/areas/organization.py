"""The organisation and the caller's token: ``/api/v2/organizations/me`` (SDK ``OrganizationApi``) and
``/api/v2/tokens/me`` (SDK ``TokensApi``), what a connection test reads."""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.testing.areas.calls import Call, Context, Route


class OrganizationApi:
    """``Organization`` and ``TokenInfo`` of the one emulated org and client."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.client_id = context.settings.client_id

    def routes(self) -> list[Route]:
        return [
            ("GET", "/api/v2/tokens/me", "/api/v2/tokens/me", self.token_me),
            ("GET", "/api/v2/organizations/me", "/api/v2/organizations/me", self.organization_me),
        ]

    def token_me(self, call: Call) -> tuple[int, Any]:
        """``TokenInfo``: its organisation references are ``NamedEntity`` (id and name, no ``selfUri``)."""
        org = self.org.organization
        ref = {"id": org["id"], "name": org["name"]}
        return 200, {
            "organization": ref,
            "homeOrganization": ref,
            "authorizedScope": ["authorization:readonly", "users:readonly", "audits:readonly"],
            "OAuthClient": {
                "id": self.client_id,
                "name": "Genesys Cloud emulator client",
                "organization": ref,
            },
        }

    def organization_me(self, call: Call) -> tuple[int, Any]:
        return 200, dict(self.org.organization)
