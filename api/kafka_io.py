"""The API's Kafka connections: one shared producer (audit records, inspection outcomes) and a probe.

Both are created lazily and re-created after a failure, so the service starts and answers ``/healthz``
while Kafka is down, and ``/readyz`` says so. A failed connection attempt is remembered for a moment so
that a burst of requests during an outage fails fast with 503 instead of each waiting for a timeout.

The probe is a group-less consumer used only for end offsets: readiness measures the read model's lag
against the log itself, independently of the consumer thread whose progress it judges.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from portrisk.errors import BrokerError, PortriskError
from stream.kafka_clients import make_consumer, make_producer

SEND_TIMEOUT_S = 10.0
RETRY_AFTER_FAILURE_S = 2.0
PROBE_CACHE_S = 1.0


class KafkaUnavailable(BrokerError):
    """Kafka did not acknowledge in time, or cannot be reached at all."""


class KafkaGateway:
    """Shared producer and offset probe; thread-safe (request handlers run in a thread pool)."""

    def __init__(self, bootstrap: Callable[[], str], client_id: str = "portrisk-api") -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: KafkaProducer | None = None
        self._producer_lock = threading.Lock()
        self._producer_failed_at = 0.0
        self._producer_error = ""
        self._probe: KafkaConsumer | None = None
        self._probe_lock = threading.Lock()
        self._probe_cache: tuple[float, tuple[str, ...], dict[tuple[str, int], int] | str] | None = None

    # -- producing ---------------------------------------------------------------------------------
    def send(self, topic: str, key: bytes | None, value: bytes, timeout_s: float = SEND_TIMEOUT_S) -> Any:
        """Produce one record and wait for the broker's acknowledgement (acks=all); its RecordMetadata.

        Raises KafkaUnavailable when Kafka cannot be reached or does not acknowledge within the timeout.
        """
        producer = self._get_producer()
        try:
            return producer.send(topic, key=key, value=value).get(timeout=timeout_s)
        except KafkaError as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge the record on {topic}: {exc}") from exc

    def _get_producer(self) -> KafkaProducer:
        with self._producer_lock:
            if self._producer is not None:
                return self._producer
            if time.monotonic() - self._producer_failed_at < RETRY_AFTER_FAILURE_S:
                raise KafkaUnavailable(self._producer_error)
            try:
                # Each response waits for its audit record: do not linger, and do not block for a minute
                # on missing metadata when the broker is gone.
                self._producer = make_producer(self._bootstrap(), client_id=f"{self._client_id}-producer",
                                               linger_ms=1, max_block_ms=5000, delivery_timeout_ms=30_000,
                                               request_timeout_ms=10_000, bootstrap_timeout_ms=5000)
                return self._producer
            except PortriskError as exc:
                self._producer_failed_at, self._producer_error = time.monotonic(), f"Kafka unreachable: {exc}"
                raise KafkaUnavailable(self._producer_error) from exc

    # -- probing -----------------------------------------------------------------------------------
    def end_offsets(self, topics: Iterable[str]) -> dict[tuple[str, int], int]:
        """End offset of every partition of ``topics`` (cached for a second); KafkaUnavailable on failure.

        A topic that does not exist raises KafkaUnavailable naming it.
        """
        topics = tuple(topics)
        now = time.monotonic()
        with self._probe_lock:
            cached = self._probe_cache
            if cached is not None and cached[1] == topics and now - cached[0] < PROBE_CACHE_S:
                result = cached[2]
            else:
                result = self._probe_end_offsets(topics)
                self._probe_cache = (now, topics, result)
        if isinstance(result, str):
            raise KafkaUnavailable(result)
        return result

    def _probe_end_offsets(self, topics: tuple[str, ...]) -> dict[tuple[str, int], int] | str:
        try:
            if self._probe is None:
                self._probe = make_consumer(self._bootstrap(), None, client_id=f"{self._client_id}-probe",
                                            bootstrap_timeout_ms=3000, request_timeout_ms=5000)
            tps = []
            for topic in topics:
                partitions = self._probe.partitions_for_topic(topic)
                if not partitions:
                    return f"topic {topic} does not exist (create the topic set: `portrisk topics create`)"
                tps += [TopicPartition(topic, p) for p in sorted(partitions)]
            ends = self._probe.end_offsets(tps, timeout_ms=5000)
            return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}
        except (KafkaError, PortriskError) as exc:
            if self._probe is not None:
                self._close_quietly(self._probe)
                self._probe = None
            return f"Kafka unreachable: {exc}"

    def close(self) -> None:
        """Flush and close both connections."""
        with self._producer_lock:
            if self._producer is not None:
                self._close_quietly(self._producer)
                self._producer = None
        with self._probe_lock:
            if self._probe is not None:
                self._close_quietly(self._probe)
                self._probe = None

    @staticmethod
    def _close_quietly(client: Any) -> None:
        # Closing a broken client must not mask the error that made us close it.
        with contextlib.suppress(Exception):
            client.close(timeout=5) if isinstance(client, KafkaProducer) else client.close()
