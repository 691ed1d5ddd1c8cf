"""Seeding shipper state from a history: the worker continues exactly where an offline replay would.

A world's first days are seeded into the changelog with `portrisk state seed`; a worker then decides
the last day from the topics. Every decision's features must equal those of one offline replay of the
whole history (the seeded days with their outcomes, then the last day) — which holds only if each
shipper's state was restored by the worker that owns it, from the partition it restores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from stream_support import cli_env, decisions, publish, read_topic, same_features, scaled_ports

import stream.backfill as backfill
from features.contract import encode_event
from features.pipeline import FeaturePipeline
from features.records import frame_records
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore
from models.world import generate_world, make_config
from models.world.writer import write_world
from portrisk.assembly import build_worker
from portrisk.metrics import WorkerMetrics
from portrisk.settings import DEFAULT_MODEL_DIR, Settings
from stream.topics import TopicNames

MODEL_DIR = Path(os.environ.get("PORTRISK_TEST_MODEL_DIR", str(DEFAULT_MODEL_DIR)))
SCALE = 0.05
PORTS = scaled_ports(SCALE)
PORT_IDS = tuple(p.id for p in PORTS)
DAYS, WARMUP = 4, 3


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return generate_world(make_config(days=DAYS, seed=11, scale=SCALE))


def _cut(world) -> pd.Timestamp:  # type: ignore[no-untyped-def]
    return pd.Timestamp(world.config.start + timedelta(days=WARMUP))


def _seed(settings: Settings, history: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portrisk.cli", "state", "seed", "--history", str(history), *extra],
                          env=cli_env(settings), capture_output=True, text=True, timeout=300)


@pytest.mark.kafka
def test_a_worker_on_a_seeded_changelog_decides_as_one_replay_of_the_whole_history(
        world, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=3, home=tmp_path,
                        model_dir=MODEL_DIR, ports=PORTS, max_batch=300, metrics_port=0,
                        worker_group=f"{topic_prefix}worker")
    write_world(world, tmp_path / "world")
    cut = _cut(world)
    seeded = _seed(settings, tmp_path / "world", "--until", cut.isoformat())
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    assert "shipper histories" in seeded.stdout
    topics = TopicNames.from_settings(settings)
    state_partition = {r.key: r.partition for r in read_topic(kafka_bootstrap, topics.changelog)}  # seeded only

    events = world.events.sort_values("event_time", kind="stable")
    live = events[events["event_time"] >= cut]
    payloads = [encode_event(r) for r in frame_records(live)]
    publish(settings, payloads)
    # Each state lies on the partition of its shipper's manifests: the one its owning worker restores.
    manifest_partition = {r.key: r.partition for port in PORT_IDS for r in read_topic(kafka_bootstrap,
                                                                                         topics.manifests(port))}
    shared = manifest_partition.keys() & state_partition.keys()
    assert len(shared) > 100 and len({manifest_partition[k] for k in shared}) == settings.partitions
    assert all(state_partition[k] == manifest_partition[k] for k in shared)
    build_worker(settings, WorkerMetrics(CollectorRegistry())).run(idle_exit_s=4.0)
    records = {r["event_id"]: r for r in decisions(kafka_bootstrap, settings)}
    assert set(records) == set(live["event_id"])

    # One replay of everything the worker knew: the seeded days with the outcomes inspected before the cut
    # (the live day's outcomes were never published), then the live day.
    pipeline = FeaturePipeline.from_model_dir(MODEL_DIR)
    known = world.outcomes[world.outcomes["inspected_at"] < cut]
    X = replay(pipeline, event_rows(events), outcome_rows(known.sort_values("inspected_at", kind="stable")),
               InMemoryStore())
    expected = dict(zip(events["event_id"], X.tolist(), strict=True))
    mismatches = [(e, diff) for e, r in records.items()
                  if (diff := same_features(r, pipeline.names, expected[e])) is not None]
    assert not mismatches, f"{len(mismatches)} of {len(records)} decisions differ, e.g. {mismatches[:3]}"
    # The seeded history shows: most live events come from shippers seen before the cut.
    seen_before = sum(1 for r in records.values() if (r["features"]["shipper_shipments"] or 0) > 0)
    assert seen_before > len(records) / 2


@pytest.mark.kafka
def test_seeding_refuses_a_changelog_that_holds_state_unless_told_to_replace(
        world, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=3, home=tmp_path,
                        model_dir=MODEL_DIR, ports=PORTS)
    write_world(world, tmp_path / "world")
    assert _seed(settings, tmp_path / "world").returncode == 0
    again = _seed(settings, tmp_path / "world")
    assert again.returncode != 0
    assert f"{TopicNames.from_settings(settings).changelog} already holds" in again.stderr
    assert "--replace" in again.stderr and "Traceback" not in again.stderr
    assert _seed(settings, tmp_path / "world", "--replace").returncode == 0
    naive = _seed(settings, tmp_path / "world", "--until", "2024-01-02T00:00:00", "--replace")
    assert naive.returncode != 0 and "time zone" in naive.stderr


def test_replaying_in_chunks_gives_the_states_of_one_replay(world, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    events = world.events.sort_values("event_time", kind="stable").reset_index(drop=True)
    outcomes = world.outcomes.sort_values("inspected_at", kind="stable").reset_index(drop=True)
    pipeline = FeaturePipeline.from_model_dir(MODEL_DIR)
    whole = InMemoryStore()
    replay(pipeline, event_rows(events), outcome_rows(outcomes), whole, fold_trailing=True)
    monkeypatch.setattr(backfill, "CHUNK_EVENTS", 997)  # many chunks, boundaries between outcomes
    chunked = backfill.history_states(pipeline, events, outcomes)
    assert len(events) > 5 * 997 and outcomes["result"].eq("drugs").any()
    assert chunked.keys() == whole.states.keys()
    assert all(chunked[k].to_bytes() == whole.states[k].to_bytes() for k in chunked)
