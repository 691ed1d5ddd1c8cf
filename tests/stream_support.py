"""Helpers for the streaming tests: a small simulated world, publishing, reading topics, offline replay."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from features.contract import ManifestEvent, decode_manifest, encode_event
from features.pipeline import FeaturePipeline
from features.ports import DEFAULT_PORTS, PortConfig
from features.records import frame_records
from features.state import InMemoryStore
from portrisk.settings import Settings
from stream.kafka_clients import make_producer
from stream.topics import TopicNames, create_topics, topic_specs


def scaled_ports(scale: float) -> tuple[PortConfig, ...]:
    """The mainports with volumes and scan capacity shrunk alike, so the selection rate stays realistic."""
    return tuple(p.model_copy(update={"containers_per_day": max(1, round(p.containers_per_day * scale)),
                                      "capacity_per_day": max(1, round(p.capacity_per_day * scale))})
                 for p in DEFAULT_PORTS)


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for a `portrisk` child process that runs with ``settings`` (none inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTRISK_")}
    env.update({"PORTRISK_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "", "PORTRISK_TOPIC_PREFIX":
                settings.topic_prefix, "PORTRISK_PARTITIONS": str(settings.partitions),
                "PORTRISK_HOME": str(settings.home), "PORTRISK_METRICS_PORT": str(settings.metrics_port),
                "PORTRISK_MAX_BATCH": str(settings.max_batch), "PORTRISK_MODEL_DIR": str(settings.model_dir),
                "PORTRISK_WORKER_GROUP": settings.worker_group,
                "PORTRISK_PORTS": orjson.dumps([p.model_dump() for p in settings.ports]).decode(), **extra})
    return env


def world_payloads(ports: tuple[PortConfig, ...], days: int, seed: int, scale: float) -> list[bytes]:
    """Manifest events of a simulated world as contract JSON, in event-time order."""
    from models.world import generate_world, make_config

    world = generate_world(make_config(ports=ports, days=days, seed=seed, scale=scale))
    events = world.events.sort_values("event_time", kind="stable")
    return [encode_event(record) for record in frame_records(events)]


MALFORMED: list[tuple[bytes, str]] = [
    (b"this is not json", "not_json"),
    (b"[1, 2, 3]", "not_object"),
    (b'{"schema_version": 2, "event_id": "x"}', "schema_version"),
]


def malformed_payloads(valid: bytes) -> list[tuple[bytes, str]]:
    """Bad events derived from a valid one, with the rejection reason each must get."""
    doc = orjson.loads(valid)
    missing = {k: v for k, v in doc.items() if k != "shipper_id"}
    bad_digit = dict(doc, container_id=doc["container_id"][:-1] + str((int(doc["container_id"][-1]) + 1) % 10)) \
        if doc["transport_mode"] == "sea" else dict(doc, hs_code="12AB56")
    absurd = dict(doc, gross_weight_kg=9_000_000.0)
    return [*MALFORMED, (orjson.dumps(missing), "missing_field"), (orjson.dumps(bad_digit), "invalid_field"),
            (orjson.dumps(absurd), "absurd_value")]


def publish(settings: Settings, payloads: Sequence[bytes], extra: Sequence[tuple[str, bytes]] = ()) -> None:
    """Create the topics, then send every payload to its port's topic keyed by shipper id (acks=all)."""
    assert settings.kafka_bootstrap is not None
    topics = TopicNames.from_settings(settings)
    create_topics(settings.kafka_bootstrap, topic_specs(topics, settings.partitions))
    producer = make_producer(settings.kafka_bootstrap)
    futures = []
    # Distinct, increasing record timestamps: the worker orders records across topics by timestamp, and
    # records sent within the same millisecond to different topics would otherwise tie.
    first_ms = int(time.time() * 1000) - len(payloads)
    for i, payload in enumerate(payloads):
        doc = orjson.loads(payload)
        futures.append(producer.send(topics.manifests(doc["mainport"]), key=doc["shipper_id"].encode(),
                                     value=payload, timestamp_ms=first_ms + i))
    for port, payload in extra:
        futures.append(producer.send(topics.manifests(port), key=b"NLBROKEN0001", value=payload))
    producer.flush()
    for f in futures:
        f.get(timeout=30)
    producer.close()


def read_topic(bootstrap: str, topic: str, idle_s: float = 3.0, timeout_s: float = 120.0) -> list[Any]:
    """Every record of ``topic`` from the beginning (all partitions)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=int(idle_s * 1000)).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def decisions(bootstrap: str, settings: Settings) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in read_topic(bootstrap, TopicNames.from_settings(settings).risk_scores)]


def offline_features(model_dir: Path, payloads: Sequence[bytes], ports: Sequence[str]) -> dict[str, list[float]]:
    """Feature vectors by event id from replaying the events in order through the same pipeline."""
    pipeline = FeaturePipeline.from_model_dir(model_dir)
    store = InMemoryStore()
    out = {}
    for payload in payloads:
        event: ManifestEvent = decode_manifest(payload, ports)
        out[event.event_id] = [float(v) for v in pipeline.process(event, store)]
    return out


def same_features(record: dict[str, Any], names: Sequence[str], expected: Sequence[float]) -> str | None:
    """None when the decision's features equal the offline vector; else the first difference."""
    for name, want in zip(names, expected, strict=True):
        got = record["features"][name]
        if math.isnan(want):
            if got is not None:
                return f"{name}: expected missing, got {got}"
        elif got is None or abs(got - want) > 1e-5 * max(1.0, abs(want)):
            return f"{name}: expected {want}, got {got}"
    return None


def wait_for(predicate: Any, timeout_s: float, every_s: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return False
