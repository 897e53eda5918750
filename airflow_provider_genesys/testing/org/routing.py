"""Routing's ground truth: queues, their members and wrap-up codes, derived from the seed.

Queue ``q`` and wrap-up code ``w`` are pure functions of ``(seed, index)``; a queue's members are the
org's active users whose hash picks that queue (every active user is a member of one to three queues),
computed when a page is asked for; ``POST /api/v2/routing/queues/{id}/members`` adds and removes members
through a small overlay (:meth:`Routing.change_members`). Conversations (``conversations.py``) route
through these queues, are answered by their members and wrapped up with these codes. ``areas/routing.py`` serves them.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.testing.org.directory import Org
from airflow_provider_genesys.testing.org.seeded import digest, seeded_uuid

_CREATED = "2019-01-01T00:00:00.000Z"
QUEUE_NAMES = ("Sales", "Support", "Billing", "Retention", "Technical", "Claims", "Returns", "VIP",
               "Onboarding", "Collections", "Renewals", "Escalations")
WRAPUP_NAMES = ("Resolved", "Follow-up needed", "Transferred", "Callback scheduled", "Sale", "No sale",
                "Complaint", "Information given", "Wrong number", "Escalated", "Cancelled order", "Refund")


def _digest(seed: int, kind: str, index: int) -> bytes:
    return digest(seed, kind, index, size=16)


def _uuid(seed: int, kind: str, index: int) -> str:
    return seeded_uuid(seed, kind, index, size=16)


class Routing:
    """Queues and wrap-up codes of one org; membership is derived from the org's active users."""

    def __init__(self, org: Org, queues: int, wrapup_codes: int) -> None:
        if queues < 1 or wrapup_codes < 1:
            raise ValueError(f"queues and wrapup_codes must be >= 1; got {queues} and {wrapup_codes}")
        self.org = org
        self.queue_ids = [_uuid(org.seed, "queue", q) for q in range(queues)]
        self.wrapup_ids = [_uuid(org.seed, "wrapup", w) for w in range(wrapup_codes)]
        self.queue_index = {qid: q for q, qid in enumerate(self.queue_ids)}
        self._members: tuple[int, dict[int, list[int]]] = (-1, {})
        self._joined: dict[int, set[int]] = {}  # members API writes added, by queue
        self._left: dict[int, set[int]] = {}  # generated members API writes removed, by queue

    # ---- ground truth ------------------------------------------------------------------------------
    def queue_name(self, q: int) -> str:
        base = QUEUE_NAMES[q % len(QUEUE_NAMES)]
        return base if q < len(QUEUE_NAMES) else f"{base} {q // len(QUEUE_NAMES) + 1}"

    def wrapup_name(self, w: int) -> str:
        base = WRAPUP_NAMES[w % len(WRAPUP_NAMES)]
        return base if w < len(WRAPUP_NAMES) else f"{base} {w // len(WRAPUP_NAMES) + 1}"

    def queues_of(self, user_index: int) -> list[int]:
        """The queues an (active) user is a member of: one to three, from the user's hash."""
        d = _digest(self.org.seed, "membership", user_index)
        count = len(self.queue_ids)
        return sorted({d[k] % count for k in range(1 + d[3] % 3)})

    def members(self, q: int) -> list[int]:
        """User indexes of queue ``q``'s members, in user order (active users only); cached per org version."""
        version, cache = self._members
        if version != self.org.version:
            version, cache = self.org.version, {}
            self._members = (version, cache)
        if q not in cache:
            ids = self.org.user_ids_by_index()
            left, joined = self._left.get(q, set()), self._joined.get(q, set())
            cache[q] = [
                i for i in range(len(ids))
                if self.org.state_of(i) == "active" and (i in joined or (q in self.queues_of(i) and i not in left))
            ]
        return cache[q]

    def change_members(self, q: int, users: list[int], add: bool) -> list[int]:
        """Add (or remove) users to queue ``q``; returns those whose membership changed."""
        current = set(self.members(q))
        changed = [i for i in dict.fromkeys(users) if (i in current) != add]
        for i in changed:
            generated = q in self.queues_of(i)
            if add:
                self._left.get(q, set()).discard(i)
                if not generated:
                    self._joined.setdefault(q, set()).add(i)
            else:
                self._joined.get(q, set()).discard(i)
                if generated:
                    self._left.setdefault(q, set()).add(i)
        self._members = (-1, {})
        return changed

    # ---- rendering ---------------------------------------------------------------------------------
    def render_queue(self, q: int) -> dict[str, Any]:
        queue_id = self.queue_ids[q]
        count = len(self.members(q))
        return {
            "id": queue_id,
            "name": self.queue_name(q),
            "division": self.org.division_ref(0),
            "description": f"Emulated {self.queue_name(q)} queue",
            "dateCreated": _CREATED,
            "dateModified": _CREATED,
            "memberCount": count,
            "userMemberCount": count,
            "joinedMemberCount": count,
            "scoringMethod": "TimestampAndPriority",
            "skillEvaluationMethod": "ALL",
            "autoAnswerOnly": False,
            "enableTranscription": False,
            "enableManualAssignment": False,
            "selfUri": f"/api/v2/routing/queues/{queue_id}",
        }

    def render_member(self, i: int) -> dict[str, Any]:
        user_id = self.org.user_id(i)
        return {
            "id": user_id,
            "name": self.org.user_name(i),
            "user": {"id": user_id, "name": self.org.user_name(i), "selfUri": f"/api/v2/users/{user_id}"},
            "ringNumber": 1,
            "joined": True,
            "memberBy": "user",
            "selfUri": f"/api/v2/users/{user_id}",
        }

    def render_wrapup(self, w: int) -> dict[str, Any]:
        code_id = self.wrapup_ids[w]
        return {
            "id": code_id,
            "name": self.wrapup_name(w),
            "division": self.org.division_ref(0),
            "dateCreated": _CREATED,
            "createdBy": "emulator",
            "selfUri": f"/api/v2/routing/wrapupcodes/{code_id}",
        }
