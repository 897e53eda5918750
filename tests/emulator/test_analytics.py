"""The analytics and routing areas of the emulator: payloads against Genesys' models, job life, history."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing.org.conversations import iso_ms

from .conftest import ApiClient, page_through
from .test_models import assert_conforms

JOBS = "/api/v2/analytics/conversations/details/jobs"
USER_JOBS = "/api/v2/analytics/users/details/jobs"
DAY = "2026-03-02T00:00:00Z/2026-03-03T00:00:00Z"
DAY_MS = (int(datetime(2026, 3, 2, tzinfo=timezone.utc).timestamp() * 1000),
          int(datetime(2026, 3, 3, tzinfo=timezone.utc).timestamp() * 1000))


@pytest.fixture(scope="module")
def emu():
    with GenesysCloudEmulator(users=60, seed=5, job_polls=2, rate_limit=100_000, conversations_per_day=300,
                              analytics_page_size=50, analytics_max_jobs=3) as emulator:
        yield emulator


@pytest.fixture
def api(emu: GenesysCloudEmulator) -> ApiClient:
    return ApiClient(emu)


def submit(api: ApiClient, path: str = JOBS, interval: str = DAY) -> str:
    response = api.post(path, {"interval": interval, "order": "asc", "orderBy": "conversationStart"})
    assert response.status_code == 202, response.text
    assert_conforms(response.json(), "AsyncQueryResponse")
    return response.json()["jobId"]


def states(api: ApiClient, job_id: str, path: str = JOBS, reads: int = 3) -> list[str]:
    found = []
    for _ in range(reads):
        body = api.ok(f"{path}/{job_id}")
        assert_conforms(body, "AsyncQueryStatus")
        found.append(body["state"])
    return found


def all_results(api: ApiClient, job_id: str, path: str = JOBS, field: str = "conversations",
                model: str = "AnalyticsConversationAsyncQueryResponse") -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        body = api.ok(f"{path}/{job_id}/results", **({"cursor": cursor} if cursor else {}))
        assert_conforms(body, model)
        items += body[field]
        cursor = body.get("cursor")
        if not cursor:
            return items


def test_conversation_job_goes_queued_pending_fulfilled_and_pages_by_cursor(api, emu):
    """Results: every conversation with activity in the interval, in start order, each once."""
    job_id = submit(api)
    assert api.get(f"{JOBS}/{job_id}/results").status_code == 404  # not FULFILLED yet
    assert states(api, job_id) == ["QUEUED", "PENDING", "FULFILLED"]
    conversations = all_results(api, job_id)
    starts = [c["conversationStart"] for c in conversations]
    assert starts == sorted(starts)
    ids = [c["conversationId"] for c in conversations]
    assert len(ids) == len(set(ids))
    started_today = {cid for cid, _ in emu.analytics.history.started(*DAY_MS)}
    assert started_today <= set(ids)
    # the others started the day before and were still going at midnight
    spill = [c for c in conversations if c["conversationId"] not in started_today]
    assert spill
    assert all(c["conversationStart"] < "2026-03-02" < c["conversationEnd"] for c in spill)
    assert len(started_today) == 300
    purposes = [p["purpose"] for p in conversations[0]["participants"]]
    assert purposes == ["customer", "acd", "agent"]
    agent = conversations[0]["participants"][2]
    queue_id = agent["sessions"][0]["segments"][0]["queueId"]
    members = emu.analytics.routing.members(emu.analytics.routing.queue_ids.index(queue_id))
    assert agent["userId"] in {emu.org.user_id(i) for i in members}


def test_history_is_reproducible_for_a_seed():
    def first_ids(seed: int) -> list[str]:
        with GenesysCloudEmulator(users=20, seed=seed, conversations_per_day=50) as emulator:
            return [cid for cid, _ in emulator.analytics.history.started(*DAY_MS)]

    assert first_ids(3) == first_ids(3) != first_ids(4)


def test_user_details_job_and_availability(api, emu):
    availability = api.ok(f"{USER_JOBS}/availability")
    assert_conforms(availability, "DataAvailabilityResponse")
    assert_conforms(api.ok(f"{JOBS}/availability"), "DataAvailabilityResponse")
    job_id = submit(api, USER_JOBS)
    states(api, job_id, USER_JOBS)
    details = all_results(api, job_id, USER_JOBS, "userDetails", "AnalyticsUserDetailsAsyncQueryResponse")
    assert sorted(d["userId"] for d in details) == sorted(emu.org.user_ids("active"))
    presence = details[0]["primaryPresence"]
    assert presence[0]["startTime"] == "2026-03-02T00:00:00.000Z"
    assert presence[-1]["endTime"].startswith("2026-03-03")


def test_pinned_availability_cuts_results_and_is_reported(api, emu):
    emu.analytics.jobs.set_availability("2026-03-02T12:00:00Z")
    try:
        assert api.ok(f"{JOBS}/availability")["dataAvailabilityDate"] == "2026-03-02T12:00:00.000Z"
        job_id = submit(api)
        states(api, job_id)
        conversations = all_results(api, job_id)
        assert conversations
        assert max(c["conversationStart"] for c in conversations) < "2026-03-02T12:00:00"
    finally:
        emu.analytics.jobs.set_availability(None)


def test_scripted_failed_and_expired_jobs(api, emu):
    emu.analytics.jobs.script("FAILED")
    failed = submit(api)
    assert states(api, failed)[-1] == "FAILED"
    assert api.ok(f"{JOBS}/{failed}")["errorMessage"]
    emu.analytics.jobs.script("EXPIRED", after_pages=2)
    expiring = submit(api)
    assert states(api, expiring)[-1] == "FULFILLED"
    first = api.ok(f"{JOBS}/{expiring}/results")
    api.ok(f"{JOBS}/{expiring}/results", cursor=first["cursor"])
    assert api.ok(f"{JOBS}/{expiring}")["state"] == "EXPIRED"
    assert api.get(f"{JOBS}/{expiring}/results").status_code == 404
    with pytest.raises(ValueError, match="FAILED, CANCELLED, EXPIRED"):
        emu.analytics.jobs.script("LOST")


def test_too_many_unfinished_jobs_get_429_with_retry_after(api, emu):
    waiting = [submit(api) for _ in range(3)]
    response = api.post(JOBS, {"interval": DAY})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert_conforms(response.json(), "ErrorBody")
    for job_id in waiting:
        states(api, job_id)  # they finish
    submit(api)


def test_bad_queries_are_400_naming_the_problem(api):
    assert "interval" in api.post(JOBS, {"order": "asc"}).json()["message"]
    assert "ends before" in api.post(JOBS, {"interval": "2026-03-03T00:00:00Z/2026-03-02T00:00:00Z"}).json()["message"]
    assert api.get(f"{JOBS}/nope").status_code == 404


def test_routing_listings_conform_and_members_follow_next_uri(api, emu):
    body = api.ok("/api/v2/routing/queues", pageSize=100)
    assert_conforms(body, "QueueEntityListing")
    assert [q["id"] for q in body["entities"]] == emu.analytics.routing.queue_ids
    queue = body["entities"][0]
    first = api.ok(f"/api/v2/routing/queues/{queue['id']}/members", pageSize=5)
    assert_conforms(first, "QueueMemberEntityListing")
    assert "pageCount" not in first
    assert "total" not in first
    members = page_through(api, f"/api/v2/routing/queues/{queue['id']}/members", pageSize=5)
    assert len(members) == queue["memberCount"] > 5
    assert api.get(f"/api/v2/routing/queues/{queue['id']}/members", pageSize=101).status_code == 400
    codes = api.ok("/api/v2/routing/wrapupcodes")
    assert_conforms(codes, "WrapupCodeEntityListing")
    assert codes["total"] == 20


# Allowed values of the enums the emulator uses, from the SDK's models (PureCloudPlatformClientV2 269.0.0,
# ``allowed_values`` in analytics_participant.py, analytics_conversation_segment.py, analytics_session.py,
# analytics_conversation.py, analytics_user_presence_record.py, analytics_routing_status_record.py).
SDK_ENUMS = {
    "purpose": {"acd", "agent", "api", "botflow", "campaign", "customer", "dialer", "external", "fax", "group",
                "inbound", "ivr", "manual", "outbound", "station", "user", "voicemail", "voicesurveyflow",
                "workflow"},
    "segmentType": {"alert", "barging", "callback", "coaching", "contacting", "converting", "delay", "dialing",
                    "hold", "interact", "ivr", "monitoring", "parked", "scheduled", "screenmonitoring", "sharing",
                    "system", "transmitting", "unknown", "uploading", "voicemail", "wrapup"},
    "disconnectType": {"client", "conferenceTransfer", "consultTransfer", "dndEndpoint", "dndTransfer", "endpoint",
                       "error", "forwardTransfer", "inactivity", "noAnswerTransfer", "notAvailableTransfer", "other",
                       "peer", "sessionExpired", "spam", "system", "takeover", "timeout", "transfer",
                       "transportFailure", "uncallable"},
    "mediaType": {"callback", "chat", "cobrowse", "email", "internalmessage", "message", "screenmonitoring",
                  "screenshare", "unknown", "video", "voice"},
    "direction": {"inbound", "outbound"},
    "originatingDirection": {"inbound", "outbound"},
    "systemPresence": {"AVAILABLE", "AWAY", "BUSY", "OFFLINE", "IDLE", "ON_QUEUE", "MEAL", "TRAINING", "MEETING",
                       "BREAK"},
    "routingStatus": {"OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"},
}


def enum_values(value: Any, found: dict[str, set[str]]) -> dict[str, set[str]]:
    """Every string value of a key named in SDK_ENUMS, anywhere in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SDK_ENUMS and isinstance(item, str):
                found.setdefault(key, set()).add(item)
            else:
                enum_values(item, found)
    elif isinstance(value, list):
        for item in value:
            enum_values(item, found)
    return found


def test_enum_values_are_ones_genesys_publishes(api, emu):
    job_id = submit(api)
    states(api, job_id)
    found = enum_values(all_results(api, job_id), {})
    users = submit(api, USER_JOBS)
    states(api, users, USER_JOBS)
    enum_values(all_results(api, users, USER_JOBS, "userDetails", "AnalyticsUserDetailsAsyncQueryResponse"), found)
    assert set(found) == set(SDK_ENUMS)
    for key, values in found.items():
        assert values <= SDK_ENUMS[key], key


def test_in_progress_minutes_shows_recent_conversations_as_they_go_on() -> None:
    """A job for an interval that ended a minute ago shows the conversations not ended yet without
    conversationEnd and with only the segments begun; once the clock passes their end they come whole."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    end = int(now.timestamp() * 1000) - 60_000
    interval = f"{iso_ms(end - 7_200_000)}/{iso_ms(end)}"
    with GenesysCloudEmulator(users=40, seed=9, job_seconds=0, rate_limit=100_000, conversations_per_day=2000,
                              in_progress_minutes=60) as emulator:
        api = ApiClient(emulator)
        first = all_results(api, submit(api, interval=interval))
        (job,) = emulator.analytics.jobs.jobs
        as_of = iso_ms(job.as_of_ms)
        going_on = [c for c in first if "conversationEnd" not in c]
        assert going_on, "2,000 a day: the last minutes' conversations are still going on"
        for conversation in first:
            truth_end = iso_ms(emulator.analytics.history.times(*_position_of(emulator, conversation))[1])
            assert ("conversationEnd" in conversation) == (truth_end <= as_of)
        for conversation in going_on:
            segments = [s for p in conversation["participants"] for x in p["sessions"] for s in x["segments"]]
            assert all(s["segmentStart"] <= as_of for s in segments)
            assert any("segmentEnd" not in s for s in segments)  # the one going on
            metrics = [m for p in conversation["participants"] for x in p["sessions"] for m in x["metrics"]]
            assert all(m["emitDate"] <= as_of for m in metrics)

        emulator.advance_clock(31 * 60)  # every conversation of the interval has ended (30 min at most)
        again = all_results(api, submit(api, interval=interval))
        assert [c["conversationId"] for c in again] == [c["conversationId"] for c in first]
        assert all("conversationEnd" in c for c in again)

    with GenesysCloudEmulator(users=40, seed=9, job_seconds=0, conversations_per_day=2000) as default:
        api = ApiClient(default)
        assert all("conversationEnd" in c for c in all_results(api, submit(api, interval=interval)))  # off


def _position_of(emu: GenesysCloudEmulator, conversation: dict[str, Any]) -> tuple[int, int]:
    """``(day, k)`` of a returned conversation, found from the ground truth by its id and start."""
    start = int(datetime.fromisoformat(conversation["conversationStart"].replace("Z", "+00:00")).timestamp() * 1000)
    day = start // 86_400_000
    for k in range(emu.analytics.history.per_day):
        begin, _, _ = emu.analytics.history.times(day, k)
        if begin == start:
            return day, k
    raise AssertionError(f"no conversation of the history starts at {conversation['conversationStart']}")
