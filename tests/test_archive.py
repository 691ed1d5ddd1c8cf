"""The history archive without a broker: overlapping appends keep every event and outcome once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from features_support import make_history

from models.archive import append_history
from models.dataset import load_history
from portrisk.errors import DataError


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
