"""AuthorizationApi: roles, permissions, divisions, subjects, a user's roles and the grant writes.

Each handler takes a :class:`Call` and returns ``(status, body)``; it raises :class:`ApiError` for
Genesys-style 4xx answers. Routing, authentication, rate limiting and faults live in ``server.py``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route, json_body
from airflow_provider_genesys.testing.areas.users import UserLookup
from airflow_provider_genesys.testing.errors import ApiError, bad_request, not_found
from airflow_provider_genesys.testing.org.directory import GrantRefused, Pair
from airflow_provider_genesys.testing.org.subjects import GROUP, OAUTH_CLIENT, Subject
from airflow_provider_genesys.testing.paging import page_envelope

DIVISION_GRANTS_MAX_PAGE_SIZE = 500
MAX_PAGE_SIZE = 100
SUBJECT_TYPES = ("PC_USER", "PC_GROUP", "PC_OAUTH_CLIENT")
HOME_DIVISION = 0
GRANTS_BODY = '{"grants": [{"roleId": "...", "divisionId": "..."}, ...]}'
SUBJECT_DIVISIONS_BODY = '{"subjectIds": ["..."], "divisionIds": ["..."]}'
WRITABLE_TYPES = (GROUP, OAUTH_CLIENT)  # non-user subjects grant writes may name (not trustees)


class AuthorizationApi:
    """Roles, permissions, divisions and subjects of one org, and the writes that change users' grants."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.clock = context.clock
        self.settings = context.settings
        self.writes = context.writes
        self.users = UserLookup(context)

    def routes(self) -> list[Route]:
        seg = SEGMENT
        return [
            ("GET", f"/api/v2/users/{seg}/roles", "/api/v2/users/{subjectId}/roles", self.user_roles),
            ("GET", "/api/v2/authorization/roles", "/api/v2/authorization/roles", self.list_roles),
            (
                "GET",
                f"/api/v2/authorization/roles/{seg}",
                "/api/v2/authorization/roles/{roleId}",
                self.get_role,
            ),
            (
                "GET",
                f"/api/v2/authorization/roles/{seg}/users",
                "/api/v2/authorization/roles/{roleId}/users",
                self.role_users,
            ),
            (
                "GET",
                f"/api/v2/authorization/roles/{seg}/subjectgrants",
                "/api/v2/authorization/roles/{roleId}/subjectgrants",
                self.role_subject_grants,
            ),
            (
                "GET",
                "/api/v2/authorization/permissions",
                "/api/v2/authorization/permissions",
                self.permissions,
            ),
            (
                "GET",
                "/api/v2/authorization/divisions",
                "/api/v2/authorization/divisions",
                self.list_divisions,
            ),
            (
                "GET",
                f"/api/v2/authorization/divisions/{seg}",
                "/api/v2/authorization/divisions/{divisionId}",
                self.get_division,
            ),
            (
                "GET",
                f"/api/v2/authorization/divisions/{seg}/grants",
                "/api/v2/authorization/divisions/{divisionId}/grants",
                self.division_grants,
            ),
            (
                "GET",
                f"/api/v2/authorization/subjects/{seg}",
                "/api/v2/authorization/subjects/{subjectId}",
                self.subject,
            ),
            *(
                (
                    "POST",
                    f"/api/v2/authorization/subjects/{seg}/{action}",
                    f"/api/v2/authorization/subjects/{{subjectId}}/{action}",
                    handler,
                )
                for action, handler in (
                    ("bulkadd", self.subject_bulk_add),
                    ("bulkremove", self.subject_bulk_remove),
                    ("bulkreplace", self.subject_bulk_replace),
                )
            ),
            *(
                (
                    "PUT",
                    f"/api/v2/authorization/roles/{seg}/users/{action}",
                    f"/api/v2/authorization/roles/{{roleId}}/users/{action}",
                    handler,
                )
                for action, handler in (("add", self.role_users_add), ("remove", self.role_users_remove))
            ),
            (
                "DELETE",
                f"/api/v2/authorization/subjects/{seg}/divisions/{seg}/roles/{seg}",
                "/api/v2/authorization/subjects/{subjectId}/divisions/{divisionId}/roles/{roleId}",
                self.subject_delete_grant,
            ),
            ("POST", f"/api/v2/authorization/roles/{seg}", "/api/v2/authorization/roles/{roleId}", self.role_grant),
        ]

    def user_roles(self, call: Call) -> tuple[int, Any]:
        return 200, self.org.user_authorization(self.users.require(call.args[0]))

    # ---- roles -------------------------------------------------------------------------------------
    def _role_index(self, role_id: str) -> int:
        role = self.org.role_index(role_id)
        if role is None:
            raise not_found(f"The role {role_id} was not found.")
        return role

    def _role_with_count(self, role: int) -> dict[str, Any]:
        body = dict(self.org.roles[role])
        body["userCount"] = self.org.role_user_count(body["id"])
        return body

    def list_roles(self, call: Call) -> tuple[int, Any]:
        params = call.params
        roles = self.org.roles
        sort_by = params.choice("sortBy", "name", ("name", "id", "description"))
        live = (r for r in range(len(roles)) if not self.org.role_deleted(r))
        selected = sorted(live, key=lambda r: (roles[r][sort_by].lower(), roles[r]["id"]))
        name, ids, permissions = params.get("name"), set(params.list("id")), set(params.list("permission"))
        if name:
            selected = [r for r in selected if name.lower() in roles[r]["name"].lower()]
        if ids:
            selected = [r for r in selected if roles[r]["id"] in ids]
        if permissions:
            selected = [r for r in selected if permissions & set(roles[r]["permissions"])]
        with_count = params.bool("userCount", True)
        render = self._role_with_count if with_count else lambda r: dict(roles[r])
        return 200, page_envelope(call.path, params, selected, render, max_page_size=MAX_PAGE_SIZE)

    def get_role(self, call: Call) -> tuple[int, Any]:
        return 200, self._role_with_count(self._role_index(call.args[0]))

    def role_users(self, call: Call) -> tuple[int, Any]:
        subjects = [s for s in self.org.role_subjects(self._role_index(call.args[0])) if isinstance(s[0], int)]
        uid = self.org.user_id
        render = lambda s: {"id": uid(s[0]), "selfUri": f"/api/v2/users/{uid(s[0])}"}  # noqa: E731
        return 200, page_envelope(
            call.path, call.params, subjects, render, max_page_size=MAX_PAGE_SIZE, uris=False
        )

    def role_subject_grants(self, call: Call) -> tuple[int, Any]:
        subjects = self.org.role_subjects(self._role_index(call.args[0]))

        def render(subject: tuple[int | Subject, list[int]]) -> dict[str, Any]:
            key, divisions = subject
            ref = self.org.subject_ref(key)
            return {
                "id": ref.id,
                "name": ref.name,
                "divisions": [self.org.division_ref(d) for d in divisions],
                "type": ref.type,
                "selfUri": ref.self_uri,
            }

        return 200, page_envelope(call.path, call.params, subjects, render, max_page_size=MAX_PAGE_SIZE)

    # ---- permissions, divisions, subjects ----------------------------------------------------------
    def permissions(self, call: Call) -> tuple[int, Any]:
        params = call.params
        query = (params.get("query") or "").lower()
        query_type = params.choice("queryType", "domain", ("domain", "permission"))
        items = self.org.permissions
        if query and query_type == "domain":
            items = [p for p in items if query in p["domain"].lower()]
        elif query:
            filtered = []
            for collection in items:
                permission_map = {
                    entity: [
                        p for p in perms if query in f"{p['domain']}:{p['entityType']}:{p['action']}".lower()
                    ]
                    for entity, perms in collection["permissionMap"].items()
                }
                permission_map = {k: v for k, v in permission_map.items() if v}
                if permission_map:
                    filtered.append({**collection, "permissionMap": permission_map})
            items = filtered
        return 200, page_envelope(call.path, params, items, dict, max_page_size=MAX_PAGE_SIZE)

    def list_divisions(self, call: Call) -> tuple[int, Any]:
        params = call.params
        items = [d for d in range(len(self.org.divisions)) if not self.org.division_deleted(d)]
        ids, name = set(params.list("id")), params.get("name")
        if ids:
            items = [d for d in items if self.org.divisions[d]["id"] in ids]
        if name:
            items = [d for d in items if name.lower() in self.org.divisions[d]["name"].lower()]
        with_counts = params.bool("objectCount", False)

        def render(d: int) -> dict[str, Any]:
            body = dict(self.org.divisions[d])
            if with_counts:
                body["objectCounts"] = {"USER": self.org.division_user_count(d)}
            return body

        return 200, page_envelope(call.path, params, items, render, max_page_size=MAX_PAGE_SIZE)

    def _division_index(self, division_id: str) -> int:
        division = self.org.division_index(division_id)
        if division is None:
            raise not_found(f"The division {division_id} was not found.")
        return division

    def get_division(self, call: Call) -> tuple[int, Any]:
        division = self._division_index(call.args[0])
        if division < 0:
            raise not_found("The division * is a grant wildcard, not a division.")
        return 200, dict(self.org.divisions[division])

    def division_grants(self, call: Call) -> tuple[int, Any]:
        """Grants in one division; ``*`` lists the wildcard grants (an assumption, see docs).

        ``AuthzDivisionGrantEntityListing`` has no URI fields: clients page by ``pageCount``.
        """
        division = self._division_index(call.args[0])
        if division < 0 and self.settings.wildcard_grants in ("400", "404"):
            status = int(self.settings.wildcard_grants)
            code = "bad.request" if status == 400 else "not.found"
            raise ApiError(status, code, "The division * was not found." if status == 404 else "Invalid division id *.")
        grants = self.org.division_grants(division)
        if division < 0 and self.settings.wildcard_grants == "empty":
            grants = []
        render = lambda g: self.org.render_grant(g[0], g[1], division, g[2])  # noqa: E731
        return 200, page_envelope(
            call.path,
            call.params,
            grants,
            render,
            max_page_size=DIVISION_GRANTS_MAX_PAGE_SIZE,
            uris=False,
        )

    def subject(self, call: Call) -> tuple[int, Any]:
        i = self.users.find(call.args[0])
        other = self.org.other_subject(call.args[0]) if i is None else None
        if i is None and other is None:
            raise not_found(f"The subject {call.args[0]} was not found.")
        return 200, self.org.subject(i, call.params.bool("includeDuplicates", False)) if i is not None else other

    # ---- grant writes ------------------------------------------------------------------------------
    def _write_subject(self, call: Call) -> int | Subject:
        """The subject a grant write names: a user (index), group or OAuth client; 404 when not found."""
        named = call.params.choice("subjectType", "", SUBJECT_TYPES) if call.params.get("subjectType") else ""
        i = self.users.find(call.args[0])
        found: int | Subject | None = i if i is not None else self.org.subjects.by_id.get(call.args[0])
        kind = "PC_USER" if isinstance(found, int) else found.type if found is not None else ""
        if found is None or kind not in ("PC_USER", *WRITABLE_TYPES) or (named and named != kind):
            raise not_found(f"The {named or 'subject'} {call.args[0]} was not found.")
        return found

    def _grant_pairs(self, call: Call) -> list[Pair]:
        """``{"grants": [{roleId, divisionId}]}`` -> unique (role, division) pairs, in body order; a role or
        division that does not exist (or no longer does) refuses the whole request."""
        body = json_body(call)
        if not isinstance(body, dict) or not isinstance(body.get("grants"), list):
            raise bad_request(f"The request body must be a JSON object {GRANTS_BODY}.")
        pairs: list[Pair] = []
        unknown: list[str] = []
        for n, grant in enumerate(body["grants"]):
            if not isinstance(grant, dict):
                raise bad_request(f"grants[{n}] must be an object with roleId and divisionId.")
            for name in ("roleId", "divisionId"):
                if not isinstance(grant.get(name), str) or not grant[name]:
                    raise bad_request(f"grants[{n}].{name} is required and must be a non-empty string.")
            role, division = (
                self.org.role_index(grant["roleId"]),
                self.org.division_index(grant["divisionId"]),
            )
            if role is None:
                unknown.append(f"role {grant['roleId']}")
            if division is None:
                unknown.append(f"division {grant['divisionId']}")
            if role is not None and division is not None:
                pairs.append((role, division))
        if unknown:
            raise bad_request(f"The grants reference unknown {', '.join(dict.fromkeys(unknown))}.")
        return list(dict.fromkeys(pairs))

    def _user_ids_body(self, call: Call) -> tuple[list[str], list[int]]:
        """A JSON list of user ids -> (unique ids in body order, their indices); unknown ids are a 400."""
        body = json_body(call)
        if not isinstance(body, list) or not all(isinstance(u, str) and u for u in body):
            raise bad_request('The request body must be a JSON list of user ids, e.g. ["<userId>", ...].')
        ids = list(dict.fromkeys(body))
        unknown = [u for u in ids if self.users.find(u) is None]
        if unknown:
            raise bad_request(f"The request references unknown users {', '.join(unknown)}.")
        return ids, [i for i in map(self.users.find, ids) if i is not None]

    def _change(self, subjects: list[int | Subject], **change: Any) -> None:
        """Check the write against the org as reads show it, then apply it (now or after the delay)."""
        users = [s for s in subjects if isinstance(s, int)]
        if change.get("add"):
            deleted = [self.org.user_id(i) for i in users if self.org.state_of(i) == "deleted"]
            if deleted:
                raise bad_request(f"Deleted users cannot receive grants: {', '.join(deleted)}.")
        others = [s for s in subjects if isinstance(s, Subject)]

        def apply(now: float) -> None:
            try:
                if users:
                    self.org.change_grants(users, now, **change)
            except GrantRefused:  # deleted while the write was pending: it lands on nobody
                pass
            for subject in others:
                with self.org._lock:
                    self.org.subjects.change_grants(
                        subject, now, list(change.get("add", ())), set(change.get("remove", ())),
                        change.get("replace", False),
                    )

        self.writes.apply(apply)

    def subject_bulk_add(self, call: Call) -> tuple[int, Any]:
        subject = self._write_subject(call)
        self._change([subject], add=self._grant_pairs(call))
        return 204, None

    def subject_bulk_remove(self, call: Call) -> tuple[int, Any]:
        subject = self._write_subject(call)
        self._change([subject], remove=set(self._grant_pairs(call)))
        return 204, None

    def subject_bulk_replace(self, call: Call) -> tuple[int, Any]:
        """Replaces the subject's direct grants only (grants through its groups are not its own)."""
        subject = self._write_subject(call)
        self._change([subject], add=self._grant_pairs(call), replace=True)
        return 204, None

    def subject_delete_grant(self, call: Call) -> tuple[int, Any]:
        """One grant; 404 when the subject, the role, the division or the grant itself does not exist."""
        subject_id, division_id, role_id = call.args
        subject = self._write_subject(call)
        role, division = self.org.role_index(role_id), self.org.division_index(division_id)
        held = self.org.subject_pairs(subject)
        if role is None or division is None or (role, division) not in held:
            raise not_found(f"The subject {subject_id} holds no grant of role {role_id} in division {division_id}.")
        self._change([subject], remove={(role, division)})
        return 204, None

    def role_grant(self, call: Call) -> tuple[int, Any]:
        """``SubjectDivisions``: the role to every subject in every division, in one write."""
        role = self._role_index(call.args[0])
        subject_type = call.params.choice("subjectType", "PC_USER", SUBJECT_TYPES)
        body = json_body(call)
        lists = {name: body.get(name) if isinstance(body, dict) else None for name in ("subjectIds", "divisionIds")}
        for name, value in lists.items():
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise bad_request(f"{name} must be a non-empty list of ids: {SUBJECT_DIVISIONS_BODY}.")
        limit, count = self.settings.role_grant_max_subjects, len(lists["subjectIds"])
        if limit is not None and count > limit:
            raise bad_request(f"A maximum of {limit} subjectIds are allowed per request; got {count}.")
        subject_ids, division_ids = list(dict.fromkeys(lists["subjectIds"])), list(dict.fromkeys(lists["divisionIds"]))
        subjects: list[int | Subject] = []
        unknown: list[str] = []
        for subject_id in subject_ids:
            found: int | Subject | None = self.users.find(subject_id) if subject_type == "PC_USER" else None
            if subject_type != "PC_USER":
                other = self.org.subjects.by_id.get(subject_id)
                found = other if other is not None and other.type == subject_type else None
            if found is None or (isinstance(found, int) and self.org.state_of(found) == "deleted"):
                unknown.append(f"{subject_type} subject {subject_id}")
            else:
                subjects.append(found)
        divisions = [self.org.division_index(d) for d in division_ids]
        unknown += [f"division {d}" for d, index in zip(division_ids, divisions, strict=True) if index is None]
        if unknown:
            raise bad_request(f"The request references unknown {', '.join(unknown)}.")
        self._change(subjects, add=[(role, d) for d in divisions if d is not None])
        return 204, None

    def role_users_add(self, call: Call) -> tuple[int, Any]:
        """Grant the role in the home division; answers the user ids, as Genesys does."""
        role = self._role_index(call.args[0])
        ids, users = self._user_ids_body(call)
        self._change(list(users), add=[(role, HOME_DIVISION)])
        return 200, ids

    def role_users_remove(self, call: Call) -> tuple[int, Any]:
        """Take the role away in every division, so the users leave the role's listings."""
        role = self._role_index(call.args[0])
        ids, users = self._user_ids_body(call)
        self._change(list(users), remove_roles={role})
        return 200, ids
