from __future__ import annotations

from dataclasses import dataclass

import pytest

from portrisk.errors import DataError
from stream.state_store import PartitionedStore, decode_entry, encode_entry


@dataclass
class Counter:
    """A minimal state type: the store only needs to_bytes/from_bytes."""

    n: int

    def to_bytes(self) -> bytes:
        return str(self.n).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Counter:
        return cls(int(raw))


def test_watermarks_recognise_replayed_records_per_topic() -> None:
    store = PartitionedStore(Counter)
    store.put("NL1", Counter(1))
    store.mark_applied("NL1", "manifests.rotterdam", 41, partition=2)
    assert store.already_applied("NL1", "manifests.rotterdam", 41)
    assert store.already_applied("NL1", "manifests.rotterdam", 12)
    assert not store.already_applied("NL1", "manifests.rotterdam", 42)
    assert not store.already_applied("NL1", "manifests.schiphol", 0)
    assert not store.already_applied("NL2", "manifests.rotterdam", 0)


def test_changelog_round_trip_restores_state_and_watermarks() -> None:
    store = PartitionedStore(Counter)
    store.put("NL1", Counter(7))
    store.mark_applied("NL1", "manifests.rotterdam", 10, partition=1)
    store.mark_applied("NL1", "inspection-outcomes", 3, partition=1)
    dirty = store.drain_dirty()
    assert [(k, p) for k, p, _ in dirty] == [("NL1", 1)]
    assert store.drain_dirty() == []  # drained

    restored = PartitionedStore(Counter)
    for key, partition, value in dirty:
        restored.restore(key, partition, value)
    assert restored.get("NL1") == Counter(7)
    assert restored.already_applied("NL1", "manifests.rotterdam", 10)
    assert restored.already_applied("NL1", "inspection-outcomes", 3)
    restored.restore("NL1", 1, None)  # tombstone
    assert restored.get("NL1") is None


def test_drop_partitions_forgets_only_those_shippers() -> None:
    store = PartitionedStore(Counter)
    for key, partition in (("A", 0), ("B", 1), ("C", 1)):
        store.put(key, Counter(1))
        store.mark_applied(key, "t", 0, partition)
    assert store.drop_partitions({1}) == 2
    assert store.get("A") == Counter(1) and store.get("B") is None and len(store) == 1
    assert [k for k, _, _ in store.drain_dirty()] == ["A"]


def test_corrupt_changelog_record_is_a_data_error() -> None:
    with pytest.raises(DataError, match="corrupt changelog record"):
        decode_entry(b"\x00\x00\x00\x09{broken")
    applied, state = decode_entry(encode_entry({"t": 5}, b"xyz"))
    assert applied == {"t": 5} and state == b"xyz"
