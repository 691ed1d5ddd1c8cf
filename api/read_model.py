"""The read model: a background thread that folds ``risk-scores`` and ``inspection-outcomes`` into SQLite.

Why manual partition assignment and no consumer group: every API replica needs *all* decisions (a group
would split the partitions between replicas), and the position of each partition is stored in SQLite in
the same transaction as the rows it produced. Restarting resumes from the database, not from Kafka's
committed offsets, so the database and its position can never disagree. Deleting the database (or
``portrisk serve --rebuild``) replays both topics from the start; ``risk-scores`` is compacted, so a
rebuild reads the latest decision per container plus whatever has not been compacted yet.

The thread also reads ``inspection-outcomes``, so an outcome posted through another replica, or by
another system, closes the scan recommendation here as well and survives a rebuild.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from api.read_store import ReadStore
from features.contract import InspectionOutcome, decode_outcome
from portrisk.errors import EventRejected, PortriskError
from stream.kafka_clients import make_consumer

log = logging.getLogger(__name__)
PARTITION_REFRESH_S = 30.0
MAX_BACKOFF_S = 10.0


def open_store(path: Path) -> ReadStore:
    """Open the database; a corrupt file is moved aside (and rebuilt from Kafka) rather than fatal."""
    try:
        return ReadStore(path)
    except sqlite3.DatabaseError as exc:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        log.error("read model database %s is unreadable (%s); moved to %s and rebuilding", path, exc, aside)
        path.rename(aside)
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return ReadStore(path)


class ReadModel:
    """Consumes the decision and outcome topics into a :class:`ReadStore`, tracking its position."""

    def __init__(self, store: ReadStore, *, bootstrap: Callable[[], str], scores_topic: str, outcomes_topic: str,
                 known_ports: Collection[str], metrics: Any | None = None) -> None:
        self.store = store
        self.topics = (scores_topic, outcomes_topic)
        self._bootstrap = bootstrap
        self._known_ports = frozenset(known_ports)
        self._metrics = metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._applied: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self.status = "not started"
        if store.meta("topics") != self._topics_key:
            store.reset(self._topics_key)  # a database built from other topics answers nothing here

    @property
    def _topics_key(self) -> str:
        return ",".join(self.topics)

    def rebuild(self) -> None:
        """Forget everything; the next start replays both topics from the beginning."""
        if self.running:
            raise PortriskError("stop the read model before rebuilding it")
        self.store.reset(self._topics_key)
        self._count_rebuild()

    def start(self) -> None:
        """Start the consumer thread (idempotent)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="portrisk-read-model", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread after its current batch (which is committed or rolled back as a whole)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self.status = "stopped"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def applied_positions(self) -> dict[tuple[str, int], int]:
        """Next offset per (topic, partition) that the database reflects."""
        with self._lock:
            return dict(self._applied or self.store.positions())

    def lag(self, end_offsets: dict[tuple[str, int], int]) -> int:
        """Records between what the database reflects and the given end offsets."""
        applied = self.applied_positions()
        return sum(max(0, end - applied.get(key, 0)) for key, end in end_offsets.items())

    def record_outcome(self, outcome: InspectionOutcome) -> None:
        """Close the recommendation at once after the outcome was acknowledged (read-your-writes).

        The same outcome arrives again from the topic; applying it twice changes nothing.
        """
        with self.store.writing() as conn:
            self.store.apply_outcome(conn, outcome.outcome_id, outcome.event_id, outcome.container_id,
                                     outcome.mainport, outcome.result, outcome.inspected_at.astimezone(UTC).isoformat())

    # -- the thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            consumer: KafkaConsumer | None = None
            try:
                consumer = make_consumer(self._bootstrap(), None, client_id="portrisk-api-read-model",
                                         bootstrap_timeout_ms=5000, max_poll_records=2000)
                self._consume(consumer)
                backoff = 0.5
            except (KafkaError, PortriskError, OSError) as exc:
                self.status = f"Kafka unavailable: {exc}"
                log.warning("read model: %s; retrying in %.1f s", exc, backoff)
            except Exception as exc:  # a bug: say so loudly, keep the service up, and let readiness fail
                self.status = f"failed: {exc!r}"
                log.exception("read model thread failed; retrying in %.1f s", backoff)
            finally:
                if consumer is not None:
                    consumer.close()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _partitions(self, consumer: KafkaConsumer) -> list[TopicPartition] | None:
        tps = []
        for topic in self.topics:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                self.status = f"waiting for topic {topic}"
                return None
            tps += [TopicPartition(topic, p) for p in sorted(partitions)]
        return tps

    def _consume(self, consumer: KafkaConsumer) -> None:
        tps = self._partitions(consumer)
        if tps is None:
            return
        consumer.assign(tps)
        stored = self.store.positions()
        ends = consumer.end_offsets(tps)
        ahead = [f"{tp.topic}[{tp.partition}]" for tp in tps if stored.get((tp.topic, tp.partition), 0) > ends[tp]]
        if ahead:
            # Positions beyond the end of the log: the topics were deleted and created again.
            log.warning("read model is ahead of %s (topics recreated?): rebuilding", ", ".join(ahead))
            self.store.reset(self._topics_key)
            self._count_rebuild()
            stored = {}
        for tp in tps:
            position = stored.get((tp.topic, tp.partition))
            if position is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, position)
        with self._lock:
            self._applied = {(tp.topic, tp.partition): stored.get((tp.topic, tp.partition), 0) for tp in tps}
        self.status = "consuming"
        refreshed = time.monotonic()
        while not self._stop.is_set():
            batch = consumer.poll(timeout_ms=200)
            positions = {(tp.topic, tp.partition): consumer.position(tp) for tp in tps}
            if batch or positions != self._applied:
                self._apply(batch, positions)
            if time.monotonic() - refreshed > PARTITION_REFRESH_S:
                refreshed = time.monotonic()
                if self._partitions(consumer) != tps:
                    log.info("read model: partitions changed, reassigning")
                    return

    def _apply(self, batch: dict[TopicPartition, list[Any]], positions: dict[tuple[str, int], int]) -> None:
        counts: dict[str, int] = {}
        with self.store.writing() as conn:
            for tp, records in batch.items():
                for record in records:
                    kind = self._apply_record(conn, tp.topic, record)
                    counts[kind] = counts.get(kind, 0) + 1
            self.store.save_positions(conn, positions)
        with self._lock:
            self._applied = positions
        if self._metrics is not None:
            for kind, n in counts.items():
                self._metrics.read_model_records.labels(kind).inc(n)

    def _apply_record(self, conn: sqlite3.Connection, topic: str, record: Any) -> str:
        where = f"{topic}[{record.partition}]@{record.offset}"
        if topic == self.topics[0]:
            if record.value is None:
                if record.key is not None:
                    self.store.delete_container(conn, record.key.decode("utf-8", errors="replace"))
                return "tombstone"
            try:
                self.store.apply_decision(conn, orjson.loads(record.value))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                log.warning("read model: skipped malformed decision %s: %r", where, exc)
                return "malformed"
            return "decision"
        try:
            outcome = decode_outcome(record.value if record.value is not None else b"", self._known_ports)
        except EventRejected as exc:
            log.warning("read model: skipped rejected outcome %s: %s", where, exc)  # the worker DLQs it
            return "malformed"
        self.store.apply_outcome(conn, outcome.outcome_id, outcome.event_id, outcome.container_id,
                                 outcome.mainport, outcome.result, outcome.inspected_at.astimezone(UTC).isoformat())
        return "outcome"

    def _count_rebuild(self) -> None:
        if self._metrics is not None:
            self._metrics.read_model_rebuilds.inc()
