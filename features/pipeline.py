"""The feature pipeline: one incremental implementation for the worker and for offline replay.

For each manifest event the pipeline reads the shipper's state *before* the event, computes the feature
vector from that state, the event and the reference tables, then folds the event into the state. The
training set is made by replaying history in event-time order through this same code
(:func:`features.replay.replay`), so a feature value never depends on anything after its event and a
model sees in training exactly what the worker computes live.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from features.event import (
    EventLike,
    OutcomeLike,
    country,
    epoch_seconds,
    hs_levels,
    hubs_key,
    lane_key,
    number,
    route_key,
)
from features.history import HISTORY_NAMES, country_code, fold_outcome, history_features, stable_hash, update_history
from features.origin import ORIGIN_NAMES, origin_features
from features.parties import PartyFeatures, party_names
from features.reason_texts import reason_texts
from features.route import ROUTE_NAMES, route_features
from features.state import PartyState, StateStore
from features.tables import ReferenceTables, load_tables

_CHUNK_ROWS = 4096  # replay converts rows to float32 in chunks: bounded memory, few numpy calls


class FeaturePipeline:
    """Feature vectors for manifest events, from per-shipper state and the model's reference tables.

    ``names`` is the model's input order. Vectors are float32 with NaN for a missing value.
    """

    def __init__(self, tables: ReferenceTables) -> None:
        """Build the pipeline for the feature configuration held in ``tables``."""
        config = tables.config
        self.tables = tables
        self.config = config
        self.names: tuple[str, ...] = ORIGIN_NAMES + ROUTE_NAMES + HISTORY_NAMES + party_names(config)
        self._sources = frozenset(config.source_countries)
        self._hub_countries = frozenset(config.source_countries + config.transit_countries)
        self._parties = PartyFeatures(tables)
        self._caps = (config.max_consignees, config.max_routes, config.max_origins, config.max_hs_codes,
                      config.max_recent)

    @classmethod
    def from_model_dir(cls, model_dir: str | Path) -> FeaturePipeline:
        """The pipeline for the model in ``model_dir``, built from the reference tables stored beside it.

        Raises DataError when the tables file is missing or unreadable. The caller checks the model's
        feature hash against :attr:`names` (``ScoringSession.load(model_dir, pipeline.names)``).
        """
        return cls(load_tables(model_dir))

    def reason_texts(self) -> dict[str, str]:
        """A reason-text template for every feature (for :class:`scoring.reasons.ReasonExplainer`)."""
        return reason_texts(self.names, self.config)

    @property
    def n_features(self) -> int:
        """Length of every feature vector."""
        return len(self.names)

    def process(self, event: EventLike, store: StateStore) -> np.ndarray:
        """Features of ``event`` from the state before it; then the state is updated and put back."""
        row: list[float] = []
        self._row(event, store, row, update=True)
        return np.array(row, dtype=np.float32)

    def features_only(self, event: EventLike, store: StateStore) -> np.ndarray:
        """Features of ``event`` as if it arrived now, leaving the state untouched (what-if scoring)."""
        row: list[float] = []
        self._row(event, store, row, update=False)
        return np.array(row, dtype=np.float32)

    def process_many(self, events: Iterable[EventLike], store: StateStore) -> np.ndarray:
        """:meth:`process` for each event in order; float32 [n, n_features]."""
        buffer = RowBuffer(self.n_features)
        for event in events:
            self._row(event, store, buffer.row, update=True)
            buffer.commit()
        return buffer.result()

    def apply_outcome(self, outcome: OutcomeLike, store: StateStore) -> None:
        """Fold an inspection outcome into its shipper's state (a shipper not yet seen gets a state)."""
        state = store.get(outcome.shipper_id)
        if state is None:
            state = PartyState()
        fold_outcome(state, epoch_seconds(outcome.inspected_at), outcome.result)
        store.put(outcome.shipper_id, state)

    def process_into(self, event: EventLike, store: StateStore, row: list[float]) -> None:
        """:meth:`process`, appending the values to ``row`` (the allocation-free form replay uses)."""
        self._row(event, store, row, update=True)

    def _row(self, event: EventLike, store: StateStore, out: list[float], update: bool) -> None:
        t = epoch_seconds(event.event_time)
        mainport = event.mainport
        pol = event.port_of_loading or None
        origin = country(pol)
        levels = hs_levels(event.hs_code)
        ports = event.transshipment_ports
        hubs = None if ports is None else tuple(ports)
        hubs_text = hubs_key(hubs)
        route = route_key(pol, hubs_text, mainport)
        amendment = event.is_amendment
        reefer = origin_features(
            self.tables, self._sources, event.transport_mode, event.container_type, origin, pol, levels,
            number(event.gross_weight_kg), number(event.declared_value_eur), out,
        )
        route_features(
            self.tables, self._hub_countries, hubs, hubs_text, lane_key(pol, mainport), route, t,
            epoch_seconds(event.eta), amendment, out,
        )

        key = event.shipper_id
        state = store.get(key)
        consignee_id = event.consignee_id
        if levels is not None and levels[0].isdigit():
            chapter, hs6 = int(levels[2]), int(levels[0])
        else:
            chapter = hs6 = -1
        keys = (
            chapter,
            hs6,
            stable_hash(consignee_id) if consignee_id else -1,
            stable_hash(route) if route is not None else -1,
            country_code(origin) if origin else -1,
        )
        amends_id = event.amends_event_id
        history_features(state, t, keys, stable_hash(amends_id) if amends_id else -1, out)
        self._parties.compute(event, t, out)

        if update:
            if state is None:
                state = PartyState()
            update_history(state, t, keys, bool(amendment), reefer == 1.0, self._caps, stable_hash(event.event_id))
            store.put(key, state)


class RowBuffer:
    """Collects feature rows as Python floats and converts them to float32 in chunks."""

    __slots__ = ("_chunks", "_flat", "_n_features", "_rows", "row")

    def __init__(self, n_features: int) -> None:
        """An empty buffer for rows of ``n_features`` values."""
        self._n_features = n_features
        self._flat = array("d")
        self._chunks: list[np.ndarray] = []
        self._rows = 0
        self.row: list[float] = []  # the row being filled; commit() moves it into the buffer

    def commit(self) -> None:
        """Move the filled row into the buffer."""
        if len(self.row) != self._n_features:
            raise RuntimeError(f"feature row has {len(self.row)} values, expected {self._n_features}")
        self._flat.extend(self.row)
        self.row.clear()
        self._rows += 1
        if self._rows == _CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            chunk = np.frombuffer(self._flat, dtype=np.float64).reshape(self._rows, self._n_features)
            self._chunks.append(chunk.astype(np.float32))
            self._flat = array("d")
            self._rows = 0

    def result(self) -> np.ndarray:
        """All committed rows, float32 [n, n_features]."""
        self._flush()
        if not self._chunks:
            return np.empty((0, self._n_features), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(self._chunks))

