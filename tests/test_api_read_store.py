"""The read model's SQLite store: latest decision per container, visits and outcomes, idempotence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from api_support import decision, manifest

from api.read_model import open_store
from api.read_store import ReadStore
from portrisk.errors import ConfigError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReadStore]:
    s = ReadStore(tmp_path / "rm.sqlite3")
    yield s
    s.close()


def apply(store: ReadStore, *docs: bytes) -> None:
    with store.writing() as conn:
        for doc in docs:
            store.apply_decision(conn, orjson.loads(doc))


def outcome(store: ReadStore, event_id: str, box: str, outcome_id: str = "o1", at: str = "2026-12-02T10:00:00+00:00",
            ) -> None:
    with store.writing() as conn:
        store.apply_outcome(conn, outcome_id, event_id, box, "rotterdam", "no_finding", at)


def open_ids(store: ReadStore, port: str = "rotterdam") -> list[str]:
    return [r["container_id"] for r in store.open_queue(port, limit=100)]


def test_an_outcome_closes_its_visit_whichever_arrives_first(store: ReadStore) -> None:
    first, second = manifest(1), manifest(2)
    outcome(store, first.event_id, first.container_id)  # the outcome is read before its decision
    apply(store, decision(first, 0.9), decision(second, 0.8))

    assert open_ids(store) == [second.container_id]
    outcome(store, second.event_id, second.container_id)
    assert open_ids(store) == []


def test_amendments_share_the_visit_and_a_new_arrival_of_the_box_starts_a_new_one(store: ReadStore) -> None:
    original = manifest(1)
    amendment = manifest(2, box=original.container_id, amends=original.event_id, minutes=5)
    apply(store, decision(original, 0.9), decision(amendment, 0.95))
    outcome(store, original.event_id, original.container_id)
    assert open_ids(store) == []  # the outcome names the original; the amended decision is closed

    next_trip = manifest(3, box=original.container_id, minutes=60 * 24 * 30)
    apply(store, decision(next_trip, 0.7))

    assert open_ids(store) == [original.container_id]  # last month's inspection does not close this trip
    assert store.container(original.container_id)["inspection"] is None  # type: ignore[index]


def test_replaying_records_changes_nothing(store: ReadStore) -> None:
    events = [manifest(i, minutes=i) for i in range(5)]
    docs = [decision(e, 0.6 + i / 100) for i, e in enumerate(events)]
    apply(store, *docs)
    outcome(store, events[0].event_id, events[0].container_id)
    before = (open_ids(store), store.shipper_history(events[0].shipper_id, limit=100))

    apply(store, *docs)
    outcome(store, events[0].event_id, events[0].container_id)

    assert (open_ids(store), store.shipper_history(events[0].shipper_id, limit=100)) == before


def test_positions_commit_with_the_rows_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "rm.sqlite3"
    store = ReadStore(path)
    event = manifest(1)
    with store.writing() as conn:
        store.apply_decision(conn, orjson.loads(decision(event, 0.9)))
        store.save_positions(conn, {("risk-scores", 0): 1, ("risk-scores", 1): 0})
    with pytest.raises(RuntimeError), store.writing() as conn:  # a failed batch leaves no trace
        store.apply_decision(conn, orjson.loads(decision(manifest(2), 0.9)))
        store.save_positions(conn, {("risk-scores", 0): 2})
        raise RuntimeError("crash mid-batch")
    store.close()

    reopened = ReadStore(path)
    assert reopened.positions() == {("risk-scores", 0): 1, ("risk-scores", 1): 0}
    assert open_ids(reopened) == [event.container_id]
    reopened.close()


def test_one_process_per_database_and_a_corrupt_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "rm.sqlite3"
    store = ReadStore(path)
    with pytest.raises(ConfigError, match="in use by another"):
        ReadStore(path)
    store.close()

    path.write_bytes(b"this is not a database" * 100)
    fresh = open_store(path)

    assert fresh.positions() == {} and list(tmp_path.glob("rm.sqlite3.corrupt-*"))
    fresh.close()


def test_a_tombstone_removes_the_container(store: ReadStore) -> None:
    event = manifest(1)
    apply(store, decision(event, 0.9))
    with store.writing() as conn:
        store.delete_container(conn, event.container_id)
    assert store.container(event.container_id) is None and open_ids(store) == []
