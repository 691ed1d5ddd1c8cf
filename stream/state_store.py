"""The worker's shipper-state store: the partitions it owns, what changed, and what was already applied.

Implements the ``StateStore`` interface of :mod:`features.state` (``get``/``put``) for the feature code,
and adds what exactly-once *effects* need on top of at-least-once delivery: for every shipper, the last
offset of each input topic already folded into its state (the *watermark*). The watermark travels with
the state in the compacted changelog, so after a crash or rebalance an event the restored state already
contains is recognised and skipped instead of being counted twice.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import orjson

from portrisk.errors import DataError

_HEADER = struct.Struct(">I")  # length of the watermark JSON that precedes the state bytes


class PartitionedStore:
    """Shipper state held by one worker, grouped by the input partition that owns each shipper."""

    def __init__(self, state_type: Any) -> None:
        # state_type provides from_bytes(); the feature code owns the state's layout.
        self._state_type = state_type
        self._states: dict[str, Any] = {}
        self._applied: dict[str, dict[str, int]] = {}
        self._partition: dict[str, int] = {}
        self._dirty: set[str] = set()

    # -- StateStore interface ---------------------------------------------------------------------
    def get(self, key: str) -> Any | None:
        return self._states.get(key)

    def put(self, key: str, state: Any) -> None:
        self._states[key] = state
        self._dirty.add(key)

    # -- replay protection -------------------------------------------------------------------------
    def already_applied(self, key: str, topic: str, offset: int) -> bool:
        """True when the shipper's state already includes this record of ``topic``."""
        applied = self._applied.get(key)
        return applied is not None and applied.get(topic, -1) >= offset

    def mark_applied(self, key: str, topic: str, offset: int, partition: int) -> None:
        self._applied.setdefault(key, {})[topic] = offset
        self._partition[key] = partition
        self._dirty.add(key)

    # -- changelog ---------------------------------------------------------------------------------
    def drain_dirty(self) -> list[tuple[str, int, bytes]]:
        """(shipper, partition, changelog value) for every shipper changed since the last drain."""
        out = []
        for key in self._dirty:
            state = self._states.get(key)
            if state is None or key not in self._partition:
                continue
            out.append((key, self._partition[key], encode_entry(self._applied.get(key, {}), state.to_bytes())))
        self._dirty.clear()
        return out

    def restore(self, key: str, partition: int, value: bytes | None) -> None:
        """Apply one changelog record (``None`` is a tombstone)."""
        if value is None:
            self._states.pop(key, None)
            self._applied.pop(key, None)
            self._partition.pop(key, None)
            return
        applied, state_bytes = decode_entry(value)
        self._states[key] = self._state_type.from_bytes(state_bytes)
        self._applied[key] = applied
        self._partition[key] = partition

    def drop_partitions(self, partitions: Iterable[int]) -> int:
        """Forget the shippers of partitions this worker no longer owns; returns how many."""
        gone = set(partitions)
        keys = [k for k, p in self._partition.items() if p in gone]
        for key in keys:
            self._states.pop(key, None)
            self._applied.pop(key, None)
            self._partition.pop(key, None)
            self._dirty.discard(key)
        return len(keys)

    def __len__(self) -> int:
        return len(self._states)


def encode_entry(applied: dict[str, int], state_bytes: bytes) -> bytes:
    header = orjson.dumps(applied)
    return _HEADER.pack(len(header)) + header + state_bytes


def decode_entry(value: bytes) -> tuple[dict[str, int], bytes]:
    try:
        (length,) = _HEADER.unpack_from(value)
        applied = orjson.loads(value[_HEADER.size:_HEADER.size + length])
    except (struct.error, orjson.JSONDecodeError) as exc:
        raise DataError(f"corrupt changelog record: {exc}") from exc
    return {str(k): int(v) for k, v in applied.items()}, value[_HEADER.size + length:]
