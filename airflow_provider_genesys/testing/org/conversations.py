"""The emulated conversation and presence history: endless, reproducible, derived from ``(seed, day, k)``.

Every UTC day holds ``per_day`` voice conversations. Conversation ``k`` of day ``d`` starts inside the
``k``-th of ``per_day`` equal slots of the day (so starts are strictly increasing in ``k``) and lasts at
most :data:`MAX_DURATION_MS`: a queue wait (``acd`` participant on a queue), then an agent (a member of that
queue) rings, talks and wraps up with a wrap-up code. Nothing is stored: times, ids and the payload are
computed from a hash when asked for, so a week of 100,000 conversations costs no memory, and the ground
truth a test compares against is the same functions.

Agents' presence follows a daily shift derived from ``(seed, user, day)``: OFFLINE, ON_QUEUE, MEAL,
ON_QUEUE, OFFLINE, with the matching routing statuses (IDLE while on queue, OFF_QUEUE otherwise).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

from airflow_provider_genesys.testing.org.directory import Org
from airflow_provider_genesys.testing.org.routing import Routing

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MAX_DURATION_MS = 1_800_000  # upper bound of wait + ring + talk + wrap-up (at most 1,640 s)
Position = tuple[int, int]  # (day number since the epoch, conversation index in the day)


def iso_ms(ms: int) -> str:
    """Genesys' timestamp format (UTC, milliseconds, ``Z``) from integer epoch milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _id(base: bytes, n: int) -> str:
    return str(uuid.UUID(bytes=base[:15] + bytes([n]), version=4))


def _segment_as_of(segment: dict[str, Any], now: str) -> dict[str, Any]:
    if segment["segmentEnd"] <= now:
        return segment
    return {key: value for key, value in segment.items() if key not in ("segmentEnd", "disconnectType")}


class History:
    """Conversations and presence of one org; pure functions of the seed, the org and the routing."""

    def __init__(self, org: Org, routing: Routing, per_day: int) -> None:
        if per_day < 0:
            raise ValueError(f"conversations_per_day must be >= 0; got {per_day}")
        self.org = org
        self.routing = routing
        self.per_day = per_day
        self._prefix = f"{org.seed}:conversation:".encode()

    # ---- conversations: times and enumeration ------------------------------------------------------
    def _digest(self, day: int, k: int) -> bytes:
        return hashlib.blake2b(self._prefix + f"{day}:{k}".encode(), digest_size=32).digest()

    def _durations(self, d: bytes) -> tuple[int, int, int, int]:
        """(queue wait, ring, talk, wrap-up) in milliseconds."""
        wait = 5_000 + int.from_bytes(d[4:6], "big") % 295_000
        ring = 2_000 + int.from_bytes(d[6:8], "big") % 18_000
        talk = 30_000 + int.from_bytes(d[8:11], "big") % 1_170_000
        acw = int.from_bytes(d[11:13], "big") % 120_000
        return wait, ring, talk, acw

    def times(self, day: int, k: int) -> tuple[int, int, bytes]:
        """``(start_ms, end_ms, digest)`` of conversation ``k`` of ``day``."""
        d = self._digest(day, k)
        slot = DAY_MS / self.per_day
        offset = int.from_bytes(d[0:4], "big") / 2**32 * (slot - 1)
        start = day * DAY_MS + int(k * slot + offset)
        return start, start + sum(self._durations(d)), d

    def _k_range(self, day: int, lo_ms: int, hi_ms: int) -> range:
        """Indexes of ``day`` whose start may lie in ``[lo_ms, hi_ms)`` (a superset, checked by the caller)."""
        slot = DAY_MS / self.per_day
        first = max(0, int((lo_ms - day * DAY_MS) // slot) - 1)
        last = min(self.per_day - 1, int((hi_ms - day * DAY_MS) // slot) + 1)
        return range(first, last + 1)

    def active(self, start_ms: int, end_ms: int, until_ms: int, after: Position | None = None
               ) -> Iterator[tuple[Position, int, int, bytes]]:
        """Conversations with activity in ``[start_ms, end_ms)`` that started before ``until_ms`` (the data
        Genesys has), in start order; ``after`` resumes behind a position (a results cursor)."""
        if self.per_day == 0:
            return
        stop = min(end_ms, until_ms)
        first_day = (start_ms - MAX_DURATION_MS) // DAY_MS
        for day in range(first_day, (stop - 1) // DAY_MS + 1):
            if after is not None and day < after[0]:
                continue
            for k in self._k_range(day, start_ms - MAX_DURATION_MS, stop):
                if after is not None and (day, k) <= after:
                    continue
                begin, end, d = self.times(day, k)
                if begin < stop and end > start_ms:
                    yield (day, k), begin, end, d

    def started(self, start_ms: int, end_ms: int) -> Iterator[tuple[str, int]]:
        """Ground truth: ``(conversationId, start_ms)`` of every conversation started in ``[start_ms, end_ms)``."""
        if self.per_day == 0:
            return
        for day in range(start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1):
            for k in self._k_range(day, start_ms, end_ms):
                begin, _, d = self.times(day, k)
                if start_ms <= begin < end_ms:
                    yield _id(d, 0), begin

    # ---- conversations: payload (AnalyticsConversation) --------------------------------------------
    def render(self, begin: int, end: int, d: bytes) -> dict[str, Any]:
        wait, ring, talk, acw = self._durations(d)
        routing, org = self.routing, self.org
        q = d[13] % len(routing.queue_ids)
        queue_id = routing.queue_ids[q]
        wrapup_id = routing.wrapup_ids[d[14] % len(routing.wrapup_ids)]
        members = routing.members(q)
        answered, talked, wrapped = begin + wait, begin + wait + ring, begin + wait + ring + talk
        customer_end = wrapped
        caller = f"tel:+1555{int.from_bytes(d[15:18], 'big') % 10_000_000:07d}"
        dnis = f"tel:+1800555{q % 10_000:04d}"

        def session(n: int, segments: list[dict[str, Any]], metrics: list[tuple[str, int, int]],
                    **extra: Any) -> dict[str, Any]:
            return {
                "sessionId": _id(d, 8 + n), "mediaType": "voice", "direction": "inbound", "ani": caller,
                "dnis": dnis, **extra,
                "metrics": [{"name": name, "value": value, "emitDate": iso_ms(at)} for name, value, at in metrics],
                "segments": segments,
            }

        def segment(kind: str, start: int, stop: int, **extra: Any) -> dict[str, Any]:
            return {"segmentStart": iso_ms(start), "segmentEnd": iso_ms(stop), "segmentType": kind, **extra}

        participants: list[dict[str, Any]] = [
            {
                "participantId": _id(d, 1), "participantName": "Customer", "purpose": "customer",
                "sessions": [session(1, [segment("interact", begin, customer_end, disconnectType="peer")],
                                     [("nConnected", 1, begin)])],
            },
            {
                "participantId": _id(d, 2), "participantName": routing.queue_name(q), "purpose": "acd",
                "sessions": [session(2, [segment("interact", begin, answered, queueId=queue_id,
                                                 disconnectType="transfer")],
                                     [("nOffered", 1, begin), ("tAcd", wait, answered)])],
            },
        ]
        if members:
            agent = members[int.from_bytes(d[18:21], "big") % len(members)]
            participants.append({
                "participantId": _id(d, 3), "participantName": org.user_name(agent), "purpose": "agent",
                "userId": org.user_id(agent),
                "sessions": [session(3, [
                    segment("alert", answered, talked, queueId=queue_id),
                    segment("interact", talked, wrapped, queueId=queue_id, disconnectType="client"),
                    segment("wrapup", wrapped, end, queueId=queue_id, wrapUpCode=wrapup_id),
                ], [("tAlert", ring, talked), ("tAnswered", wait + ring, talked), ("tTalk", talk, wrapped),
                    ("tAcw", acw, end), ("tHandle", talk + acw, end)])],
            })
        return {
            "conversationId": _id(d, 0),
            "conversationStart": iso_ms(begin),
            "conversationEnd": iso_ms(end),
            "originatingDirection": "inbound",
            "divisionIds": [org.division_id(0)],
            "mediaStatsMinConversationMos": round(3.5 + d[21] / 255, 3),
            "participants": participants,
        }

    @staticmethod
    def as_of(conversation: dict[str, Any], as_of_ms: int) -> dict[str, Any]:
        """``conversation`` as Genesys shows it at ``as_of_ms`` if it has not ended by then: no
        ``conversationEnd``, only the segments begun (the current one without ``segmentEnd``), only the
        metrics emitted; an ended conversation is returned unchanged."""
        now = iso_ms(as_of_ms)
        if conversation["conversationEnd"] <= now:
            return conversation
        partial = {key: value for key, value in conversation.items() if key != "conversationEnd"}
        partial["participants"] = [
            {**participant, "sessions": [
                {**session,
                 "segments": [_segment_as_of(segment, now) for segment in session["segments"]
                              if segment["segmentStart"] <= now],
                 "metrics": [metric for metric in session["metrics"] if metric["emitDate"] <= now]}
                for session in participant["sessions"]]}
            for participant in conversation["participants"]
        ]
        return partial

    # ---- presence (AnalyticsUserDetail) ------------------------------------------------------------
    def shift(self, user: int, day: int) -> list[tuple[int, int, str, str]]:
        """``(start_ms, end_ms, systemPresence, routingStatus)`` of ``user`` on ``day``, covering the day."""
        d = hashlib.blake2b(f"{self.org.seed}:shift:{user}:{day}".encode(), digest_size=8).digest()
        day0 = day * DAY_MS
        on = day0 + (6 + d[0] % 6) * HOUR_MS + (d[1] % 4) * 15 * 60_000
        meal, back, off = on + 4 * HOUR_MS, on + 4 * HOUR_MS + 30 * 60_000, on + 8 * HOUR_MS + 30 * 60_000
        return [
            (day0, on, "OFFLINE", "OFF_QUEUE"),
            (on, meal, "ON_QUEUE", "IDLE"),
            (meal, back, "MEAL", "OFF_QUEUE"),
            (back, off, "ON_QUEUE", "IDLE"),
            (off, day0 + DAY_MS, "OFFLINE", "OFF_QUEUE"),
        ]

    def agents(self) -> list[int]:
        """Users with presence history: the active ones, in index order."""
        return [i for i in range(len(self.org.user_ids_by_index())) if self.org.state_of(i) == "active"]

    def user_detail(self, user: int, start_ms: int, end_ms: int, until_ms: int) -> dict[str, Any]:
        """Presence and routing-status records of ``user`` overlapping ``[start_ms, end_ms)`` before ``until_ms``."""
        presence, routing = [], []
        stop = min(end_ms, until_ms)
        for day in range(start_ms // DAY_MS, (stop - 1) // DAY_MS + 1):
            for begin, end, system, status in self.shift(user, day):
                if begin < stop and end > start_ms:
                    presence.append({"startTime": iso_ms(begin), "endTime": iso_ms(end), "systemPresence": system})
                    routing.append({"startTime": iso_ms(begin), "endTime": iso_ms(end), "routingStatus": status})
        return {"userId": self.org.user_id(user), "primaryPresence": presence, "routingStatus": routing}
