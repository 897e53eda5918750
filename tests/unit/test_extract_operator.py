"""GenesysCloudExtractOperator: arguments, templating, outlets, XCom summary, atomicity under faults."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.sdk import Asset, AssetAlias

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator
from airflow_provider_genesys.testing import GenesysCloudEmulator

CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=1100, seed=31) as emulator:
        monkeypatch.setenv(CONN_ENV, json.dumps(emulator.connection_dict(max_retry_wait=0, max_attempts=3)))
        yield emulator


def lines(path: Path) -> list[dict]:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return [json.loads(line) for line in raw.decode().splitlines()]


def test_dataset_state_and_expand_are_validated_at_construction() -> None:
    with pytest.raises(ValueError, match="users, roles, permissions, divisions, grants"):
        GenesysCloudExtractOperator(task_id="x", dataset="chats", destination="/tmp/q.ndjson")
    with pytest.raises(ValueError, match="active, inactive, deleted, any"):
        GenesysCloudExtractOperator(task_id="x", dataset="users", destination="/tmp/u.ndjson", state="gone")
    with pytest.raises(ValueError, match="users dataset only"):
        GenesysCloudExtractOperator(task_id="x", dataset="roles", destination="/tmp/r", expand="groups")


def test_static_destination_is_the_asset_outlet_templated_an_alias() -> None:
    static = GenesysCloudExtractOperator(task_id="a", dataset="roles", destination="/data/roles.ndjson")
    assert static.outlets == [Asset("file:///data/roles.ndjson")]
    templated = GenesysCloudExtractOperator(task_id="b", dataset="roles", destination="/d/{{ ds }}/r.ndjson")
    assert templated.outlets == [AssetAlias("genesys-extract /d/{{ ds }}/r.ndjson")]  # the Asset comes at run time


def test_templated_destination_and_xcom_summary(emu: GenesysCloudEmulator, tmp_path: Path) -> None:
    op = GenesysCloudExtractOperator(
        task_id="users", dataset="users", destination="file://" + str(tmp_path) + "/{{ ds }}/users.ndjson.gz"
    )
    context = {"ds": "2024-05-01"}
    op.render_template_fields(context)
    result = op.execute(context)
    target = tmp_path / "2024-05-01" / "users.ndjson.gz"
    assert result == {
        "dataset": "users",
        "path": f"file://{target}",
        "records": 1100,
        "pages": 6,  # 3 pages, read twice: the second pass proves nothing moved (docs/operators.md)
        "requests": 6,
        "rate_limited": 0,
        "seconds": result["seconds"],
    }
    assert sorted(u["id"] for u in lines(target)) == sorted(emu.org.user_ids("any"))


def test_transient_5xx_mid_extract_is_retried(emu: GenesysCloudEmulator, tmp_path: Path) -> None:
    emu.faults.status(503, count=2, after=1, path=r"^/api/v2/users$")
    op = GenesysCloudExtractOperator(task_id="u", dataset="users", destination=str(tmp_path / "u.ndjson"))
    assert op.execute({})["records"] == 1100
    assert len(lines(tmp_path / "u.ndjson")) == 1100


@pytest.mark.parametrize(("status", "error"), [(400, AirflowFailException), (503, GenesysCloudApiError)])
def test_failure_mid_extract_leaves_no_file(
    emu: GenesysCloudEmulator, tmp_path: Path, status: int, error: type[Exception]
) -> None:
    emu.faults.status(status, count=None, after=1, path=r"^/api/v2/users$")
    op = GenesysCloudExtractOperator(task_id="u", dataset="users", destination=str(tmp_path / "out/u.ndjson"))
    with pytest.raises(error, match=rf"GET /api/v2/users failed: {status} .*correlation id"):
        op.execute({})
    assert list((tmp_path / "out").iterdir()) == []  # neither the destination nor a temporary file


def test_bad_credentials_fail_the_task(emu: GenesysCloudEmulator, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(CONN_ENV, json.dumps({**emu.connection_dict(), "password": "wrong"}))
    op = GenesysCloudExtractOperator(task_id="r", dataset="roles", destination=str(tmp_path / "r.ndjson"))
    with pytest.raises(AirflowFailException) as caught:
        op.execute({})
    assert "wrong" not in str(caught.value)
    assert not (tmp_path / "r.ndjson").exists()


def test_more_than_10000_users_each_exactly_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with GenesysCloudEmulator(users=10_500, seed=3, rate_limit=10_000) as big:
        monkeypatch.setenv(CONN_ENV, big.connection_json())
        op = GenesysCloudExtractOperator(task_id="u", dataset="users", destination=str(tmp_path / "u.ndjson"))
        result = op.execute({})
        ids = [u["id"] for u in lines(tmp_path / "u.ndjson")]
        assert len(ids) == len(set(ids)) == result["records"] == 10_500
        assert set(ids) == set(big.org.user_ids("any"))
        # past 10,000 in all: each state on its own, all under the cap, so by page number in parallel
        assert "GET /api/v2/users/query" not in big.stats.snapshot()["by_path"]
        assert big.stats.rate_limited == 0


@pytest.mark.parametrize(
    ("destination", "match"),
    [
        ("out/users.ndjson", "is relative; give an absolute path"),
        ("/data/genesys/", "names a folder; end it with a file name"),
        ("foo://bucket/users.ndjson", r"cannot be opened \(Unsupported filesystem: 'foo'\)\. Use file:///"),
    ],
)
def test_bad_destination_spelling_fails_at_parse_time_saying_how_to_fix_it(destination: str, match: str) -> None:
    with pytest.raises(AirflowFailException, match=match):
        GenesysCloudExtractOperator(task_id="x", dataset="roles", destination=destination)


def test_unusable_destination_fails_the_task_before_or_without_writing(
    emu: GenesysCloudEmulator, tmp_path: Path
) -> None:
    folder = GenesysCloudExtractOperator(task_id="x", dataset="roles", destination=str(tmp_path))
    with pytest.raises(AirflowFailException, match=r"is an existing folder; add a file name, e\.g\. .*/roles\.ndjson"):
        folder.execute({})
    blocked = tmp_path / "file"
    blocked.write_text("")
    inside_a_file = GenesysCloudExtractOperator(task_id="y", dataset="roles", destination=f"{blocked}/r.ndjson")
    with pytest.raises(AirflowFailException, match=r"Could not write destination .* Check that the path is writable"):
        inside_a_file.execute({})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no stray temporary file anywhere
    assert emu.stats.requests == 0  # a folder is refused before any request; a bad parent before the first page
