"""The history archive without a broker: overlapping appends keep every event and outcome once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from features_support import make_history
from models_support import TRAIN, small_model, small_world

from features.contract import decode_manifest, decode_outcome, encode_event
from features.records import frame_records
from models.archive import append_history
from models.artifact import load_card
from models.dataset import load_history
from models.train import train_model
from portrisk.errors import DataError
from portrisk.settings import Settings


def test_overlapping_appends_keep_each_record_once_in_time_order(tmp_path: Path) -> None:
    events, outcomes = make_history(n=300, seed=4)
    first = append_history(tmp_path, events[:200], outcomes[:20])
    assert (first.new_events, first.new_outcomes, first.events) == (200, 20, 200)
    again = append_history(tmp_path, list(reversed(events[100:])), outcomes[10:])  # overlap, any order
    assert (again.new_events, again.new_outcomes) == (100, len(outcomes) - 20)
    assert (again.events, again.outcomes) == (300, len(outcomes))
    history = load_history(tmp_path)
    assert list(history.events["event_id"]) == [e.event_id for e in sorted(events, key=lambda e: e.event_time)]
    assert history.events["event_time"].is_monotonic_increasing
    assert history.outcomes["inspected_at"].is_monotonic_increasing
    assert again.first_event == events[0].event_time.isoformat()


def test_a_file_that_is_not_a_history_is_refused(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "events.parquet")
    events, outcomes = make_history(n=20, seed=4)
    with pytest.raises(DataError, match="not a portrisk history file"):
        append_history(tmp_path, events, outcomes)


def test_an_archive_of_the_topics_trains_the_model_its_world_trains(tmp_path: Path) -> None:
    """The production loop's data path: events and outcomes as the topics carry them (contract JSON),
    archived, give the same model as the simulated world's own files."""
    world = small_world()
    ports = set(Settings().port_ids)
    history = load_history(world)
    events = [decode_manifest(encode_event(r), ports) for r in frame_records(history.events)]
    outcomes = [decode_outcome(encode_event(r), ports) for r in frame_records(history.outcomes)]
    append_history(tmp_path / "archive", events, outcomes)
    archived = train_model(tmp_path / "archive", tmp_path / "archived-model", TRAIN)
    original = load_card(small_model())
    assert archived.feature_hash == original.feature_hash
    assert archived.data_summary == original.data_summary
    assert archived.metrics == original.metrics
    assert (tmp_path / "archived-model" / "model.lgb.txt").read_text() == (small_model() / "model.lgb.txt").read_text()
