"""Seeding the workers' shipper state from a history, so that a new deployment does not start cold.

A worker builds each shipper's history from the events it consumes. Started on an empty changelog, it
would see every shipper as new for weeks — no shipments seen, no inspections, no findings — and the
model, trained on warm histories, would mistake the whole port for first-time shippers. The history an
administration already holds (``portrisk import``) or a simulated one is replayed offline through the
same feature pipeline the worker runs (:func:`features.replay.replay`, outcomes folded in when
inspected), and each shipper's final state is written to the state changelog on the partition the
worker restores it from: the partition of the shipper's manifests (Kafka's default partitioner on the
shipper id). Workers restore it when they are assigned their partitions, exactly as after a restart.

The seeded states carry no consumed offsets (the history never went through the topics), so every
live event is applied on top of them. Seeding is for a changelog that is still empty: seeding under
running workers, or over state they wrote, would overwrite live histories, so :func:`seed_changelog`
refuses unless told to replace.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator

import pandas as pd
from kafka import KafkaConsumer, TopicPartition

from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore, PartyState
from portrisk.errors import BrokerError
from stream.kafka_clients import default_partitions, make_producer
from stream.state_store import encode_entry

CHUNK_EVENTS = 200_000  # replayed at a time: the feature rows of a chunk are dropped once it is done


def history_states(pipeline: FeaturePipeline, events: pd.DataFrame, outcomes: pd.DataFrame,
                   progress: Callable[[int], None] | None = None) -> dict[str, PartyState]:
    """Every shipper's state after ``events`` (sorted by ``event_time``) and ``outcomes`` (by
    ``inspected_at``), all outcomes folded in. Replayed in chunks so memory stays that of the states;
    ``progress`` is told the events replayed so far after each chunk."""
    store = InMemoryStore()
    done = 0
    for chunk_events, chunk_outcomes in _chunks(events, outcomes):
        replay(pipeline, event_rows(chunk_events), outcome_rows(chunk_outcomes), store, fold_trailing=True)
        done += len(chunk_events)
        if progress is not None:
            progress(done)
    return store.states


def _chunks(events: pd.DataFrame, outcomes: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Event chunks with the outcomes due before the next chunk's first event (a tie goes to the event,
    as in one replay: an outcome is folded before events strictly later than its inspection)."""
    inspected = outcomes["inspected_at"].tolist()
    done = 0
    for start in range(0, max(len(events), 1), CHUNK_EVENTS):
        chunk = events.iloc[start:start + CHUNK_EVENTS]
        nxt = start + CHUNK_EVENTS
        cut = bisect.bisect_left(inspected, events["event_time"].iloc[nxt]) if nxt < len(events) else len(inspected)
        yield chunk, outcomes.iloc[done:cut]
        done = cut


def seed_changelog(bootstrap: str, changelog: str, states: dict[str, PartyState], replace: bool = False) -> int:
    """Write ``states`` to the changelog topic, each on its shipper's partition; returns records written.

    BrokerError when the changelog already holds records and ``replace`` is false, or a write fails.
    """
    partitions = check_seedable(bootstrap, changelog, replace)
    keys = sorted(states)
    encoded = [key.encode() for key in keys]
    # The partition of the shipper's manifests (co-partitioned topics): where the worker restores it from.
    targets = default_partitions(encoded, list(range(partitions)))
    producer = make_producer(bootstrap, client_id="portrisk-seed")
    try:
        futures = [producer.send(changelog, key=raw, value=encode_entry({}, states[key].to_bytes()),
                                 partition=partition)
                   for key, raw, partition in zip(keys, encoded, targets, strict=True)]
        producer.flush()
    finally:
        producer.close()
    failed = [f for f in futures if f.failed()]
    if failed:
        raise BrokerError(f"{len(failed):,} of {len(futures):,} state records were not written to {changelog}: "
                          f"{failed[0].exception}")
    return len(keys)


def check_seedable(bootstrap: str, changelog: str, replace: bool = False) -> int:
    """The changelog's partition count; BrokerError when it holds records and ``replace`` is false."""
    present, partitions = changelog_records(bootstrap, changelog)
    if present and not replace:
        raise BrokerError(f"the state changelog {changelog} already holds {present:,} records (from workers or "
                          "an earlier seed): seeding would overwrite live histories; stop the workers and seed "
                          "with --replace only if you mean to start over from the history")
    return partitions


def changelog_records(bootstrap: str, changelog: str) -> tuple[int, int]:
    """Records in the changelog (end minus beginning offsets) and its partition count; BrokerError if absent."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(changelog)
        if not partitions:
            raise BrokerError(f"topic {changelog} does not exist on {bootstrap}: run `portrisk topics create`")
        tps = [TopicPartition(changelog, p) for p in partitions]
        ends, begins = consumer.end_offsets(tps), consumer.beginning_offsets(tps)
        return sum(ends[tp] - begins[tp] for tp in tps), len(tps)
    finally:
        consumer.close()
