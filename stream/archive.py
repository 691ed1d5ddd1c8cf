"""Reading the topics back: every manifest and inspection outcome they still hold, for the next model.

Manifest topics keep a week (:func:`stream.topics.topic_specs`), inspection outcomes forever.
``portrisk history export`` reads both from the beginning up to their end offsets at the moment it starts
and appends what it finds to a history directory (:mod:`models.archive`), which ``portrisk train`` takes
like a simulated world: run daily, it is the path by which inspection results reach the next model.
Records that do not decode are skipped and counted by reason — the worker sent them to the dead-letter
topic with that reason already, so nothing is lost by leaving them out of the training history.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from kafka import TopicPartition
from kafka.errors import KafkaError

from features.contract import InspectionOutcome, ManifestEvent, decode_manifest, decode_outcome
from portrisk.errors import BrokerError, EventRejected
from stream.kafka_clients import make_consumer
from stream.topics import TopicNames


@dataclass
class TopicContents:
    """What the topics held: valid events and outcomes, records read per topic, rejections per reason."""

    events: list[ManifestEvent] = field(default_factory=list)
    outcomes: list[InspectionOutcome] = field(default_factory=list)
    records: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)


def read_contents(bootstrap: str, names: TopicNames, known_ports: Collection[str],
                  timeout_s: float = 600.0) -> TopicContents:
    """Every record of the manifest topics and the outcomes topic, from the beginning to the end offsets
    at the start of the call (records appended meanwhile are left for the next read); BrokerError when
    a topic is missing or the records cannot be read within ``timeout_s``."""
    ports = frozenset(known_ports)
    outcomes_topic = names.outcomes
    consumer = make_consumer(bootstrap, group_id=None, client_id="portrisk-history")
    contents = TopicContents()
    try:
        tps = []
        for topic in [*names.all_manifests, outcomes_topic]:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                raise BrokerError(f"topic {topic} does not exist on {bootstrap}: run `portrisk topics create`")
            tps += [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        left = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        while left:
            if time.monotonic() > deadline:
                raise BrokerError(f"could not read {', '.join(sorted({tp.topic for tp in left}))} to its end "
                                  f"within {timeout_s:.0f} s")
            for tp, batch in consumer.poll(timeout_ms=1000).items():
                for record in batch:
                    if record.offset >= ends[tp]:
                        break
                    contents.records[tp.topic] += 1
                    raw = record.value if record.value is not None else b""  # a tombstone: rejected, as by the worker
                    try:
                        if tp.topic == outcomes_topic:
                            contents.outcomes.append(decode_outcome(raw, ports))
                        else:
                            contents.events.append(decode_manifest(raw, ports))
                    except EventRejected as exc:
                        contents.rejected[exc.reason] += 1
            done = {tp for tp in left if consumer.position(tp) >= ends[tp]}
            if done:
                consumer.pause(*done)  # no fetching past the end for partitions already read
                left -= done
    except KafkaError as exc:
        raise BrokerError(f"reading the topics from {bootstrap} failed: {exc}") from exc
    finally:
        consumer.close()
    return contents
