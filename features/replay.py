"""Offline replay: history in event-time order through the pipeline, outcomes folded in when inspected.

This is how training sets, evaluation sets and a worker's initial state are made: the same
:class:`features.pipeline.FeaturePipeline` the worker runs, fed the past one event at a time. An
outcome inspected at time ``u`` is folded in before every event with ``event_time > u``; on a tie the
event comes first, so an event never sees the result of an inspection at its own instant.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np

from features.event import EventLike, OutcomeLike, epoch_seconds
from features.pipeline import FeaturePipeline, RowBuffer
from features.state import StateStore
from portrisk.errors import DataError


def replay(
    pipeline: FeaturePipeline,
    events: Iterable[EventLike],
    outcomes: Iterable[OutcomeLike],
    store: StateStore,
    fold_trailing: bool = False,
) -> np.ndarray:
    """Feature vectors of ``events`` (float32 [n, n_features], in input order), updating ``store``.

    Both inputs must be sorted by time (``event_time``, ``inspected_at``); DataError otherwise, since an
    unsorted history would let features see the future. ``fold_trailing`` also folds the outcomes left
    after the last event (a state being brought up to date, or one chunk of a longer replay).
    """
    with _cycle_collector_paused():
        return _replay(pipeline, events, outcomes, store, fold_trailing)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees everything at once).

    A replay allocates container objects for every event and keeps many of them (shipper states, memos),
    so the collector would run every few hundred events, its full collections walking the whole heap of
    states kept so far: a tenth of the replay's time, to find nothing, since feature code makes no
    reference cycles. The collector is process-wide: it is paused only for the replay, then restored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _replay(
    pipeline: FeaturePipeline,
    events: Iterable[EventLike],
    outcomes: Iterable[OutcomeLike],
    store: StateStore,
    fold_trailing: bool,
) -> np.ndarray:
    buffer = RowBuffer(pipeline.n_features)
    pending = iter(outcomes)
    outcome = next(pending, None)
    due = epoch_seconds(outcome.inspected_at) if outcome is not None else float("inf")
    last_event = last_outcome = float("-inf")
    for index, event in enumerate(events):
        t = epoch_seconds(event.event_time)
        if t < last_event:
            raise DataError(f"replay: event {index} is earlier than the one before it; sort by event_time")
        last_event = t
        while outcome is not None and due < t:
            if due < last_outcome:
                raise DataError("replay: outcomes are not sorted by inspected_at")
            last_outcome = due
            pipeline.apply_outcome(outcome, store)
            outcome = next(pending, None)
            due = epoch_seconds(outcome.inspected_at) if outcome is not None else float("inf")
        pipeline.process_into(event, store, buffer.row, t)
        buffer.commit()
    while fold_trailing and outcome is not None:
        pipeline.apply_outcome(outcome, store)
        outcome = next(pending, None)
    return buffer.result()
