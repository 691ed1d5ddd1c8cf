"""The publisher: a simulated stream in event-time order to the per-port topics, keyed by shipper id."""

from __future__ import annotations

import argparse
import io
import time
from collections import defaultdict

import pytest

from features.contract import decode_manifest, decode_outcome
from models.world import World, generate_world, make_config
from portrisk.commands import publish as publish_verb
from portrisk.settings import Settings
from stream.kafka_clients import make_consumer, make_producer
from stream.publisher import Progress, event_messages, merged, outcome_messages, publish
from stream.topics import TopicNames, create_topics, topic_specs

PORTS = ("rotterdam", "vlissingen", "amsterdam", "moerdijk", "schiphol")


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(make_config(days=3, seed=8, scale=0.004))


def test_messages_are_time_ordered_keyed_by_shipper_and_decode(world: World) -> None:
    topics = TopicNames(prefix="x.", port_ids=PORTS)
    messages = list(merged(event_messages(world.events, topics), outcome_messages(world.outcomes, topics)))
    assert len(messages) == len(world.events) + len(world.outcomes)
    assert [m.at for m in messages] == sorted(m.at for m in messages)
    for message in messages:
        if message.kind == "event":
            event = decode_manifest(message.value, PORTS)
            assert message.topic == f"x.manifests.{event.mainport}"
            assert message.key == event.shipper_id.encode()
            assert message.at == event.event_time.timestamp()
        else:
            outcome = decode_outcome(message.value, PORTS)
            assert message.topic == "x.inspection-outcomes" and message.key == outcome.shipper_id.encode()


def test_events_out_of_order_are_sent_in_event_time_order(world: World) -> None:
    topics = TopicNames(prefix="", port_ids=PORTS)
    shuffled = world.events.sample(frac=1.0, random_state=3)
    ids = [decode_manifest(m.value, PORTS).event_id for m in event_messages(shuffled, topics)]
    assert ids == world.events["event_id"].tolist()


def test_progress_is_throttled_and_ends_with_the_count() -> None:
    out = io.StringIO()
    progress = Progress(total=1000, out=out, every_s=3600)
    for sent in range(1, 1001):
        progress.update(sent)
    progress.close(1000)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("published 1,000 / 1,000 records")


def _consume_all(settings: Settings, topics: list[str], expected: int) -> list[tuple[str, int, bytes, bytes]]:
    assert settings.kafka_bootstrap is not None
    consumer = make_consumer(settings.kafka_bootstrap, group_id=f"{settings.topic_prefix}check",
                             consumer_timeout_ms=5_000)
    consumer.subscribe(topics)
    received: list[tuple[str, int, bytes, bytes]] = []
    deadline = time.monotonic() + 60
    while len(received) < expected and time.monotonic() < deadline:
        for record in consumer:
            received.append((record.topic, record.partition, record.key, record.value))
    consumer.close()
    return received


@pytest.mark.kafka
def test_publish_verb_sends_the_world_to_kafka(world: World, kafka_settings: Settings,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(days=3, seed=8, scale=0.004, from_dir=None, rate=None, outcomes=True)
    assert publish_verb._run(args, kafka_settings) == 0
    printed = capsys.readouterr()
    assert f"published {len(world.events):,} events" in printed.out
    assert "records" in printed.err  # progress on stderr

    names = TopicNames.from_settings(kafka_settings)
    expected = len(world.events) + len(world.outcomes)
    received = _consume_all(kafka_settings, [*names.all_manifests, names.outcomes], expected)
    assert len(received) == expected
    per_port = world.events["mainport"].value_counts()
    times: dict[tuple[str, int], list[float]] = defaultdict(list)
    for topic, partition, key, value in received:
        if topic == names.outcomes:
            assert key == decode_outcome(value, PORTS).shipper_id.encode()
            continue
        event = decode_manifest(value, PORTS)
        assert topic == names.manifests(event.mainport) and key == event.shipper_id.encode()
        times[(topic, partition)].append(event.event_time.timestamp())
    assert {t: sum(1 for r in received if r[0] == t) for t in names.all_manifests} == {
        names.manifests(p): int(per_port.get(p, 0)) for p in PORTS
    }
    for partition_times in times.values():  # each partition receives its events in event-time order
        assert partition_times == sorted(partition_times)


@pytest.mark.kafka
def test_publish_keeps_the_requested_rate(world: World, kafka_settings: Settings) -> None:
    assert kafka_settings.kafka_bootstrap is not None
    names = TopicNames.from_settings(kafka_settings)
    create_topics(kafka_settings.kafka_bootstrap, topic_specs(names, kafka_settings.partitions))
    messages = list(event_messages(world.events.head(300), names))
    producer = make_producer(kafka_settings.kafka_bootstrap)
    try:
        report = publish(messages, producer, rate=200.0)
    finally:
        producer.close()
    assert report.counts["event"] == 300 and report.total == 300
    assert 1.4 <= report.seconds < 5.0  # 300 records at 200/s: 1.5 s, paced against the schedule


def test_publish_verb_needs_exactly_one_source() -> None:
    from portrisk.errors import ConfigError

    args = argparse.Namespace(days=None, seed=0, scale=1.0, from_dir=None, rate=None, outcomes=False)
    with pytest.raises(ConfigError, match="--days"):
        publish_verb._run(args, Settings())
