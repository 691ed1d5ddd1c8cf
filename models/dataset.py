"""Training and evaluation sets: a history replayed through the feature pipeline, split in time.

A history is a directory with ``events.parquet`` (ManifestEvent columns) and ``outcomes.parquet``
(InspectionOutcome columns) — a simulated world or an imported administration's history alike. The
truth of a simulated world lives in ``truth/`` and is never read here.

Periods, in order (:class:`Periods`)::

    [start, tables_end)       warm-up: shipper histories fill; the first reference tables cover it
    [tables_end, train_end)   training rows
    [train_end, valid_end)    validation rows, for early stopping
    [valid_end, end]          held-out test period; valid_end is the training cut-off

Reference tables are point-in-time (:func:`featurise`): a row filed on day d uses the tables as of the
last refresh before d — events filed and outcomes inspected before it — so no row ever sees its own
label in a finding rate (a consignee inspected once with a finding would otherwise "predict" that very
finding). The tables as of the cut-off ship with the model and serve every later row, as in the worker.
Only labels known at the cut-off are used, in training and validation alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore, StateStore
from features.tables import ReferenceTables
from models.tables import TableBuilder
from portrisk.errors import DataError

EVENTS_FILE, OUTCOMES_FILE = "events.parquet", "outcomes.parquet"


@dataclass(frozen=True)
class History:
    """Events in event-time order and outcomes in inspection-time order."""

    events: pd.DataFrame
    outcomes: pd.DataFrame

    @property
    def start(self) -> datetime:
        """Time of the first event."""
        return pd.Timestamp(self.events["event_time"].iloc[0]).to_pydatetime()

    @property
    def end(self) -> datetime:
        """Time of the last original declaration (amendments of the last containers trail it by days)."""
        events = self.events
        if "is_amendment" in events.columns:
            events = events[~events["is_amendment"].fillna(False).astype(bool)]
        return pd.Timestamp(events["event_time"].iloc[-1]).to_pydatetime()


def load_history(directory: str | Path) -> History:
    """Read a history directory; DataError when a file is missing, unreadable or empty."""
    from models.world.writer import read_events, read_outcomes

    root = Path(directory)
    events = read_events(root)
    outcomes = read_outcomes(root)
    if events.empty:
        raise DataError(f"{root / EVENTS_FILE} holds no events")
    # Stable sorts: the files are written in time order already, and ties keep their written order.
    events = events.sort_values("event_time", kind="stable").reset_index(drop=True)
    outcomes = outcomes.sort_values("inspected_at", kind="stable").reset_index(drop=True)
    return History(events, outcomes)


@dataclass(frozen=True)
class Periods:
    """Boundaries of the reference, training, validation and test periods (see the module docstring)."""

    start: datetime
    tables_end: datetime
    train_end: datetime
    valid_end: datetime
    end: datetime

    def to_dict(self) -> dict[str, str]:
        """ISO 8601 boundaries (for the model card)."""
        return {k: getattr(self, k).isoformat() for k in ("start", "tables_end", "train_end", "valid_end", "end")}


def table_versions(history: History, config: FeatureConfig, cutoffs: Sequence[datetime],
                   builder: TableBuilder | None = None) -> Iterator[ReferenceTables]:
    """The reference tables as of each cut-off (events filed and outcomes inspected before it), in order.

    One incremental pass over the history, however many versions. Each version is round-tripped
    through its bytes, so the last one — the model's — is bit-identical to the file saved beside it.
    A ``builder`` passed in is fed (and can be fed further by the caller after the last version).
    """
    events, outcomes = history.events, history.outcomes
    builder = builder or TableBuilder(config, outcomes["event_id"])
    event_iter = event_rows(events)
    outcome_iter = outcome_rows(outcomes)
    next_event = next(event_iter, None)
    next_outcome = next(outcome_iter, None)
    for cutoff in cutoffs:
        limit = cutoff.timestamp()
        while next_event is not None and next_event.event_time < limit:
            builder.add_event(next_event, next_event.event_id, next_event.event_time)
            next_event = next(event_iter, None)
        while next_outcome is not None and next_outcome.inspected_at < limit:
            builder.add_outcome(next_outcome.event_id, next_outcome.result)
            next_outcome = next(outcome_iter, None)
        yield ReferenceTables.from_bytes(builder.snapshot(cutoff).to_bytes())


@dataclass(frozen=True)
class Features:
    """Feature vectors of every event, the tables version each row used, and the model's tables."""

    X: np.ndarray
    version: np.ndarray  # per row: index into cut-offs of the tables used; -1 before the first cut-off
    tables: ReferenceTables  # as of the last cut-off: saved with the model, used for later rows
    names: tuple[str, ...]


def featurise(history: History, config: FeatureConfig, cutoffs: Sequence[datetime],
              store: StateStore | None = None, builder: TableBuilder | None = None) -> Features:
    """Replay every event through the pipeline, with the tables refreshed at each cut-off.

    Rows filed before the first cut-off are warm-up (shipper histories): their features use the first
    version and are not point-in-time with respect to the tables, so they must not become training rows.
    From each cut-off on, rows use the tables as of that cut-off — what a worker whose tables are
    refreshed at those moments would have computed. ``store`` and ``builder``, when given, are the shipper
    states and the tables' counts the replay leaves behind, for a caller that goes on from there.
    """
    if not cutoffs or list(cutoffs) != sorted(cutoffs):
        raise DataError("featurise needs at least one cut-off, in time order")
    events, outcomes = history.events, history.outcomes
    times = events["event_time"]
    inspected = outcomes["inspected_at"]
    bounds = [int((times < c).sum()) for c in cutoffs[1:]]  # times are sorted
    event_cuts = [0, *bounds, len(events)]
    store = InMemoryStore() if store is None else store
    parts: list[np.ndarray] = []
    version = np.full(len(events), -1, dtype=np.int64)
    tables: ReferenceTables | None = None
    names: tuple[str, ...] = ()
    for i, tables in enumerate(table_versions(history, config, cutoffs, builder)):
        lo, hi = event_cuts[i], event_cuts[i + 1]
        chunk = events.iloc[lo:hi]
        # Outcomes due before the next chunk's first event are folded in this chunk (ties: after it).
        upper = times.iloc[hi] if hi < len(events) else None
        lower = times.iloc[lo] if i > 0 and lo < len(events) else None  # no event from the last cut-off on
        mask = np.ones(len(outcomes), dtype=bool)
        if lower is not None:
            mask &= (inspected >= lower).to_numpy()
        if upper is not None:
            mask &= (inspected < upper).to_numpy()
        pipeline = FeaturePipeline(tables)
        names = pipeline.names
        parts.append(replay(pipeline, event_rows(chunk), outcome_rows(outcomes[mask]), store,
                            fold_trailing=upper is not None))
        version[lo:hi] = i
    assert tables is not None
    version[(times < cutoffs[0]).to_numpy()] = -1
    return Features(np.ascontiguousarray(np.vstack(parts)), version, tables, names)


@dataclass(frozen=True)
class Labels:
    """Per event: its container inspected by ``known_before``, drugs found, why it was selected ('' if not),
    and how many labelled declarations its container has (so a container counts once in training)."""

    inspected: np.ndarray
    drugs: np.ndarray
    selection: np.ndarray
    declarations: np.ndarray


def container_keys(events: pd.DataFrame) -> np.ndarray:
    """Per event, the id of the original declaration of its container (amendments point to it)."""
    ids = events["event_id"].astype(object)
    if "amends_event_id" not in events.columns:
        return ids.to_numpy()
    parent = events["amends_event_id"].astype(object)
    key = parent.where(parent.notna(), ids)
    lookup = pd.Series(key.to_numpy(), index=ids.to_numpy())
    for _ in range(8):  # amendments of amendments: follow the chain to its original
        resolved = lookup.reindex(key.to_numpy()).to_numpy()
        resolved = np.where(pd.isna(resolved), key.to_numpy(), resolved)
        if np.array_equal(resolved, key.to_numpy()):
            break
        key = pd.Series(resolved, index=key.index)
    return key.to_numpy()


def labels(history: History, known_before: datetime) -> Labels:
    """What inspections carried out before ``known_before`` say about each event.

    An inspection examines the container, so its result labels every declaration of that container
    filed before the inspection — an amendment as much as the original.
    """
    events = history.events
    known = history.outcomes[history.outcomes["inspected_at"] < known_before]
    keys = container_keys(events)
    by_id = pd.Series(keys, index=events["event_id"].to_numpy())
    outcome_keys = by_id.reindex(known["event_id"].to_numpy())
    if outcome_keys.isna().any():
        raise DataError("outcomes refer to event ids that are not in the history")
    result = pd.DataFrame({
        "key": outcome_keys.to_numpy(), "drugs": (known["result"] == "drugs").to_numpy(),
        "selection": known["selection"].astype(object).fillna("").to_numpy(),
        "inspected_at": known["inspected_at"].reset_index(drop=True),
    }).drop_duplicates("key", keep="first").set_index("key")
    matched = result.reindex(keys)
    filed = events["event_time"].reset_index(drop=True)
    inspected = (filed < matched["inspected_at"].reset_index(drop=True)).to_numpy(dtype=bool)  # NaT: False
    drugs = inspected & matched["drugs"].fillna(False).to_numpy(dtype=bool)
    selection = np.where(inspected, matched["selection"].fillna("").to_numpy(dtype=object), "")
    counts = pd.Series(keys[inspected]).value_counts()
    declarations = np.where(inspected, pd.Series(keys).map(counts).fillna(0).to_numpy(), 0).astype(np.int64)
    return Labels(inspected, drugs, selection, declarations)


def period_mask(history: History, start: datetime, end: datetime) -> np.ndarray:
    """Events filed in ``[start, end)``."""
    times = history.events["event_time"]
    return ((times >= start) & (times < end)).to_numpy()
