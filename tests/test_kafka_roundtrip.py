from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kafka import TopicPartition

from portrisk.settings import Settings
from stream.kafka_clients import make_consumer, make_producer, release_parked_records
from stream.topics import TopicNames, create_topics, topic_specs

pytestmark = pytest.mark.kafka


def test_produce_consume_round_trip_keeps_key_order_per_partition(kafka_settings: Settings) -> None:
    bootstrap = kafka_settings.kafka_bootstrap
    assert bootstrap is not None
    names = TopicNames.from_settings(kafka_settings)
    create_topics(bootstrap, topic_specs(names, kafka_settings.partitions))
    topic = names.manifests("rotterdam")

    producer = make_producer(bootstrap)
    sent = [(f"NL{i % 7:09d}".encode(), f'{{"n": {i}}}'.encode()) for i in range(200)]
    futures = [producer.send(topic, key=k, value=v) for k, v in sent]
    producer.flush()
    metadata = [f.get(timeout=10) for f in futures]
    producer.close()
    # Same key, same partition: co-partitioning depends on it.
    by_key: dict[bytes, set[int]] = {}
    for (key, _), md in zip(sent, metadata, strict=True):
        by_key.setdefault(key, set()).add(md.partition)
    assert all(len(parts) == 1 for parts in by_key.values())

    consumer = make_consumer(bootstrap, group_id=f"{kafka_settings.topic_prefix}g", consumer_timeout_ms=10_000)
    consumer.subscribe([topic])
    received = [(r.key, r.value) for r in consumer]
    consumer.close()
    assert sorted(received) == sorted(sent)
    for key in by_key:
        values = [v for k, v in received if k == key]
        assert values == [v for k, v in sent if k == key]


def test_a_partition_paused_mid_batch_delivers_every_record_once_resumed(kafka_settings: Settings) -> None:
    """The worker pauses partitions whose ordering buffer is full; kafka-python 3.0.12 would never hand
    out the records it parked for such a partition again without ``release_parked_records``."""
    bootstrap = kafka_settings.kafka_bootstrap
    assert bootstrap is not None
    names = TopicNames.from_settings(kafka_settings)
    create_topics(bootstrap, topic_specs(names, 2))
    topic = names.manifests("rotterdam")
    producer = make_producer(bootstrap)
    sent = {p: [f"{p}-{i}".encode() for i in range(300)] for p in (0, 1)}
    for p, values in sent.items():
        for v in values:
            producer.send(topic, value=v, partition=p)
    producer.flush()
    producer.close()

    consumer = make_consumer(bootstrap, group_id=None, max_poll_records=50)
    tps = [TopicPartition(topic, p) for p in (0, 1)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    received: dict[int, list[bytes]] = {0: [], 1: []}

    def poll_until(done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 20
        while not done() and time.monotonic() < deadline:
            release_parked_records(consumer)
            for tp, records in consumer.poll(timeout_ms=200).items():
                received[tp.partition].extend(r.value for r in records)

    poll_until(lambda: any(received.values()))
    first = next(p for p, values in received.items() if values)  # its fetched records are only partly taken
    consumer.pause(TopicPartition(topic, first))
    poll_until(lambda: len(received[1 - first]) == 300)  # the other partition is drained meanwhile
    consumer.resume(TopicPartition(topic, first))
    poll_until(lambda: len(received[first]) == 300)
    consumer.close()
    assert received == sent
