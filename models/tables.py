"""Building the reference tables from labelled history (see :mod:`features.tables`).

Only what was known at a table's cut-off goes in: events filed before it, and the outcomes of
inspections carried out before it. :class:`TableBuilder` is incremental — feed it events and outcomes
in time order and take a :meth:`TableBuilder.snapshot` whenever a table version is due — so the
point-in-time tables of every day of a long history cost one pass. Keys come from the same functions
the feature code uses (:mod:`features.event`), so a key written here is the key looked up per event.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

import pandas as pd

from features.config import FeatureConfig
from features.event import EventLike, country, hs_levels, hubs_key, is_reefer, lane_key, number, party, route_key
from features.profiles import route_commodity_key
from features.rows import event_rows, outcome_rows
from features.segments import SEGMENT_KINDS, segment_keys
from features.tables import ENCODINGS, HsNorm, PartyProfile, ReferenceTables
from portrisk.errors import DataError

# (encoding or role, key) pairs an event contributes to finding rates.
Keys = list[tuple[str, str]]


def _short(x: float) -> float:
    """Six significant digits: tables stay small, and the model trains on the rounded values anyway."""
    return float(f"{x:.6g}")


class _Moments:
    """Running count, sums and sums of squares of log weight and log value per kg, and reefer count."""

    __slots__ = ("n", "reefer", "sv", "sv2", "sw", "sw2")

    def __init__(self) -> None:
        self.n = 0
        self.sw = self.sw2 = self.sv = self.sv2 = self.reefer = 0.0

    def norm(self) -> HsNorm | None:
        if self.n < 2:
            return None
        n = self.n
        mean_w, mean_v = self.sw / n, self.sv / n
        sd_w = math.sqrt(max(self.sw2 - n * mean_w * mean_w, 0.0) / (n - 1))
        sd_v = math.sqrt(max(self.sv2 - n * mean_v * mean_v, 0.0) / (n - 1))
        return (_short(mean_w), _short(sd_w), _short(mean_v), _short(sd_v), _short(self.reefer / n))


class TableBuilder:
    """Accumulates events and outcomes; :meth:`snapshot` gives the tables as of the latest input."""

    def __init__(self, config: FeatureConfig, labelled_ids: Iterable[str] = ()) -> None:
        """``labelled_ids``: the event ids that outcomes will refer to (only their keys are remembered)."""
        self.config = config
        self._wanted = set(labelled_ids)
        self._keys: dict[str, Keys] = {}
        names = list(ENCODINGS) + [f"extra_{e.key}" for e in config.extras if e.kind == "categorical"]
        self._seen: dict[str, set[str]] = {name: set() for name in names}
        self._inspected: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._drugs: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._first_seen: dict[str, dict[str, float]] = {r.name: {} for r in config.party_roles}
        self._volume: dict[str, dict[str, int]] = {r.name: defaultdict(int) for r in config.party_roles}
        self._port_volume: dict[str, int] = defaultdict(int)
        self._hs6_volume: dict[str, int] = defaultdict(int)
        self._vessel_volume: dict[str, int] = defaultdict(int)
        self._lane_routes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._route_first: dict[str, dict[str, float]] = defaultdict(dict)
        self._moments: dict[str, _Moments] = defaultdict(_Moments)
        self._n_events = self._n_inspected = self._n_drugs = 0
        self._start = math.inf
        # Segment vocabularies (config.segment_codes): append-only, so a key keeps its code in every version.
        self._codes: dict[str, dict[str, int]] = {kind: {} for kind in SEGMENT_KINDS} if config.segment_codes else {}

    def add_event(self, row: EventLike, event_id: str, t: float) -> None:
        """Count one event filed at ``t`` (POSIX seconds)."""
        self._n_events += 1
        self._start = min(self._start, t)
        keys: Keys = []
        pol = row.port_of_loading or None
        origin = country(pol)
        levels = hs_levels(row.hs_code)
        ports = row.transshipment_ports
        hubs_text = hubs_key(None if ports is None else tuple(ports))
        keys += [("origin_country", origin), ("origin_port", pol)] if origin and pol else []
        if levels is not None:
            hs6, hs4, hs2 = levels
            self._hs6_volume[hs6] += 1
            keys += [("hs_heading", hs4), ("hs_chapter", hs2)]
            if origin:
                keys.append(("lane_commodity", f"{origin}|{hs2}"))
            self._add_moments(row, levels)
        route = route_key(pol, hubs_text, row.mainport)
        if route is not None:
            keys.append(("route", route))
            if levels is not None:
                keys.append(("route_commodity", route_commodity_key(route, levels[2])))
        keys += [("hub", hub) for hub in (ports if ports is not None else ())]
        vessel = row.vessel_imo or None
        if vessel is not None:
            keys.append(("vessel", vessel))
            self._vessel_volume[vessel] += 1
        if pol:
            self._port_volume[pol] += 1
            lane = lane_key(pol, row.mainport)
            if lane is not None and hubs_text is not None:
                self._lane_routes[lane][hubs_text] += 1
                first = self._route_first[lane]
                if hubs_text not in first or t < first[hubs_text]:
                    first[hubs_text] = t
        if self._codes:
            chapter = levels[2] if levels is not None else None
            reefer = is_reefer(row.transport_mode, row.container_type)
            for kind, key in zip(SEGMENT_KINDS, segment_keys(pol, hubs_text, chapter, reefer), strict=True):
                vocabulary = self._codes[kind]
                if key is not None and key not in vocabulary:
                    vocabulary[key] = len(vocabulary)
        extras = row.extras
        for extra in self.config.extras:
            value = extras.get(extra.key) if extras else None
            if extra.kind == "categorical" and value not in (None, ""):
                keys.append((f"extra_{extra.key}", str(value)))
        for name, key in keys:
            self._seen[name].add(key)
        for role in self.config.party_roles:
            pid = party(row, role.field)
            if pid is not None:
                keys.append((f"party:{role.name}", pid))
                self._volume[role.name][pid] += 1
                seen = self._first_seen[role.name]
                if pid not in seen or t < seen[pid]:
                    seen[pid] = t
        if event_id in self._wanted:
            self._keys[event_id] = keys

    def _add_moments(self, row: EventLike, levels: tuple[str, str, str]) -> None:
        weight, value = number(row.gross_weight_kg), number(row.declared_value_eur)
        if not weight > 0.0:
            return
        log_w = math.log(weight)
        log_v = math.log1p(value) - log_w if value >= 0.0 else math.nan
        reefer = is_reefer(row.transport_mode, row.container_type)
        if math.isnan(log_v) or math.isnan(reefer):
            return
        for code in levels:
            m = self._moments[code]
            m.n += 1
            m.sw += log_w
            m.sw2 += log_w * log_w
            m.sv += log_v
            m.sv2 += log_v * log_v
            m.reefer += reefer

    def add_outcome(self, event_id: str, result: str) -> None:
        """Count one inspection of an event already added (others are ignored: not in the window)."""
        keys = self._keys.get(event_id)
        if keys is None:
            return
        drug = result == "drugs"
        self._n_inspected += 1
        self._n_drugs += drug
        for name, key in keys:
            self._inspected[name][key] += 1
            self._drugs[name][key] += drug

    def snapshot(self, window_end: datetime) -> ReferenceTables:
        """The tables as of now (everything added so far); DataError before the first inspection."""
        if not self._n_inspected:
            raise DataError("no inspected event before the tables' cut-off: no finding rates can be built")
        prior = self._n_drugs / self._n_inspected
        m = self.config.smoothing

        def rates(name: str, keys: Iterable[str]) -> dict[str, float]:
            insp, drugs = self._inspected.get(name, {}), self._drugs.get(name, {})
            return {k: _short((drugs.get(k, 0) + m * prior) / (insp.get(k, 0) + m)) for k in sorted(keys)}

        parties: dict[str, dict[str, PartyProfile]] = {}
        for role in self.config.party_roles:
            seen, volume = self._first_seen[role.name], self._volume[role.name]
            role_rates = rates(f"party:{role.name}", seen)
            parties[role.name] = {pid: (seen[pid], volume[pid], role_rates[pid]) for pid in role_rates}
        norms = {}
        for code, moments in sorted(self._moments.items()):
            norm = moments.norm() if moments.n >= self.config.min_norm_count else None
            if norm is not None:
                norms[code] = norm
        start = datetime.fromtimestamp(self._start, UTC) if self._n_events else window_end
        return ReferenceTables(
            config=self.config,
            prior=_short(prior),
            window_start=start.isoformat(),
            window_end=window_end.isoformat(),
            encodings={name: rates(name, keys) for name, keys in self._seen.items()},
            volumes={"origin_port": dict(sorted(self._port_volume.items())),
                     "hs6": dict(sorted(self._hs6_volume.items())),
                     "vessel": dict(sorted(self._vessel_volume.items()))},
            hs_norms=norms,
            lane_routes={lane: dict(sorted(r.items())) for lane, r in sorted(self._lane_routes.items())},
            route_first_seen={lane: dict(sorted(r.items())) for lane, r in sorted(self._route_first.items())},
            parties=parties,
            summary={"events": self._n_events, "inspected": self._n_inspected, "drug_findings": self._n_drugs},
            codes={kind: dict(keys) for kind, keys in self._codes.items()},
        )


def build_tables(events: pd.DataFrame, outcomes: pd.DataFrame, config: FeatureConfig, window_start: datetime,
                 window_end: datetime) -> ReferenceTables:
    """Tables from events filed in ``[window_start, window_end)`` and outcomes inspected before its end.

    ``events`` and ``outcomes`` are DataFrames with (a subset of) the contract's columns (outcomes need
    ``event_id``, ``inspected_at`` and ``result``). The positive label is a drug finding.
    """
    times = events["event_time"]
    window = events[(times >= window_start) & (times < window_end)]
    if window.empty:
        raise DataError(f"no events between {window_start} and {window_end} to build reference tables from")
    known = outcomes[outcomes["inspected_at"] < window_end]
    builder = TableBuilder(config, known["event_id"])
    for row in event_rows(window):
        builder.add_event(row, row.event_id, row.event_time)
    for outcome in outcome_rows(known):
        builder.add_outcome(outcome.event_id, outcome.result)
    return builder.snapshot(window_end)

