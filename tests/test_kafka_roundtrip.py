from __future__ import annotations

import pytest

from portrisk.settings import Settings
from stream.kafka_clients import make_consumer, make_producer
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
