"""Kafka client factories with the settings every portrisk producer and consumer shares.

Producers are idempotent with ``acks=all``: a retried send never duplicates a record and an
acknowledged record survives a broker failover, which is what committing offsets after outputs relies on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from portrisk.errors import BrokerError


def make_producer(bootstrap: str, client_id: str = "portrisk", **overrides: Any) -> KafkaProducer:
    """An idempotent, acks=all producer that sends bytes (callers encode keys and values)."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "compression_type": None,
        "max_in_flight_requests_per_connection": 5,
        "retries": 2**31 - 1,
        "delivery_timeout_ms": 120_000,
    }
    config.update(overrides)
    try:
        return KafkaProducer(**config)
    except KafkaError as exc:
        raise BrokerError(f"could not connect a producer to Kafka at {bootstrap}: {exc}") from exc


def make_consumer(bootstrap: str, group_id: str | None, client_id: str = "portrisk", **overrides: Any) -> KafkaConsumer:
    """A consumer with manual offset commits (commits happen after outputs are acknowledged)."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "client_id": client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 2000,
        "fetch_max_bytes": 32 * 1024 * 1024,
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
        "isolation_level": "read_committed",
    }
    config.update(overrides)
    try:
        return KafkaConsumer(**config)
    except KafkaError as exc:
        raise BrokerError(f"could not connect a consumer to Kafka at {bootstrap}: {exc}") from exc


def release_parked_records(consumer: KafkaConsumer) -> None:
    """Let the consumer hand out records it parked for a partition that was paused and then resumed.

    kafka-python 3.0.12 parks the parsed records of a partition paused mid-batch and restores them only
    while its in-line batch slot is ``None``; but an exhausted in-line batch is kept (falsy, not ``None``),
    so after the first batch the parked records are never restored and the partition, still counted as
    having data in hand, is never fetched again: it stalls for good. Call before every ``poll`` when
    pausing partitions. Clearing an exhausted slot is what the client does itself when it parks one.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    in_line = getattr(fetcher, "_next_partition_records", None)
    if in_line is not None and not in_line:
        fetcher._next_partition_records = None  # type: ignore[union-attr]


_M = np.uint64(0x5BD1E995)
_MASK = np.uint64(0xFFFFFFFF)


def murmur2(keys: Sequence[bytes]) -> np.ndarray:
    """Kafka's murmur2 of each key (``Utils.murmur2``, which the default partitioner uses), vectorised.

    kafka-python computes it per record in Python, about a third of the cost of a ``send``; a worker that
    passes the partition in computes it for a whole batch at once, with the same result.
    """
    out = np.zeros(len(keys), dtype=np.uint64)
    by_length: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(i)
    for length, rows in by_length.items():
        data = np.frombuffer(b"".join(keys[i] for i in rows), dtype=np.uint8).reshape(len(rows), length)
        data = data.astype(np.uint64)
        h = np.full(len(rows), (0x9747B28C ^ length) & 0xFFFFFFFF, dtype=np.uint64)
        for j in range(0, length - length % 4, 4):  # products of two 32-bit values fit in 64 bits
            k = data[:, j] | (data[:, j + 1] << np.uint64(8)) | (data[:, j + 2] << np.uint64(16)) \
                | (data[:, j + 3] << np.uint64(24))
            k = (k * _M) & _MASK
            k ^= k >> np.uint64(24)
            k = (k * _M) & _MASK
            h = ((h * _M) & _MASK) ^ k
        tail, extra = length - length % 4, length % 4
        if extra >= 3:
            h ^= data[:, tail + 2] << np.uint64(16)
        if extra >= 2:
            h ^= data[:, tail + 1] << np.uint64(8)
        if extra >= 1:
            h = ((h ^ data[:, tail]) * _M) & _MASK
        h ^= h >> np.uint64(13)
        h = (h * _M) & _MASK
        h ^= h >> np.uint64(15)
        out[rows] = h
    return out


def default_partitions(keys: Sequence[bytes], partitions: Sequence[int]) -> list[int]:
    """The partition kafka-python's (and Java's) default partitioner picks for each non-null key."""
    ordered = sorted(partitions)
    return [ordered[i] for i in ((murmur2(keys) & np.uint64(0x7FFFFFFF)) % np.uint64(len(ordered))).tolist()]
