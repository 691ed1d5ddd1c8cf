"""The streaming worker: per-mainport manifest topics in, decisions and scan recommendations out.

One micro-batch at a time: decode → features (per-shipper state) → budgeted ONNX scoring → selection
policy → outputs. The order of acknowledgements is what makes a crash harmless:

1. decisions, recommendations and DLQ records are produced and acknowledged (acks=all, idempotent);
2. then the changed shipper states, with their per-topic watermarks, are written to the changelog;
3. only then are the input offsets committed.

A crash before (2) replays the batch from unchanged state: the same decisions again (de-duplicated
downstream by event id). A crash between (2) and (3) replays events the restored state already
includes: the watermarks recognise and skip them, so shipper history never counts an event twice.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.structs import OffsetAndMetadata

from stream.batch import BatchOutput, BatchProcessor
from stream.changelog import restore_partitions
from stream.kafka_clients import make_consumer, make_producer
from stream.ordering import OrderedInput
from stream.state_store import PartitionedStore
from stream.topics import TopicNames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    bootstrap: str
    topics: TopicNames
    group_id: str = "portrisk-worker"
    client_id: str = "portrisk-worker"
    max_batch: int = 1000
    poll_timeout_ms: int = 100
    lag_interval_s: float = 5.0
    order_wait_s: float = 2.0
    buffer_records: int = 5000
    consumer_overrides: dict[str, Any] = field(default_factory=dict)


class Worker:
    """A consumer-group member; run several (processes or machines) to scale out."""

    def __init__(self, config: WorkerConfig, processor: BatchProcessor, store: PartitionedStore,
                 metrics: Any) -> None:
        self.config = config
        self.processor = processor
        self.store = store
        self.metrics = metrics
        self._stop = threading.Event()
        self._owned: set[int] = set()
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._last_lag = 0.0
        self._input = OrderedInput(max_wait_s=config.order_wait_s)
        self._pending_revoked: set[TopicPartition] = set()
        self._ends: dict[TopicPartition, int] = {}
        self._ends_at = 0.0
        self._pending_assigned: set[TopicPartition] | None = None

    def request_stop(self) -> None:
        """Finish the current batch, flush, commit and leave the group (safe from a signal handler)."""
        self._stop.set()

    def run(self, idle_exit_s: float | None = None) -> None:
        """Process until stopped (or, with ``idle_exit_s``, until no record arrived for that long)."""
        cfg = self.config
        self._producer = make_producer(cfg.bootstrap, client_id=f"{cfg.client_id}-out")
        self._consumer = make_consumer(
            cfg.bootstrap, cfg.group_id, client_id=cfg.client_id, max_poll_records=cfg.buffer_records,
            max_partition_fetch_bytes=1024 * 1024,
            # Range assignment gives one member the same partition numbers of every input topic, which
            # co-partitioning (all of a shipper's events and outcomes in one worker) relies on.
            partition_assignment_strategy=(RangePartitionAssignor,), **cfg.consumer_overrides)
        inputs = [*cfg.topics.all_manifests, cfg.topics.outcomes]
        self._consumer.subscribe(inputs, listener=_Rebalance(self))
        last_record = time.monotonic()
        try:
            while not self._stop.is_set():
                # The client hands out one partition's fetched records before the next one's; reading ahead
                # (bounded by buffer_records) lets the ordering buffer see every partition's next record.
                room = max(1, cfg.buffer_records - self._input.buffered())
                polled = self._consumer.poll(timeout_ms=cfg.poll_timeout_ms, max_records=room)
                if self._pending_revoked or self._pending_assigned is not None:
                    polled = self._apply_rebalance(polled)
                self._input.add(polled)
                items = self._input.take(self._consumer.assignment(), self._caught_up, cfg.max_batch)
                if items:
                    self._process(items)
                    last_record = time.monotonic()
                elif idle_exit_s is not None and time.monotonic() - last_record > idle_exit_s \
                        and self._drained():
                    break
                self.processor.maintain()
                self._report_lag()
        finally:
            self._close()

    # -- one micro-batch ----------------------------------------------------------------------------
    def _process(self, items: list[tuple[TopicPartition, Any]]) -> None:
        assert self._producer is not None and self._consumer is not None
        output = self.processor.process(items, self.store)
        self._send_all(output)
        acked_at = time.time()
        for ts_ms in output.source_timestamps_ms:
            self.metrics.decision_latency.observe(max(0.0, acked_at - ts_ms / 1000.0))
        changelog = self.config.topics.changelog
        futures = [self._producer.send(changelog, key=key.encode(), value=value, partition=partition)
                   for key, partition, value in self.store.drain_dirty()]
        self._await(futures)
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, record in items:
            offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        self._consumer.commit(offsets)
        self.metrics.state_entries.set(len(self.store))

    def _drained(self) -> bool:
        """Partitions assigned, nothing buffered, every partition at the end of its log.

        Idle time alone is not enough: joining a group whose previous member died waits for that
        member's session to expire, and nothing arrives meanwhile.
        """
        assert self._consumer is not None
        assignment = self._consumer.assignment()
        if not assignment or self._input.buffered():
            return False
        # A partition that has not been fetched since a seek has no cached high watermark: ask the broker.
        unknown = [tp for tp in assignment if self._consumer.highwater(tp) is None]
        ends = self._consumer.end_offsets(unknown) if unknown else {}
        return all(self._consumer.position(tp) >= ends[tp] if tp in ends else self._caught_up(tp)
                   for tp in assignment)

    def _caught_up(self, tp: TopicPartition) -> bool:
        """At the end of its log, as far as this member knows (the ordering buffer holds back otherwise)."""
        assert self._consumer is not None
        end = self._consumer.highwater(tp)
        if end is None:
            # The client learns a partition's high watermark only from a fetch that returned it: a quiet
            # partition (a small port, the outcomes topic) would look behind forever and stall ordering.
            if time.monotonic() - self._ends_at > 1.0:
                self._ends = dict(self._consumer.end_offsets(list(self._consumer.assignment())))
                self._ends_at = time.monotonic()
            end = self._ends.get(tp)
        return end is not None and self._consumer.position(tp) >= end

    def _send_all(self, output: BatchOutput) -> None:
        assert self._producer is not None
        futures = [self._producer.send(topic, key=key, value=value) for topic, key, value in output.messages]
        self._await(futures)

    def _await(self, futures: list[Any]) -> None:
        """Block until every send is acknowledged; a failed send is a crash (offsets stay uncommitted)."""
        assert self._producer is not None
        if not futures:
            return
        self._producer.flush()
        for future in futures:
            future.get(timeout=60)

    # -- partitions ---------------------------------------------------------------------------------
    # kafka-python runs rebalance listeners on its network thread, where blocking calls are refused and
    # would stall heartbeats. The listener only records what changed; the loop applies it right after the
    # poll() during which the rebalance completed, before any record is processed.
    def _apply_rebalance(self, polled: dict[TopicPartition, list[Any]]) -> dict[TopicPartition, list[Any]]:
        revoked, assigned = self._pending_revoked, self._pending_assigned
        self._pending_revoked, self._pending_assigned = set(), None
        if revoked:
            self._input.drop(revoked)
            for tp in revoked:
                with contextlib.suppress(KeyError):
                    self.metrics.lag.remove(tp.topic, str(tp.partition))
        if assigned is None:
            return polled
        # Records polled but not processed were dropped; every assigned partition restarts at its
        # committed offset (a client may keep the fetch position of a partition it gets back).
        self._input.drop(assigned)
        assert self._consumer is not None
        for tp in assigned:
            committed = self._consumer.committed(tp)
            if committed is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)
        now_owned = {tp.partition for tp in assigned}
        dropped = self.store.drop_partitions(self._owned - now_owned)
        new = now_owned - self._owned
        began = time.monotonic()
        restored = restore_partitions(self.config.bootstrap, self.config.topics.changelog, new, self.store)
        elapsed = time.monotonic() - began
        self._owned = now_owned
        self.metrics.rebalances.inc()
        self.metrics.restore_seconds.observe(elapsed)
        self.metrics.restored_entries.inc(restored)
        self.metrics.assigned_partitions.set(len(assigned))
        self.metrics.state_entries.set(len(self.store))
        log.info("partitions assigned", extra={"partitions": sorted(now_owned), "restored": restored,
                                               "dropped_states": dropped, "restore_s": round(elapsed, 3)})
        return {tp: records for tp, records in polled.items() if tp not in assigned}

    def _report_lag(self) -> None:
        if self._consumer is None or time.monotonic() - self._last_lag < self.config.lag_interval_s:
            return
        self._last_lag = time.monotonic()
        for tp in self._consumer.assignment():
            end = self._consumer.highwater(tp)
            if end is None:
                continue
            position = self._consumer.position(tp)
            self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, end - position))

    def _close(self) -> None:
        if self._producer is not None:
            self._producer.flush()
            self._producer.close()
        if self._consumer is not None:
            self._consumer.close()
        log.info("worker stopped", extra={"at": datetime.now(UTC).isoformat()})


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.worker._pending_revoked.update(revoked)

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.worker._pending_assigned = set(assigned)
