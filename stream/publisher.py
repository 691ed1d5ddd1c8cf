"""Publishing a simulated (or imported) stream: events in event-time order to the per-port topics.

Each manifest event goes to ``manifests.<port>`` keyed by its shipper id (UTF-8), so that one worker
owns all of a shipper's events; inspection outcomes, when asked for, go to ``inspection-outcomes`` with
the same key, merged into the stream by inspection time. Values are the contract's JSON
(:func:`features.contract.encode_event`). The Kafka timestamp is left to the producer (send time): it
measures end-to-end latency, while the event's own time travels in the payload.

The source is any data frame with the contract's columns — the world generator's, or a world directory
read back — so this module needs neither the generator nor the file layout.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TextIO

import pandas as pd
from kafka.errors import KafkaError

from features.contract import MANIFEST_FIELDS, OUTCOME_FIELDS, encode_event
from features.records import frame_records
from portrisk.errors import BrokerError, DataError
from stream.topics import TopicNames


class Message(NamedTuple):
    """One record to send; ``at`` (POSIX seconds of event or inspection time) orders the merged stream."""

    at: float
    kind: str  # "event" or "outcome"
    topic: str
    key: bytes
    value: bytes


def _timed_records(frame: pd.DataFrame, time_column: str,
                   fields: tuple[str, ...]) -> Iterator[tuple[float, dict[str, Any]]]:
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise DataError(f"the frame lacks contract fields: {', '.join(missing)}")
    frame = frame.sort_values(time_column, kind="stable")  # stable: equal times keep their order
    seconds = frame[time_column].astype("datetime64[ms, UTC]").astype("int64").to_numpy() / 1000.0
    return zip(seconds.tolist(), frame_records(frame, fields), strict=True)


def event_messages(events: pd.DataFrame, topics: TopicNames) -> Iterator[Message]:
    """A message per manifest event, in event-time order, to its port's topic keyed by shipper id."""
    for at, record in _timed_records(events, "event_time", MANIFEST_FIELDS):
        yield Message(at, "event", topics.manifests(record["mainport"]), record["shipper_id"].encode(),
                      encode_event(record))


def outcome_messages(outcomes: pd.DataFrame, topics: TopicNames) -> Iterator[Message]:
    """A message per inspection outcome, in inspection-time order, keyed by shipper id."""
    for at, record in _timed_records(outcomes, "inspected_at", OUTCOME_FIELDS):
        yield Message(at, "outcome", topics.outcomes, record["shipper_id"].encode(), encode_event(record))


def merged(*streams: Iterable[Message]) -> Iterator[Message]:
    """Time-ordered streams merged into one time-ordered stream (ties: earlier streams first)."""
    return heapq.merge(*streams, key=lambda m: m.at)


class Progress:
    """A throttled progress line on stderr: rewritten in place on a terminal, a line every few seconds else."""

    def __init__(self, total: int | None, out: TextIO | None = None, every_s: float | None = None) -> None:
        self.total = total
        self.out = out if out is not None else sys.stderr
        self.tty = self.out.isatty()
        self.every_s = every_s if every_s is not None else (0.5 if self.tty else 5.0)
        self.started = self.last = time.monotonic()

    def update(self, sent: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every_s:
            return
        self.last = now
        rate = sent / max(now - self.started, 1e-9)
        of = f" / {self.total:,}" if self.total else ""
        line = f"published {sent:,}{of} records ({rate:,.0f}/s)"
        self.out.write(("\r" + line) if self.tty else (line + "\n"))
        self.out.flush()

    def close(self, sent: int) -> None:
        self.update(sent, force=True)
        if self.tty:
            self.out.write("\n")
            self.out.flush()


@dataclass
class PublishReport:
    """What was sent: counts per kind and per topic, and how long it took."""

    counts: Counter[str] = field(default_factory=Counter)
    per_topic: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def format(self) -> str:
        kinds = ", ".join(f"{n:,} {kind}s" for kind, n in sorted(self.counts.items()))
        rate = self.total / self.seconds if self.seconds else 0.0
        return (f"published {kinds or 'nothing'} to {len(self.per_topic)} topics in {self.seconds:.1f} s "
                f"({rate:,.0f} records/s)")


def publish(messages: Iterable[Message], producer: Any, *, rate: float | None = None,
            progress: Progress | None = None, sleep: Callable[[float], None] = time.sleep) -> PublishReport:
    """Send ``messages`` in order; at ``rate`` records per second, or as fast as the producer takes them.

    Returns once every record is acknowledged; any failed send is a BrokerError (after flushing the rest).
    """
    report = PublishReport()
    failures: list[BaseException] = []
    started = time.monotonic()
    sent = 0
    try:
        for message in messages:
            if rate:
                ahead = started + sent / rate - time.monotonic()
                if ahead > 0.001:  # pace against the schedule, not per record: no drift over long runs
                    sleep(ahead)
            future = producer.send(message.topic, key=message.key, value=message.value)
            future.add_errback(failures.append)
            sent += 1
            report.counts[message.kind] += 1
            report.per_topic[message.topic] += 1
            if progress is not None:
                progress.update(sent)
        producer.flush()
    except KafkaError as exc:
        raise BrokerError(f"publishing failed after {sent:,} records: {exc}") from exc
    finally:
        if progress is not None:
            progress.close(sent)
    if failures:
        raise BrokerError(f"{len(failures)} of {sent:,} records were not acknowledged; first: {failures[0]}")
    report.seconds = time.monotonic() - started
    return report
