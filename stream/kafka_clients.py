"""Kafka client factories with the settings every portrisk producer and consumer shares.

Producers are idempotent with ``acks=all``: a retried send never duplicates a record and an
acknowledged record survives a broker failover, which is what committing offsets after outputs relies on.
"""

from __future__ import annotations

from typing import Any

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
