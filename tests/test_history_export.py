"""`portrisk history export` against a real broker: what the topics hold becomes a training history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from features_support import frame, make_history, tables_for
from stream_support import cli_env, publish

from features.contract import InspectionOutcome, encode_event
from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore
from models.archive import append_history
from models.dataset import load_history
from portrisk.settings import Settings
from stream.archive import read_contents
from stream.kafka_clients import make_producer
from stream.topics import TopicNames

pytestmark = pytest.mark.kafka


def _send_outcomes(settings: Settings, outcomes: list[InspectionOutcome], tombstone: bool = False) -> None:
    assert settings.kafka_bootstrap is not None
    producer = make_producer(settings.kafka_bootstrap)
    topic = TopicNames.from_settings(settings).outcomes
    for o in outcomes:
        producer.send(topic, key=o.shipper_id.encode(), value=encode_event(o))
    if tombstone:
        producer.send(topic, key=b"NLBROKEN0001", value=None)
    producer.flush()
    producer.close()


def _export(settings: Settings, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portrisk.cli", "history", "export", "--out", str(out)],
                          env=cli_env(settings), capture_output=True, text=True, timeout=300)


def _features(pipeline: FeaturePipeline, events: pd.DataFrame, outcomes: pd.DataFrame) -> list[list[int]]:
    """The replayed feature vectors, as bits (NaNs compare equal)."""
    X = replay(pipeline, event_rows(events), outcome_rows(outcomes), InMemoryStore())
    return X.view(np.uint32).tolist()


def _archived(pipeline: FeaturePipeline, history: Path) -> list[list[int]]:
    loaded = load_history(history)
    return _features(pipeline, loaded.events, loaded.outcomes)


def test_the_topics_become_a_history_that_trains_like_the_original(kafka_settings: Settings, tmp_path: Path) -> None:
    events, outcomes = make_history(n=400, seed=11)
    first, later = events[:300], events[300:]
    publish(kafka_settings, [encode_event(e) for e in first], extra=[("rotterdam", b"this is not json")])
    known = [o for o in outcomes if o.event_id in {e.event_id for e in first}]
    _send_outcomes(kafka_settings, known, tombstone=True)
    out = tmp_path / "history"

    done = _export(kafka_settings, out)
    assert done.returncode == 0, done.stderr
    assert "300 events" in done.stdout and f"{len(known)} outcomes" in done.stdout
    assert "not_json 2" in done.stdout  # the bad manifest and the tombstone: counted, left to the DLQ
    history = load_history(out)
    assert sorted(history.events["event_id"]) == sorted(e.event_id for e in first)
    assert sorted(history.outcomes["outcome_id"]) == sorted(o.outcome_id for o in known)
    # Field for field what was published: the feature code computes the same vectors from the archive as
    # from the original events, bit for bit (hubs, extras, times, amendments included).
    pipeline = FeaturePipeline(tables_for(events, outcomes))
    assert _archived(pipeline, out) == _features(pipeline, frame(first), frame(known))

    # Exporting again adds nothing; new records are appended, each once.
    assert "0 new events and 0 new outcomes" in _export(kafka_settings, out).stdout
    publish(kafka_settings, [encode_event(e) for e in later])
    rest = [o for o in outcomes if o not in known]
    _send_outcomes(kafka_settings, rest)
    contents = read_contents(kafka_settings.kafka_bootstrap or "", TopicNames.from_settings(kafka_settings),
                             kafka_settings.port_ids)
    report = append_history(out, contents.events, contents.outcomes)
    assert (report.new_events, report.new_outcomes) == (len(later), len(rest))
    assert (report.events, report.outcomes) == (len(events), len(outcomes))
    history = load_history(out)
    assert history.events["event_time"].is_monotonic_increasing
    assert history.outcomes["inspected_at"].is_monotonic_increasing
    assert _archived(pipeline, out) == _features(pipeline, frame(events), frame(outcomes))


def test_export_names_a_missing_topic(kafka_settings: Settings, tmp_path: Path) -> None:
    done = _export(kafka_settings, tmp_path / "history")
    assert done.returncode != 0
    assert "does not exist" in done.stderr and "portrisk topics create" in done.stderr
    assert not (tmp_path / "history" / "events.parquet").exists()
