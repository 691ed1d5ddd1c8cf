"""Reading the topics back: every manifest and inspection outcome they still hold, for the next model.

Manifest topics keep a week (:func:`stream.topics.topic_specs`), inspection outcomes forever.
``portrisk history export`` reads both from the beginning up to their end offsets at the moment it starts
(:func:`stream.changelog.read_to_end`) and appends what it finds to a history directory
(:mod:`models.archive`), which ``portrisk train`` takes like a simulated world: run daily, it is the path by
which inspection results reach the next model. Records that do not decode are skipped and counted by
reason — the worker sent them to the dead-letter topic with that reason already, so nothing is lost by
leaving them out of the training history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from kafka.errors import KafkaError

from features.contract import InspectionOutcome, ManifestEvent, decode_manifest, decode_outcome
from portrisk.errors import BrokerError, EventRejected
from stream.changelog import read_to_end
from stream.topics import TopicNames, list_topics


@dataclass
class TopicContents:
    """What the topics held: valid events and outcomes, records read per topic, rejections per reason."""

    events: list[ManifestEvent] = field(default_factory=list)
    outcomes: list[InspectionOutcome] = field(default_factory=list)
    records: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)


def read_contents(bootstrap: str, names: TopicNames, known_ports: Collection[str],
                  timeout_s: float = 600.0) -> TopicContents:
    """Every record of the manifest topics and the outcomes topic, from the beginning to each topic's end
    offsets when its read starts; BrokerError when a topic is missing or one is not read within ``timeout_s``."""
    ports = frozenset(known_ports)
    topics = [*names.all_manifests, names.outcomes]
    existing = list_topics(bootstrap)
    missing = [t for t in topics if t not in existing]
    if missing:
        raise BrokerError(f"topic {', '.join(missing)} does not exist on {bootstrap}: run `portrisk topics create`")
    contents = TopicContents()

    def keep(decode: Callable[[bytes, Collection[str]], Any], into: list[Any]) -> Callable[[Any], None]:
        def on_record(record: Any) -> None:
            try:  # a tombstone is rejected, as the worker rejects it
                into.append(decode(record.value if record.value is not None else b"", ports))
            except EventRejected as exc:
                contents.rejected[exc.reason] += 1
        return on_record

    for topic in topics:
        into: list[Any] = contents.outcomes if topic == names.outcomes else contents.events
        decode: Callable[[bytes, Collection[str]], Any] = decode_outcome if topic == names.outcomes \
            else decode_manifest
        try:
            contents.records[topic] = read_to_end(bootstrap, topic, None, keep(decode, into),
                                                  client_id="portrisk-history", timeout_s=timeout_s)
        except (TimeoutError, KafkaError) as exc:
            raise BrokerError(f"reading {topic} from {bootstrap} failed: {exc}") from exc
    return contents
