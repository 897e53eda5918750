"""Extract Genesys' published payload models into ``genesys_models.json`` (run by hand, never by CI).

Genesys publishes its Platform API models in the official Python SDK, ``PureCloudPlatformClientV2``:
every class in its ``models`` package lists its JSON field names in ``attribute_map`` and their types in
``swagger_types``. ``tests/emulator/test_models.py`` checks every emulator response against the JSON this
script writes, so the project itself never depends on the SDK (6,000+ modules, ~220 MB). Refresh it in
a scratch virtual environment outside the project:

    python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install PureCloudPlatformClientV2
    /tmp/sdkvenv/bin/python tests/emulator/models/extract_models.py

Output: ``{model: {json_name: type_string}}`` for the models in ``ROOTS`` and every model they reference,
recursively, with the SDK's type strings (``str``, ``int``, ``bool``, ``float``, ``datetime``, ``date``,
``object``, ``list[X]``, ``dict(str, X)`` or a model name), plus ``"__source__": {"package", "version"}``.
"""

from __future__ import annotations

import json
import re
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("genesys_models.json")
PACKAGE = "PureCloudPlatformClientV2"
# GENESYS_API.md "Field names and shapes", plus the item models the emulator embeds directly.
ROOTS = (
    "User",
    "UserEntityListing",
    "UserCursorEntityListing",
    "DomainOrganizationRole",
    "OrganizationRoleEntityListing",
    "DomainPermissionCollection",
    "PermissionCollectionEntityListing",
    "DomainPermission",
    "AuthzDivision",
    "AuthzDivisionEntityListing",
    "AuthzSubject",
    "AuthzGrant",
    "AuthzDivisionGrantEntityListing",
    "UserReferenceEntityListing",
    "SubjectDivisionGrants",
    "SubjectDivisionGrantsEntityListing",
    "UserAuthorization",
    "DomainRole",
    "TokenInfo",
    "Organization",
    "ErrorBody",
    "AuditQueryRequest",
    "AuditQueryExecutionStatusResponse",
    "AuditQueryExecutionResultsResponse",
    "AuditLogMessage",
    "Group",
    "GroupEntityListing",
    "OAuthClient",
    "OAuthClientEntityListing",
    # issue 10: analytics details jobs, data availability, queues and wrap-up codes
    "AsyncConversationQuery",
    "AsyncQueryResponse",
    "AsyncQueryStatus",
    "AnalyticsConversationAsyncQueryResponse",
    "DataAvailabilityResponse",
    "AsyncUserDetailsQuery",
    "AnalyticsUserDetailsAsyncQueryResponse",
    "QueueEntityListing",
    "QueueMemberEntityListing",
    "WrapupCodeEntityListing",
    # issue 15: the access writes' request bodies and the external ids
    "RoleDivisionGrants",
    "SubjectDivisions",
    "GroupMembersUpdate",
    "WritableEntity",
    "UpdateUser",
    "UserExternalIdentifier",
    # routing skills, languages and division moves
    "UserRoutingSkill",
    "UserRoutingSkillPost",
    "UserSkillEntityListing",
    "UserRoutingLanguage",
    "UserRoutingLanguagePost",
    "UserLanguageEntityListing",
    "RoutingSkill",
    "SkillEntityListing",
    "Language",
    "LanguageEntityListing",
)
PRIMITIVES = {"str", "int", "float", "bool", "datetime", "date", "object"}


def referenced(type_string: str) -> list[str]:
    """Model names a swagger type string mentions (``list[AuthzGrant]`` -> ``["AuthzGrant"]``)."""
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", type_string)
    return [n for n in names if n not in PRIMITIVES and n not in ("list", "dict")]


def extract(models: Any, roots: tuple[str, ...] = ROOTS) -> dict[str, dict[str, str]]:
    """Walk ``roots`` and everything they reference; ``{model: {json_name: type}}``, sorted by name."""
    found: dict[str, dict[str, str]] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        instance = getattr(models, name)()
        fields = {instance.attribute_map[a]: t for a, t in instance.swagger_types.items()}
        found[name] = fields
        pending += [n for t in fields.values() for n in referenced(t) if n not in found]
    return dict(sorted(found.items()))


def main() -> int:
    try:
        models = __import__(f"{PACKAGE}.models", fromlist=["models"])
    except ImportError:
        print(
            f"{PACKAGE} is not installed in this interpreter ({sys.executable}). Run this script from a "
            f"scratch venv: python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install {PACKAGE}",
            file=sys.stderr,
        )
        return 2
    result: dict[str, Any] = {"__source__": {"package": PACKAGE, "version": version(PACKAGE)}}
    result.update(extract(models))
    OUTPUT.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    print(f"wrote {len(result) - 1} models from {PACKAGE} {version(PACKAGE)} to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
