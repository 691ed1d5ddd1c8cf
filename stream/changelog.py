"""Reading topics to their end: shipper state when partitions are assigned, the policy's state.

Both read a topic from its beginning up to the end offsets taken when the read starts — a consistent
snapshot — before the worker decides anything that depends on it (:func:`read_to_end` also serves the
history archive, :mod:`stream.archive`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from stream.state_store import PartitionedStore

log = logging.getLogger(__name__)


def read_to_end(bootstrap: str, topic: str, partitions: Iterable[int] | None, on_record: Callable[[Any], None],
                client_id: str, timeout_s: float) -> int:
    """Call ``on_record`` for every record of ``partitions`` (None: all of the topic's) from the beginning
    up to the end offsets as of now, in offset order per partition; returns records read. TimeoutError
    when that takes longer than ``timeout_s``: a partial read is no snapshot."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id=client_id, max_poll_records=5000)
    try:
        numbers = set(partitions) if partitions is not None else (consumer.partitions_for_topic(topic) or set())
        tps = [TopicPartition(topic, p) for p in sorted(numbers)]
        if not tps:
            return 0
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > consumer.position(tp)}
        read = 0
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} {sorted(numbers)} was not read to its end in {timeout_s:.0f} s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    on_record(record)
                    read += 1
            done = {tp for tp in pending if consumer.position(tp) >= ends[tp]}
            if done:
                consumer.pause(*done)  # no fetching past the end for partitions already read
                pending -= done
        return read
    finally:
        consumer.close()


def restore_partitions(bootstrap: str, topic: str, partitions: set[int], store: PartitionedStore,
                       timeout_s: float = 300.0) -> int:
    """Read the changelog partitions from the beginning to their current end into ``store``.

    Runs before the worker processes any record of those partitions (it is called from the rebalance
    listener inside ``poll``), so features never see a half-restored history. Returns records applied.
    """
    if not partitions:
        return 0
    return read_to_end(bootstrap, topic, partitions,
                       lambda r: store.restore(r.key.decode(), r.partition, r.value),
                       client_id="portrisk-restore", timeout_s=timeout_s)
