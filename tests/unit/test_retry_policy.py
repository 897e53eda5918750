"""The retry policy, cell by cell: what the client sends, what `.retryable` says, what an operator does.

EXPECTED is this test's own copy of the policy users rely on (docs/connection.md, "Retries and rate
limits"): changing a cell in retrypolicy.py without changing it here, and in the docs, fails.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.operators.base import api_errors_as_failures
from airflow_provider_genesys.retrypolicy import Action, Calls, Failure, markdown_table
from tests.unit.conftest import API, FakeClock, make_settings

MAX_ATTEMPTS = 3
# C: client retry, T: task retry, F: fail now. Columns: GET/PUT/DELETE, POST/PATCH opted in, POST/PATCH.
POLICY_USERS_RELY_ON = """
    RATE_LIMITED     C C C
    NOT_SENT         C C C
    UNKNOWN_OUTCOME  C C F
    SERVER_ERROR     T T F
    UNAUTHORIZED     F F F
    REFUSED          F F F
"""
_WORDS = {"C": "client retry", "T": "task retry", "F": "fail now"}
EXPECTED = {
    Failure[name]: tuple(_WORDS[cell] for cell in cells)
    for name, *cells in (line.split() for line in POLICY_USERS_RELY_ON.strip().splitlines())
}
COLUMNS = (Calls.IDEMPOTENT, Calls.REPEATABLE, Calls.WRITE)


def _refused() -> requests.ConnectionError:
    """What requests raises when nothing listens on the port (urllib3's error inside its retry error)."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.ConnectionError(MaxRetryError(None, "/api/v2/x", reason))  # type: ignore[arg-type]


def _status(code: int) -> dict[str, Any]:
    return {"status_code": code, "json": {"status": code, "code": "x", "message": f"answered {code}"},
            "headers": {"Retry-After": "0"}}


# Every kind of failure the client meets, by the policy row it belongs to.
EXAMPLES: list[tuple[str, Failure, dict[str, Any]]] = [
    ("429", Failure.RATE_LIMITED, _status(429)),
    ("connection refused", Failure.NOT_SENT, {"exc": _refused()}),
    ("connect timeout", Failure.NOT_SENT, {"exc": requests.ConnectTimeout("connect timed out")}),
    *((str(code), Failure.UNKNOWN_OUTCOME, _status(code)) for code in (408, 502, 503, 504)),
    ("connection reset", Failure.UNKNOWN_OUTCOME, {"exc": requests.ConnectionError("Connection reset by peer")}),
    ("read timeout", Failure.UNKNOWN_OUTCOME, {"exc": requests.ReadTimeout("read timed out")}),
    ("body cut short", Failure.UNKNOWN_OUTCOME,
     {"exc": requests.exceptions.ChunkedEncodingError("IncompleteRead(12 bytes read)")}),
    ("200 not JSON", Failure.UNKNOWN_OUTCOME, {"status_code": 200, "text": '{"id": "x'}),
    *((str(code), Failure.SERVER_ERROR, _status(code)) for code in (500, 501, 505)),
    ("401", Failure.UNAUTHORIZED, _status(401)),
    *((str(code), Failure.REFUSED, _status(code)) for code in (400, 403, 404, 409, 422)),
]
# A method of each class; the idempotent class includes writes that are safe twice (PUT, DELETE).
METHODS: list[tuple[str, bool, Calls]] = [
    ("GET", False, Calls.IDEMPOTENT),
    ("PUT", False, Calls.IDEMPOTENT),
    ("DELETE", False, Calls.IDEMPOTENT),
    ("POST", True, Calls.REPEATABLE),
    ("PATCH", True, Calls.REPEATABLE),
    ("POST", False, Calls.WRITE),
    ("PATCH", False, Calls.WRITE),
]


def test_the_examples_cover_every_row_and_the_methods_every_column() -> None:
    assert {failure for _, failure, _ in EXAMPLES} == set(Failure) == set(EXPECTED)
    assert {calls for _, _, calls in METHODS} == set(COLUMNS)


@pytest.mark.parametrize(
    ("method", "opted_in", "calls"), METHODS, ids=[f"{m}{'+opt-in' if o else ''}" for m, o, _ in METHODS]
)
@pytest.mark.parametrize(("failure", "answer"), [(f, a) for _, f, a in EXAMPLES], ids=[n for n, _, _ in EXAMPLES])
def test_every_cell(
    requests_mock: Any, make_client: Any, method: str, opted_in: bool, calls: Calls, failure: Failure, answer: dict
) -> None:
    expected = Action(EXPECTED[failure][COLUMNS.index(calls)])
    mocked = requests_mock.register_uri(method, f"{API}/api/v2/x", [answer])  # the same answer every time
    client: GenesysCloudClient = make_client(max_attempts=MAX_ATTEMPTS)

    with pytest.raises(GenesysCloudApiError) as caught:
        client.request(method, "/api/v2/x", json={"a": 1}, retry_non_idempotent=opted_in)
    error = caught.value

    # What the client did: resent within its budget, replayed a 401 once after a new token, or sent once.
    sends = {Action.CLIENT_RETRY: MAX_ATTEMPTS}.get(expected, 2 if failure is Failure.UNAUTHORIZED else 1)
    assert mocked.call_count == sends
    assert error.attempts == (MAX_ATTEMPTS if expected is Action.CLIENT_RETRY else 1)
    # What the error says: its row, its cell, and whether Airflow's task retries may help.
    assert (error.failure, error.action) == (failure, expected)
    assert error.retryable is (expected is not Action.FAIL_NOW)
    if expected is Action.FAIL_NOW and failure in (Failure.UNKNOWN_OUTCOME, Failure.SERVER_ERROR):
        assert "outcome is unknown: check (read back) what it changes" in str(error)

    # What an operator (or sensor) does with it: fail the task now, or leave it to the task's retries.
    with pytest.raises((AirflowFailException, GenesysCloudApiError)) as task, api_errors_as_failures():
        raise error
    if expected is Action.FAIL_NOW:
        assert isinstance(task.value, AirflowFailException)
        assert str(task.value) == str(error)
    else:
        assert task.value is error


def test_a_refused_connection_is_resent_even_for_a_write(clock: FakeClock) -> None:
    """A real closed port: nothing reached a server, so a POST is sent again; the task may retry later."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    settings = make_settings(
        access_token="pre-issued", gateway_host="127.0.0.1", gateway_protocol="http", gateway_port=str(port),
        max_attempts=MAX_ATTEMPTS,
    )
    client = GenesysCloudClient(settings, sleep=clock.sleep, clock=clock)
    with client, pytest.raises(GenesysCloudApiError) as caught:
        client.request("POST", "/api/v2/audits/query", json={})
    assert (caught.value.failure, caught.value.attempts, caught.value.retryable) == (
        Failure.NOT_SENT, MAX_ATTEMPTS, True
    )
    assert len(clock.sleeps) == MAX_ATTEMPTS - 1


def test_a_throttled_token_endpoint_is_a_rate_limit_and_a_500_there_is_left_to_task_retries(
    requests_mock: Any, make_client: Any
) -> None:
    from tests.unit.conftest import TOKEN_URL

    throttled = {"error": "invalid_request", "description": "rate limit exceeded"}
    token = requests_mock.post(TOKEN_URL, status_code=400, json=throttled)
    with pytest.raises(GenesysCloudApiError) as caught:
        make_client(max_attempts=MAX_ATTEMPTS).request("GET", "/api/v2/x")
    error = caught.value
    assert (token.call_count, error.failure, error.retryable) == (MAX_ATTEMPTS, Failure.RATE_LIMITED, True)
    token = requests_mock.post(TOKEN_URL, status_code=500, json={"error": "server_error"})
    with pytest.raises(GenesysCloudApiError) as caught:
        make_client(max_attempts=MAX_ATTEMPTS).request("GET", "/api/v2/x")
    assert (token.call_count, caught.value.action) == (1, Action.TASK_RETRY)


def test_the_docs_show_the_policy_table_of_the_code() -> None:
    """docs/connection.md holds markdown_table() between its markers; regenerate it when this fails:
    python -c "from airflow_provider_genesys.retrypolicy import markdown_table; print(markdown_table())"."""
    doc = (Path(__file__).parents[2] / "docs" / "connection.md").read_text()
    shown = re.search(r"<!-- retry-policy:start -->\n(.*?)\n<!-- retry-policy:end -->", doc, re.S)
    assert shown is not None, "docs/connection.md lost its retry-policy markers"
    assert shown.group(1) == markdown_table()
    rows = [f"| {failure.value} | " + " | ".join(cells) + " |" for failure, cells in EXPECTED.items()]
    assert markdown_table().splitlines()[2:] == rows  # the docs show this test's copy of the policy too
