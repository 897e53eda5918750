"""AuditApi: the asynchronous audit query: submit, poll its state, then read cursor-paged results.

A job goes Queued -> Running -> Succeeded over ``job_seconds`` of the emulator's clock (``0``: done as
soon as it is polled), or ends Failed/Cancelled when a ``job_state`` fault says so. Results are derived
from the org so they are deterministic: ``PeoplePermissions`` (the service Genesys audits role changes
under) yields, as Genesys records role membership, one ``Role``/``MemberAdd`` event per grant made inside
the interval and one ``Role``/``MemberRemove`` per grant an API write removed inside it (see
:meth:`Org.grant_events`): the entity is the role, ``propertyChanges`` name the user and the division.
``Directory`` yields one ``User``/``Create`` event per user created inside it and one ``User``/``Update``
per state change ``PATCH /api/v2/users/{id}`` made and per division move; ``Groups`` one
``DirectoryGroup``/``MemberAdd`` or ``MemberRemove`` per member a group-members write changed, ``Routing`` one
``Queue``/``MemberAdd`` or ``MemberRemove`` per queue member changed and one ``RoutingSkill`` (``RoutingLanguage``)
``MemberAdd``/``MemberUpdate``/``MemberRemove`` per skill (language) a user gained, changed or lost
(:attr:`Org.write_events`); other services none.
Result pages hold up to 500 events; ``sortOrder`` is ``ascending`` (default) or ``descending``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route, json_body
from airflow_provider_genesys.testing.clock import Clock, iso, parse_iso
from airflow_provider_genesys.testing.errors import bad_request, not_found
from airflow_provider_genesys.testing.org.directory import Org
from airflow_provider_genesys.testing.paging import Params, decode_cursor, encode_cursor

RESULTS_MAX_PAGE_SIZE = 500  # "The maximum page size is 500" (SDK AuditApi docs)
ROLE_ACTIONS = {"Add": "MemberAdd", "Remove": "MemberRemove"}
SORT_ORDERS = ("ascending", "descending")
GRANTS_SERVICE = "PeoplePermissions"
USERS_SERVICE = "Directory"
_FILTERABLE = {"entitytype": 2, "action": 3, "userid": 4, "entityid": 5}


# (when, user index, entityType, action, acting user id, entity id, role, division, (entity name,
# propertyChanges) of a group/queue/user write or None)
Event = tuple[float, int, str, str, str, str, int, int, tuple[str, list[dict[str, Any]]] | None]


@dataclass
class AuditJob:
    id: str
    created: float
    interval: str
    start: float
    end: float
    service: str
    filters: list[dict[str, Any]]
    sort: list[dict[str, Any]]
    final_state: str = "Succeeded"
    polls: int = 0
    events: list[Event] | None = field(default=None, repr=False)


class AuditJobs:
    """All audit queries submitted to one emulator."""

    def __init__(self, org: Org, clock: Clock, job_seconds: float, job_polls: int | None = None) -> None:
        self._org = org
        self._clock = clock
        self.job_seconds = job_seconds
        self.job_polls = job_polls
        self._jobs: dict[str, AuditJob] = {}
        self._lock = threading.Lock()

    def create(self, body: Any, final_state: str | None = None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object with interval and serviceName.")
        interval, service = body.get("interval"), body.get("serviceName")
        if not isinstance(service, str) or not service:
            raise bad_request(f"serviceName is required (for example {GRANTS_SERVICE} or {USERS_SERVICE}).")
        try:
            start_text, end_text = str(interval).split("/")
            start, end = parse_iso(start_text), parse_iso(end_text)
        except ValueError:
            raise bad_request(
                f"interval must be two ISO-8601 instants separated by '/', e.g. "
                f"2024-01-01T00:00:00Z/2024-02-01T00:00:00Z; got {interval!r}."
            ) from None
        if end <= start:
            raise bad_request(f"interval must end after it starts; got {interval!r}.")
        filters, sort = body.get("filters") or [], body.get("sort") or []
        if not isinstance(filters, list) or not isinstance(sort, list):
            raise bad_request("filters and sort must be lists.")
        for item in sort:
            order = item.get("sortOrder") if isinstance(item, dict) else None
            if order is not None and order not in SORT_ORDERS:
                raise bad_request(f"sort[].sortOrder must be one of {', '.join(SORT_ORDERS)}; got {order!r}.")
        job = AuditJob(str(uuid.uuid4()), self._clock.now(), interval, start, end, service, filters, sort)
        if final_state:
            job.final_state = final_state
        with self._lock:
            self._jobs[job.id] = job
        return self._status(job, "Queued")

    def _job(self, job_id: str) -> AuditJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise not_found(f"The audit query {job_id} was not found.")
        return job

    def state(self, job: AuditJob) -> str:
        if self.job_polls is not None:  # counted in status reads: deterministic whatever the client's speed
            if job.polls > self.job_polls:
                return job.final_state
            return "Running" if job.polls > 1 else "Queued"
        elapsed = self._clock.now() - job.created
        if self.job_seconds <= 0 or elapsed >= self.job_seconds:
            return job.final_state
        return "Running" if elapsed >= self.job_seconds / 3 else "Queued"

    def status(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        with self._lock:
            job.polls += 1
            return self._status(job, self.state(job))

    @staticmethod
    def _status(job: AuditJob, state: str) -> dict[str, Any]:
        return {
            "id": job.id,
            "state": state,
            "startDate": iso(job.created),
            "interval": job.interval,
            "serviceName": job.service,
            "filters": job.filters,
            "sort": job.sort,
        }

    def results(self, job_id: str, params: Params) -> dict[str, Any]:
        job = self._job(job_id)
        state = self.state(job)
        if state != "Succeeded":
            raise bad_request(f"The audit query {job_id} has no results: its state is {state}.")
        size = params.page_size(RESULTS_MAX_PAGE_SIZE)
        cursor = params.get("cursor")
        offset = 0
        if cursor:
            raw = decode_cursor(cursor)
            if not raw.isdigit():
                raise bad_request(f"The cursor {cursor!r} is not valid for this query.")
            offset = int(raw)
        events = self._events(job)
        page: dict[str, Any] = {"id": job.id, "pageSize": size}
        if offset + size < len(events):
            page["cursor"] = encode_cursor(str(offset + size))
        page["entities"] = [self._render(job, e) for e in events[offset : offset + size]]
        return page

    def _events(self, job: AuditJob) -> list[Event]:
        with self._lock:
            if job.events is not None:
                return job.events
        org = self._org
        events: list[Event] = []
        admin = org.user_ids("active")[0] if org.user_count("active") else ""
        ids = org.user_ids_by_index()
        if job.service == GRANTS_SERVICE:
            for when, i, action, role, division in org.grant_events():
                if job.start <= when < job.end:
                    role_id = org.roles[role]["id"]
                    events.append((when, i, "Role", ROLE_ACTIONS[action], admin, role_id, role, division, None))
        elif job.service == USERS_SERVICE:
            for i, user_id in enumerate(ids):
                created = org.user_created(i)
                if job.start <= created < job.end:
                    events.append((created, i, "User", "Create", admin, user_id, -2, -2, None))
        events += [
            (when, i, entity_type, action, admin, entity_id, -3, n, (name, changes))
            for n, (when, service, entity_type, action, entity_id, name, i, changes)
            in enumerate(list(org.write_events))
            if service == job.service and job.start <= when < job.end
        ]
        for flt in job.filters:
            column = _FILTERABLE.get(str(flt.get("property", "")).lower()) if isinstance(flt, dict) else None
            if column is not None:
                events = [e for e in events if str(e[column]).lower() == str(flt.get("value", "")).lower()]
        descending = any(s.get("sortOrder") == "descending" for s in job.sort if isinstance(s, dict))
        events.sort(key=lambda e: (e[0], e[1], e[6], e[7], e[3]), reverse=descending)
        with self._lock:
            job.events = events
        return events

    def _render(self, job: AuditJob, event: Event) -> dict[str, Any]:
        when, i, entity_type, action, admin, user_id, role, division, written = event
        changes: list[dict[str, Any]] = []
        entity: dict[str, Any] = {"id": user_id}
        if written is not None:
            entity = {"id": user_id, "name": written[0]}
            changes = written[1]
        elif entity_type == "Role":
            member = self._org.user_id(i)
            entity = {"id": user_id, "name": self._org.roles[role]["name"]}
            values = {"userId": member, "divisionId": self._org.division_id(division)}
            changes = [
                {"property": name, "oldValues": [value], "newValues": []}
                if action == "MemberRemove"
                else {"property": name, "oldValues": [], "newValues": [value]}
                for name, value in values.items()
            ]
        # A grant can be added, removed and added again: the time and action keep event ids unique.
        key = f"{self._org.seed}/{job.service}/{i}/{role}/{division}/{action}/{when}"
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
            "userHomeOrgId": self._org.org_id,
            "user": {"id": admin, "selfUri": f"/api/v2/users/{admin}"},
            "client": {"id": ""},
            "remoteIp": [f"10.0.{i // 250 % 250}.{i % 250 + 1}"],
            "serviceName": job.service,
            "level": "USER",
            "eventDate": iso(when)[:19] + "Z",
            "action": action,
            "entity": entity,
            "entityType": entity_type,
            "status": "SUCCESS",
            "application": "",
            "initiatingAction": {},
            "transactionInitiator": False,
            "propertyChanges": changes,
            "context": {},
            "entityChanges": [],
        }


class AuditsApi:
    """``POST /api/v2/audits/query``, its status and its results."""

    def __init__(self, context: Context) -> None:
        settings = context.settings
        self.jobs = AuditJobs(context.org, context.clock, settings.job_seconds, settings.job_polls)

    def routes(self) -> list[Route]:
        return [
            ("POST", "/api/v2/audits/query", "/api/v2/audits/query", self.create_audit_query),
            ("GET", f"/api/v2/audits/query/{SEGMENT}", "/api/v2/audits/query/{transactionId}", self.audit_status),
            (
                "GET",
                f"/api/v2/audits/query/{SEGMENT}/results",
                "/api/v2/audits/query/{transactionId}/results",
                self.audit_results,
            ),
        ]

    def create_audit_query(self, call: Call) -> tuple[int, Any]:
        return 202, self.jobs.create(json_body(call), call.job_state)

    def audit_status(self, call: Call) -> tuple[int, Any]:
        return 200, self.jobs.status(call.args[0])

    def audit_results(self, call: Call) -> tuple[int, Any]:
        return 200, self.jobs.results(call.args[0], call.params)
