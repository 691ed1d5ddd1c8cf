"""The deployment's own history: manifests and inspection outcomes read back from the topics, appended
to a history directory that ``portrisk train`` and ``portrisk evaluate`` take like a simulated world.

A run adds what the topics hold (:mod:`stream.archive`) to what the directory holds already: an event
or an outcome seen before (same ``event_id``, same ``outcome_id``) is kept once, as first archived, so
runs can overlap freely — a daily run over topics that keep a week loses nothing and duplicates nothing.
Files are rewritten whole, in event-time and inspection-time order, each through a temporary file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from features.contract import InspectionOutcome, ManifestEvent
from models.dataset import EVENTS_FILE, OUTCOMES_FILE
from models.world.writer import stored_events, write_parquet
from portrisk.errors import DataError

EVENT_TIMES, OUTCOME_TIMES = ("event_time", "eta"), ("inspected_at",)  # stored as microseconds, UTC


@dataclass(frozen=True)
class ArchiveReport:
    """What an append added, and what the directory holds after it."""

    new_events: int
    new_outcomes: int
    events: int
    outcomes: int
    first_event: str | None
    last_event: str | None


def event_frame(events: Sequence[ManifestEvent]) -> pd.DataFrame:
    """Events as a world's ``events.parquet`` holds them (:func:`models.world.writer.stored_events`)."""
    frame = pd.DataFrame([e.model_dump() for e in events], columns=list(ManifestEvent.model_fields))
    return _with_times(stored_events(frame), EVENT_TIMES)


def outcome_frame(outcomes: Sequence[InspectionOutcome]) -> pd.DataFrame:
    """Outcomes as a world's ``outcomes.parquet`` holds them."""
    rows = [o.model_dump() for o in outcomes]
    return _with_times(pd.DataFrame(rows, columns=list(InspectionOutcome.model_fields)), OUTCOME_TIMES)


def _with_times(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    for name in columns:
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
    return frame


def _merge(path: Path, new: pd.DataFrame, key: str, order: str, times: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """The file's rows followed by the new ones not in it yet (by ``key``), sorted stably by ``order``."""
    if path.is_file():
        try:
            old = pq.read_table(path).to_pandas()
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc}") from exc
        if key not in old or order not in old:
            raise DataError(f"{path} is not a portrisk history file (no {key} or {order} column)")
        old = _with_times(old, [name for name in times if name in old])
    else:
        old = new.iloc[:0]
    new = new.drop_duplicates(key)
    added = new[~new[key].isin(old[key])]
    merged = pd.concat([old, added], ignore_index=True) if len(old) else added.reset_index(drop=True)
    return merged.sort_values(order, kind="stable").reset_index(drop=True), len(added)


def append_history(directory: str | Path, events: Sequence[ManifestEvent],
                   outcomes: Sequence[InspectionOutcome]) -> ArchiveReport:
    """Add ``events`` and ``outcomes`` to the history in ``directory`` (created if missing)."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    all_events, new_events = _merge(root / EVENTS_FILE, event_frame(events), "event_id", "event_time",
                                    EVENT_TIMES)
    all_outcomes, new_outcomes = _merge(root / OUTCOMES_FILE, outcome_frame(outcomes), "outcome_id", "inspected_at",
                                        OUTCOME_TIMES)
    write_parquet(all_events, root / EVENTS_FILE)
    write_parquet(all_outcomes, root / OUTCOMES_FILE)
    times = all_events["event_time"]
    return ArchiveReport(new_events, new_outcomes, len(all_events), len(all_outcomes),
                         times.iloc[0].isoformat() if len(times) else None,
                         times.iloc[-1].isoformat() if len(times) else None)
