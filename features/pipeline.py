"""The feature pipeline: one incremental implementation for the worker and for offline replay.

For each manifest event the pipeline reads the shipper's state *before* the event, computes the feature
vector from that state, the event and the reference tables, then folds the event into the state. The
training set is made by replaying history in event-time order through this same code
(:func:`features.replay.replay`), so a feature value never depends on anything after its event and a
model sees in training exactly what the worker computes live.
"""

from __future__ import annotations

import struct
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
    is_reefer,
    lane_key,
    number,
    route_key,
)
from features.history import (
    HISTORY_NAMES,
    country_code,
    fold_outcome,
    history_features,
    misfit,
    stable_hash,
    update_history,
)
from features.memo import remember
from features.origin import ORIGIN_NAMES, Norm, origin_static, weight_value_features
from features.parties import PartyFeatures, party_names
from features.profiles import PROFILE_NAMES, route_commodity_risk, vessel_values
from features.reason_texts import reason_texts
from features.route import ROUTE_NAMES, route_static, timing_features
from features.segments import SEGMENT_NAMES, segment_codes, segment_keys
from features.state import PartyState, StateStore
from features.tables import ReferenceTables, load_tables

_CHUNK_ROWS = 4096  # replay converts rows to float32 in chunks: bounded memory, few numpy calls

# What the pipeline memoises per combination of an event's transport mode, container type, port of
# loading and HS code: the reefer flag, the origin values before the weight/value ones, the HS norm, and
# the history keys HS chapter, HS6 and origin country code.
_Origin = tuple[float, tuple[float, ...], Norm | None, int, int, int]
# ... and per port of loading, transshipment ports and mainport: the route values before the timing ones,
# when the route was first seen on its lane, and the route's history key.
_Route = tuple[tuple[float, ...], float | None, int]
# ... and per port of loading, transshipment ports, HS code, transport mode and container type: the segment codes.
_SegmentKey = tuple[str | None, tuple[str, ...] | None, str | None, str | None, str | None]


class FeaturePipeline:
    """Feature vectors for manifest events, from per-shipper state and the model's reference tables.

    ``names`` is the model's input order. Vectors are float32 with NaN for a missing value.

    Most origin and route values, and the history keys, are a pure function of a few fields of the event
    and of the (frozen) tables, and few combinations of those fields recur all day: the pipeline computes
    them once per combination and memoises them (bounded), so per event only the values that involve its
    time, weight, value, parties and shipper history are computed.
    """

    def __init__(self, tables: ReferenceTables) -> None:
        """Build the pipeline for the feature configuration held in ``tables``."""
        config = tables.config
        self.tables = tables
        self.config = config
        self.names: tuple[str, ...] = (ORIGIN_NAMES + ROUTE_NAMES + PROFILE_NAMES + HISTORY_NAMES
                                       + party_names(config) + (SEGMENT_NAMES if config.segment_codes else ()))
        self._sources = frozenset(config.source_countries)
        self._hub_countries = frozenset(config.source_countries + config.transit_countries)
        self._parties = PartyFeatures(tables)
        self._caps = (config.max_consignees, config.max_routes, config.max_origins, config.max_hs_codes,
                      config.max_recent)
        self._origins: dict[tuple[str | None, ...], _Origin] = {}
        self._routes: dict[tuple[str | None, tuple[str, ...] | None, str], _Route] = {}
        self._hashes: dict[str, int] = {}  # consignee id -> stable_hash
        # (port of loading, transshipment ports, mainport, HS code) -> route_commodity_risk
        self._route_commodity: dict[tuple[str | None, tuple[str, ...] | None, str, str | None], float] = {}
        self._vessels: dict[str | None, tuple[float, float]] = {}  # vessel IMO -> vessel values
        # (port of loading, transshipment ports, HS code, transport mode, container type) -> segment codes,
        # when configured
        self._segments: dict[_SegmentKey, tuple[float, ...]] | None = {} if config.segment_codes else None

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
        self._row(event, epoch_seconds(event.event_time), store, row, True)
        return np.array(row, dtype=np.float32)

    def features_only(self, event: EventLike, store: StateStore) -> np.ndarray:
        """Features of ``event`` as if it arrived now, leaving the state untouched (what-if scoring)."""
        row: list[float] = []
        self._row(event, epoch_seconds(event.event_time), store, row, False)
        return np.array(row, dtype=np.float32)

    def process_many(self, events: Iterable[EventLike], store: StateStore) -> np.ndarray:
        """:meth:`process` for each event in order; float32 [n, n_features]."""
        buffer = RowBuffer(self.n_features)
        for event in events:
            self._row(event, epoch_seconds(event.event_time), store, buffer.row, True)
            buffer.commit()
        return buffer.result()

    def apply_outcome(self, outcome: OutcomeLike, store: StateStore) -> None:
        """Fold an inspection outcome into its shipper's state (a shipper not yet seen gets a state)."""
        state = store.get(outcome.shipper_id)
        if state is None:
            state = PartyState()
        fold_outcome(state, epoch_seconds(outcome.inspected_at), outcome.result)
        store.put(outcome.shipper_id, state)

    def process_into(self, event: EventLike, store: StateStore, row: list[float], t: float | None = None) -> None:
        """:meth:`process`, appending the values to ``row`` (the allocation-free form replay uses).

        ``t`` is the event's time in POSIX seconds when the caller has it already.
        """
        self._row(event, epoch_seconds(event.event_time) if t is None else t, store, row, True)

    def _row(self, event: EventLike, t: float, store: StateStore, out: list[float], update: bool) -> None:
        pol = event.port_of_loading
        hs_code = event.hs_code
        origin = self._origins.get((event.transport_mode, event.container_type, pol, hs_code))
        if origin is None:
            origin = self._origin_parts(event.transport_mode, event.container_type, pol, hs_code)
        reefer, origin_values, norm, chapter, hs6, origin_code = origin
        ports = event.transshipment_ports
        hubs = None if ports is None else tuple(ports)
        mainport = event.mainport
        route = self._routes.get((pol, hubs, mainport))
        if route is None:
            route = self._route_parts(pol, hubs, mainport)
        route_values, first_seen, route_hash = route

        out.extend(origin_values)
        weight_z, value_log, value_z = weight_value_features(norm, number(event.gross_weight_kg),
                                                             number(event.declared_value_eur))
        out.extend((weight_z, value_log, value_z))
        out.extend(route_values)
        amendment = event.is_amendment
        out.extend(timing_features(first_seen, t, epoch_seconds(event.eta), amendment))
        profile_key = (pol, hubs, mainport, hs_code)
        risk = self._route_commodity.get(profile_key)
        if risk is None:
            risk = remember(self._route_commodity, profile_key, self._route_commodity_risk(*profile_key))
        out.append(risk)
        vessel = event.vessel_imo
        vessel_parts = self._vessels.get(vessel)
        if vessel_parts is None:
            vessel_parts = remember(self._vessels, vessel, vessel_values(self.tables, vessel))
        out.extend(vessel_parts)

        shipper = event.shipper_id
        state = store.get(shipper)
        consignee_id = event.consignee_id
        if consignee_id:
            consignee = self._hashes.get(consignee_id)
            if consignee is None:
                consignee = remember(self._hashes, consignee_id, stable_hash(consignee_id))
        else:
            consignee = -1
        keys = (chapter, hs6, consignee, route_hash, origin_code)
        amends_id = event.amends_event_id
        history_features(state, t, keys, stable_hash(amends_id) if amends_id else -1, out)
        self._parties.compute(event, t, out)
        segments = self._segments
        if segments is not None:
            segment_key = (pol, hubs, hs_code, event.transport_mode, event.container_type)
            codes = segments.get(segment_key)
            if codes is None:
                codes = remember(segments, segment_key, self._segment_codes(*segment_key))
            out.extend(codes)

        if update:
            if state is None:
                state = PartyState()
            update_history(state, t, keys, bool(amendment), reefer == 1.0, self._caps, stable_hash(event.event_id),
                           misfit(weight_z, value_z))
            store.put(shipper, state)

    def _origin_parts(self, mode: str | None, container_type: str | None, port_of_loading: str | None,
                      hs_code: str | None) -> _Origin:
        """The memoised origin parts of an event (see :data:`_Origin`)."""
        pol = port_of_loading or None
        origin = country(pol)
        levels = hs_levels(hs_code)
        reefer, values, norm = origin_static(self.tables, self._sources, mode, container_type, origin, pol, levels)
        if levels is not None and levels[0].isdigit():
            chapter, hs6 = int(levels[2]), int(levels[0])
        else:
            chapter = hs6 = -1
        parts = (reefer, values, norm, chapter, hs6, country_code(origin) if origin else -1)
        return remember(self._origins, (mode, container_type, port_of_loading, hs_code), parts)

    def _route_commodity_risk(self, port_of_loading: str | None, hubs: tuple[str, ...] | None, mainport: str,
                              hs_code: str | None) -> float:
        """The route-and-commodity rate of an event (memoised by the caller)."""
        pol = port_of_loading or None
        levels = hs_levels(hs_code)
        return route_commodity_risk(self.tables, route_key(pol, hubs_key(hubs), mainport),
                                    None if levels is None else levels[2])

    def _segment_codes(self, port_of_loading: str | None, hubs: tuple[str, ...] | None, hs_code: str | None,
                       mode: str | None, container_type: str | None) -> tuple[float, ...]:
        """The segment codes of an event (memoised by the caller)."""
        levels = hs_levels(hs_code)
        keys = segment_keys(port_of_loading, hubs_key(hubs), None if levels is None else levels[2],
                            is_reefer(mode, container_type))
        return segment_codes(self.tables, keys)

    def _route_parts(self, port_of_loading: str | None, hubs: tuple[str, ...] | None, mainport: str) -> _Route:
        """The memoised route parts of an event (see :data:`_Route`)."""
        pol = port_of_loading or None
        hubs_text = hubs_key(hubs)
        route = route_key(pol, hubs_text, mainport)
        values, first_seen = route_static(self.tables, self._hub_countries, hubs, hubs_text, lane_key(pol, mainport),
                                          route)
        parts = (values, first_seen, stable_hash(route) if route is not None else -1)
        return remember(self._routes, (port_of_loading, hubs, mainport), parts)


class RowBuffer:
    """Collects feature rows as Python floats and converts them to float32 in chunks."""

    __slots__ = ("_chunk", "_chunks", "_n_features", "_pack", "_rows", "row")

    def __init__(self, n_features: int) -> None:
        """An empty buffer for rows of ``n_features`` values."""
        self._n_features = n_features
        self._pack = struct.Struct(f"{n_features}d").pack_into
        self._chunk = bytearray(8 * _CHUNK_ROWS * n_features)  # float64 rows, packed as they come
        self._chunks: list[np.ndarray] = []
        self._rows = 0
        self.row: list[float] = []  # the row being filled; commit() moves it into the buffer

    def commit(self) -> None:
        """Move the filled row into the buffer."""
        row = self.row
        if len(row) != self._n_features:
            raise RuntimeError(f"feature row has {len(row)} values, expected {self._n_features}")
        # Packing each row as it comes (float64, exactly the Python floats) lets its float objects be
        # freed and reused at once, which is cheaper than keeping a chunk of them alive and converting.
        self._pack(self._chunk, self._rows * self._n_features * 8, *row)
        row.clear()
        self._rows += 1
        if self._rows == _CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            packed = np.frombuffer(self._chunk, dtype=np.float64, count=self._rows * self._n_features)
            self._chunks.append(packed.reshape(self._rows, self._n_features).astype(np.float32))
            self._rows = 0

    def result(self) -> np.ndarray:
        """All committed rows, float32 [n, n_features]."""
        self._flush()
        if not self._chunks:
            return np.empty((0, self._n_features), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(self._chunks))
