"""The streaming worker: per-mainport manifest topics in, decisions and scan recommendations out.

One micro-batch at a time: decode → features (per-shipper state) → budgeted ONNX scoring → selection
policy → outputs, sent as each batch is decided. A commit covers every batch since the previous one (each
batch of live traffic; a backlog every ``commit_interval_s``), and the order of its acknowledgements is
what makes a crash harmless:

1. decisions, recommendations and DLQ records are produced and acknowledged (acks=all, idempotent);
2. then the changed shipper states, with their per-topic watermarks, are written to the changelog;
3. only then are the input offsets committed.

A crash before (2) replays the batches from unchanged state: the same decisions again (de-duplicated
downstream by event id). A crash between (2) and (3) replays events the restored state already
includes: the watermarks recognise and skip them, so shipper history never counts an event twice.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from portrisk.errors import BrokerError, PortriskError
from stream.batch import BatchProcessor
from stream.changelog import restore_partitions
from stream.kafka_clients import default_partitions, make_consumer, make_producer, release_parked_records
from stream.ordering import OrderedInput
from stream.policy_state import encode_record, latest_record, record_key
from stream.state_store import PartitionedStore
from stream.topics import TopicNames, list_topics

log = logging.getLogger(__name__)
MAX_POLICY_RECORD_BYTES = 900_000


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
    buffer_records: int = 5000  # records one poll may return
    commit_interval_s: float = 0.5  # while a backlog is worked off; otherwise every batch is committed
    partition_buffer_records: int = 1000  # a partition with this many buffered is paused until it drains
    policy_state_interval_s: float = 300.0  # policy state to policy-state this often (it moves slowly), and at stop
    consumer_overrides: dict[str, Any] = field(default_factory=dict)
    # Young-generation collections every 50,000 allocations instead of 700: a batch allocates hundreds of
    # thousands of short-lived objects, and each collection also walks the survivors of the last ones.
    gc_threshold: tuple[int, int, int] | None = (50_000, 20, 100)


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
        # Fetch positions as of the last poll: they change only in poll(), and KafkaConsumer.position()
        # re-validates every assigned partition on each call (the ordering buffer asks per partition).
        self._positions: dict[TopicPartition, int] = {}
        # Processed but not yet committed: output sends in flight, input timestamps, next offsets.
        self._unacked: list[Any] = []
        self._uncommitted_ts: list[int] = []
        self._uncommitted: dict[TopicPartition, OffsetAndMetadata] = {}
        self._committed_at = time.monotonic()
        self._topic_partitions: dict[str, list[int]] = {}  # of output topics (refreshed on rebalance)
        self._policy_restored = False  # tried once, at the first assignment, before any decision
        self._policy_saved_at = time.monotonic()

    def request_stop(self) -> None:
        """Finish the current batch, flush, commit and leave the group (safe from a signal handler)."""
        self._stop.set()

    def run(self, idle_exit_s: float | None = None) -> None:
        """Process until stopped (or, with ``idle_exit_s``, until no record arrived for that long)."""
        cfg = self.config
        if cfg.gc_threshold is not None:
            # The model, tables and clients live as long as the process: keep them out of every collection.
            gc.freeze()
            gc.set_threshold(*cfg.gc_threshold)
        topics = cfg.topics
        outputs = [topics.risk_scores, topics.dlq, topics.changelog, topics.policy_state,
                   *map(topics.recommendations, topics.port_ids)]
        # A missing topic would block each metadata look-up for a minute (and SIGTERM with it): say so instead.
        missing = sorted(set(outputs) - set(list_topics(cfg.bootstrap)))
        if missing:
            raise BrokerError(f"output topics missing on {cfg.bootstrap}: {', '.join(missing)}; "
                              "create the topic set with `portrisk topics create`")
        self._producer = make_producer(cfg.bootstrap, client_id=f"{cfg.client_id}-out")
        # The producer learns a topic's partitions on its first send to it, a metadata round trip each
        # (~100 ms): at start-up, not in the first batch or on a port's first scan recommendation.
        for topic in outputs:
            self._topic_partitions[topic] = sorted(self._producer.partitions_for(topic))
        self._consumer = make_consumer(
            cfg.bootstrap, cfg.group_id, client_id=cfg.client_id, max_poll_records=cfg.buffer_records,
            max_partition_fetch_bytes=1024 * 1024,
            # Range assignment gives one member the same partition numbers of every input topic, which
            # co-partitioning (all of a shipper's events and outcomes in one worker) relies on.
            partition_assignment_strategy=(RangePartitionAssignor,), **cfg.consumer_overrides)
        inputs = [*cfg.topics.all_manifests, cfg.topics.outcomes]
        self._consumer.subscribe(inputs, listener=_Rebalance(self))
        # A metadata fetch between subscribing and the first join: kafka-python 3.0.12 otherwise joins with
        # an empty snapshot of the subscribed topics' partitions, re-joins at once when they arrive, and that
        # immediate re-join can leave heartbeats disabled (the member expires 45 s later, never to rejoin).
        self._consumer.topics()
        last_record = time.monotonic()
        try:
            while not self._stop.is_set():
                release_parked_records(self._consumer)
                polled = self._consumer.poll(timeout_ms=cfg.poll_timeout_ms)
                self._positions.clear()
                if self._pending_revoked or self._pending_assigned is not None:
                    polled = self._apply_rebalance(polled)
                self._input.add(polled)
                items = self._input.take(self._consumer.assignment(), self._caught_up, cfg.max_batch)
                self._pause_full_partitions()
                if items:
                    self._process(items)
                    last_record = time.monotonic()
                self._maybe_commit()
                if time.monotonic() - self._policy_saved_at >= cfg.policy_state_interval_s:
                    self._save_policy()
                if not items and idle_exit_s is not None and time.monotonic() - last_record > idle_exit_s \
                        and self._drained():
                    break
                self.processor.maintain()
                self._report_lag()
            self._commit()  # stopping: what was processed is acknowledged and committed before leaving
            self._save_policy()
        finally:
            self._close()

    # -- one micro-batch ----------------------------------------------------------------------------
    def _process(self, items: list[tuple[TopicPartition, Any]]) -> None:
        assert self._producer is not None
        output = self.processor.process(items, self.store)
        self._unacked.extend(self._send(output.messages))
        self._uncommitted_ts.extend(output.source_timestamps_ms)
        for tp, record in items:
            self._uncommitted[tp] = OffsetAndMetadata(record.offset + 1, "", -1)

    def _send(self, messages: list[tuple[str, bytes | None, bytes]]) -> list[Any]:
        """Send keyed messages to the partition the default partitioner would pick, computed for the batch."""
        assert self._producer is not None
        by_topic: dict[str, tuple[list[int], list[bytes]]] = {}
        for i, (topic, key, _) in enumerate(messages):
            if key is not None:
                rows, keys = by_topic.setdefault(topic, ([], []))
                rows.append(i)
                keys.append(key)
        partitions: list[int | None] = [None] * len(messages)  # unkeyed (a DLQ record without key): any
        for topic, (rows, keys) in by_topic.items():
            if topic not in self._topic_partitions:
                self._topic_partitions[topic] = sorted(self._producer.partitions_for(topic))
            for i, partition in zip(rows, default_partitions(keys, self._topic_partitions[topic]), strict=True):
                partitions[i] = partition
        return [self._producer.send(topic, key=key, value=value, partition=partition)
                for (topic, key, value), partition in zip(messages, partitions, strict=True)]

    def _maybe_commit(self) -> None:
        """Commit when the input in hand is used up (live traffic: every batch) or every commit interval.

        A backlog is worked off in batches whose outputs are sent without waiting; acknowledgements,
        changelog and offsets then cost one round of waits per interval instead of per batch, and a
        shipper changed in several batches goes to the changelog once.
        """
        if self._uncommitted and (not self._input.buffered()
                                  or time.monotonic() - self._committed_at >= self.config.commit_interval_s):
            self._commit()

    def _commit(self) -> None:
        """Outputs acknowledged → changed shipper states acknowledged → input offsets committed."""
        assert self._producer is not None and self._consumer is not None
        self._committed_at = time.monotonic()
        if not self._uncommitted:
            return
        self._await(self._unacked)
        acked_at = time.time()
        for ts_ms in self._uncommitted_ts:
            self.metrics.decision_latency.observe(max(0.0, acked_at - ts_ms / 1000.0))
        changelog = self.config.topics.changelog
        self._await([self._producer.send(changelog, key=key.encode(), value=value, partition=partition)
                     for key, partition, value in self.store.drain_dirty()])
        self._consumer.commit(dict(self._uncommitted))
        self._unacked, self._uncommitted_ts = [], []
        self._uncommitted.clear()
        self.metrics.state_entries.set(len(self.store))

    def _pause_full_partitions(self) -> None:
        """Fetch only for partitions the ordering buffer is short of (as Kafka Streams does).

        The client hands out one partition's fetched records before the next one's. Without pausing, the
        partitions that are ahead fill the buffer while the one whose next record is the oldest cannot get
        in, and the buffer holds everything back until ``order_wait_s`` runs out. The client keeps records
        already fetched for a paused partition and returns them once it is resumed.
        """
        assert self._consumer is not None
        limit = self.config.partition_buffer_records
        paused = self._consumer.paused()
        assigned = self._consumer.assignment()
        full = {tp for tp in assigned if self._input.size(tp) >= limit}
        if full - paused:
            self._consumer.pause(*(full - paused))
        if resume := (paused & assigned) - full:
            self._consumer.resume(*resume)

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
        return all(self._position(tp) >= ends[tp] if tp in ends else self._caught_up(tp) for tp in assignment)

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
        return end is not None and self._position(tp) >= end

    def _position(self, tp: TopicPartition) -> int:
        position = self._positions.get(tp)
        if position is None:
            assert self._consumer is not None
            position = self._positions[tp] = self._consumer.position(tp)
        return position

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
            # Offsets processed here but not committed are given up with the partitions: committing them now
            # could move the new owner's position past events whose state this member never wrote to the
            # changelog. The new owner replays them (a partition kept is re-read, its state skips them).
            for tp in revoked:
                self._uncommitted.pop(tp, None)
            for tp in revoked:
                with contextlib.suppress(KeyError):
                    self.metrics.lag.remove(tp.topic, str(tp.partition))
        self._topic_partitions.clear()
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
        # Shippers hash evenly over the partitions: owning a share of them is deciding that share of every
        # port's containers, so the policy gets that share of each port's scan capacity.
        total = len(self._consumer.partitions_for_topic(self.config.topics.manifests(self.config.topics.port_ids[0]))
                    or ())
        share = min(len(now_owned) / total, 1.0) if now_owned and total else None
        if not self._policy_restored and now_owned:
            self._restore_policy()
        if share is not None:
            self.processor.set_traffic_share(share)
        self.metrics.rebalances.inc()
        self.metrics.restore_seconds.observe(elapsed)
        self.metrics.restored_entries.inc(restored)
        self.metrics.assigned_partitions.set(len(assigned))
        self.metrics.state_entries.set(len(self.store))
        log.info("partitions assigned", extra={"partitions": sorted(now_owned), "restored": restored,
                                               "dropped_states": dropped, "restore_s": round(elapsed, 3),
                                               "traffic_share": None if share is None else round(share, 4)})
        return {tp: records for tp, records in polled.items() if tp not in assigned}

    def _restore_policy(self) -> None:
        """Carry on with the group's latest policy state (see :mod:`stream.policy_state`); cold without one."""
        self._policy_restored = True
        topic = self.config.topics.policy_state
        try:
            record = latest_record(self.config.bootstrap, topic, self._policy_key())
            refused = self.processor.restore_policy_state(record) if record is not None else "none saved yet"
        except (PortriskError, KafkaError) as exc:  # a bad or unreadable state: start cold, never crash-loop
            log.warning("policy state not restored: thresholds start cold", extra={"topic": topic, "error": str(exc)})
            return
        if record is None or refused is not None:
            log.info("policy state not restored: thresholds start cold", extra={"topic": topic, "reason": refused})
            return
        log.info("policy state restored", extra={"topic": topic, "written_at": record.get("written_at"),
                                                 "writer": record.get("writer")})

    def _save_policy(self) -> None:
        """Send the policy's state (not awaited: a lost snapshot only means a colder restart)."""
        self._policy_saved_at = time.monotonic()
        state = self.processor.policy_state()
        if state is None or self._producer is None or not self._owned:
            return
        value = encode_record(state, self.processor.model_version, self.config.client_id)
        if len(value) > MAX_POLICY_RECORD_BYTES:  # Kafka's default message limit: would fail unseen
            log.warning("policy state too large to save", extra={"bytes": len(value)})
            return
        self._producer.send(self.config.topics.policy_state, key=self._policy_key().encode(), value=value)

    def _policy_key(self) -> str:
        return record_key(self.config.group_id, self.processor.model_version)

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
