"""Restoring shipper state from the compacted changelog topic when partitions are assigned."""

from __future__ import annotations

import logging
import time

from kafka import KafkaConsumer, TopicPartition

from stream.state_store import PartitionedStore

log = logging.getLogger(__name__)


def restore_partitions(bootstrap: str, topic: str, partitions: set[int], store: PartitionedStore,
                       timeout_s: float = 300.0) -> int:
    """Read the changelog partitions from the beginning to their current end into ``store``.

    Runs before the worker processes any record of those partitions (it is called from the rebalance
    listener inside ``poll``), so features never see a half-restored history. Returns records applied.
    """
    if not partitions:
        return 0
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="portrisk-restore", max_poll_records=5000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > consumer.position(tp)}
        applied = 0
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"changelog restore of {topic} {sorted(partitions)} did not finish in "
                                   f"{timeout_s:.0f} s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    store.restore(record.key.decode(), tp.partition, record.value)
                    applied += 1
            pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}
        return applied
    finally:
        consumer.close()
