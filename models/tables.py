"""Building the reference tables from a window of labelled history (see :mod:`features.tables`).

Only what was known at the window's end goes in: events filed inside the window, and the outcomes of
inspections carried out before it closed. Keys come from the same functions the feature code uses
(:mod:`features.event`), so a key written here is the key looked up per event.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.event import country, hs_levels, hubs_key, lane_key, party, route_key
from features.rows import event_rows
from features.tables import ENCODINGS, HsNorm, PartyProfile, ReferenceTables
from portrisk.errors import DataError


def _short(x: float) -> float:
    """Six significant digits: tables stay small, and the model trains on the rounded values anyway."""
    return float(f"{x:.6g}")


class _Encoder:
    """Accumulates per-key inspection counts for one smoothed target encoding."""

    __slots__ = ("drugs", "inspected", "seen")

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.inspected: dict[str, int] = defaultdict(int)
        self.drugs: dict[str, int] = defaultdict(int)

    def add(self, key: str | None, inspected: bool, drug: bool) -> None:
        if key is None:
            return
        self.seen.add(key)
        if inspected:
            self.inspected[key] += 1
            self.drugs[key] += drug

    def rates(self, prior: float, m: float) -> dict[str, float]:
        return {k: _short((self.drugs.get(k, 0) + m * prior) / (self.inspected.get(k, 0) + m))
                for k in sorted(self.seen)}


def _hs_norms(events: pd.DataFrame, min_count: int) -> dict[str, HsNorm]:
    """Mean and spread of log weight and log value per kg, and the reefer share, per HS6/HS4/HS2 code."""
    from features.event import is_reefer

    weight = pd.to_numeric(events["gross_weight_kg"], errors="coerce")
    value = pd.to_numeric(events["declared_value_eur"], errors="coerce")
    frame = pd.DataFrame({
        "hs": events["hs_code"].astype(object),
        "log_w": np.log(weight.where(weight > 0)),
        "reefer": [is_reefer(m, c) for m, c in zip(events["transport_mode"], events["container_type"],
                                                     strict=True)],
    })
    frame["log_vpk"] = np.log1p(value.where(value >= 0)) - frame["log_w"]
    frame = frame[frame["hs"].notna()]
    norms: dict[str, HsNorm] = {}
    for length in (6, 4, 2):
        grouped = frame.groupby(frame["hs"].str[:length])
        stats = grouped.agg(n=("log_w", "count"), mw=("log_w", "mean"), sw=("log_w", "std"),
                            mv=("log_vpk", "mean"), sv=("log_vpk", "std"), rf=("reefer", "mean"))
        for code, row in stats[stats["n"] >= min_count].iterrows():
            values = (row.mw, row.sw, row.mv, row.sv, row.rf)
            if all(math.isfinite(v) for v in values):
                norms[str(code)] = (_short(row.mw), _short(row.sw), _short(row.mv), _short(row.sv),
                                    _short(row.rf))
    return norms


def build_tables(
    events: pd.DataFrame,
    outcomes: pd.DataFrame,
    config: FeatureConfig,
    window_start: datetime,
    window_end: datetime,
) -> ReferenceTables:
    """Tables from events filed in ``[window_start, window_end)`` and outcomes inspected before its end.

    ``events`` has (a subset of) the ManifestEvent columns; ``outcomes`` needs ``event_id``,
    ``inspected_at`` and ``result``. The positive label is a drug finding. Raises DataError when the
    window holds no event or no inspection.
    """
    times = events["event_time"]
    window = events[(times >= window_start) & (times < window_end)]
    known = outcomes[outcomes["inspected_at"] < window_end]
    if window.empty:
        raise DataError(f"no events between {window_start} and {window_end} to build reference tables from")
    results = dict(zip(known["event_id"], known["result"], strict=True))
    inspected = np.fromiter((e in results for e in window["event_id"]), dtype=bool, count=len(window))
    drugs = np.fromiter((results.get(e) == "drugs" for e in window["event_id"]), dtype=bool, count=len(window))
    if not inspected.any():
        raise DataError("the reference window holds no inspected event: no finding rates can be built")
    prior = float(drugs.sum() / inspected.sum())
    m = config.smoothing

    names = list(ENCODINGS) + [f"extra_{e.key}" for e in config.extras if e.kind == "categorical"]
    encoders = {name: _Encoder() for name in names}
    roles = {role.name: _Encoder() for role in config.party_roles}
    first_seen: dict[str, dict[str, float]] = {role.name: {} for role in config.party_roles}
    volume: dict[str, dict[str, int]] = {role.name: defaultdict(int) for role in config.party_roles}
    port_volume: dict[str, int] = defaultdict(int)
    hs6_volume: dict[str, int] = defaultdict(int)
    lane_routes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    for row, insp, drug in zip(event_rows(window), inspected.tolist(), drugs.tolist(), strict=True):
        pol = row.port_of_loading or None
        origin = country(pol)
        levels = hs_levels(row.hs_code)
        ports = row.transshipment_ports
        hubs = None if ports is None else tuple(ports)
        hubs_text = hubs_key(hubs)
        encoders["origin_country"].add(origin, insp, drug)
        encoders["origin_port"].add(pol, insp, drug)
        if levels is not None:
            hs6_volume[levels[0]] += 1
            encoders["hs_heading"].add(levels[1], insp, drug)
            encoders["hs_chapter"].add(levels[2], insp, drug)
            encoders["lane_commodity"].add(f"{origin}|{levels[2]}" if origin else None, insp, drug)
        encoders["route"].add(route_key(pol, hubs_text, row.mainport), insp, drug)
        for hub in hubs or ():
            encoders["hub"].add(hub, insp, drug)
        if pol:
            port_volume[pol] += 1
            lane = lane_key(pol, row.mainport)
            if lane is not None and hubs_text is not None:
                lane_routes[lane][hubs_text] += 1
        for extra in config.extras:
            if extra.kind == "categorical" and row.extras:
                value = row.extras.get(extra.key)
                encoders[f"extra_{extra.key}"].add(None if value in (None, "") else str(value), insp, drug)
        for role in config.party_roles:
            pid = party(row, role.field)
            if pid is not None:
                roles[role.name].add(pid, insp, drug)
                volume[role.name][pid] += 1
                seen = first_seen[role.name]
                if pid not in seen or row.event_time < seen[pid]:
                    seen[pid] = row.event_time

    parties: dict[str, dict[str, PartyProfile]] = {}
    for role in config.party_roles:
        rates = roles[role.name].rates(prior, m)
        parties[role.name] = {pid: (first_seen[role.name][pid], volume[role.name][pid], rate)
                              for pid, rate in rates.items()}
    return ReferenceTables(
        config=config,
        prior=_short(prior),
        window_start=window_start.isoformat(),
        window_end=window_end.isoformat(),
        encodings={name: enc.rates(prior, m) for name, enc in encoders.items()},
        volumes={"origin_port": dict(sorted(port_volume.items())), "hs6": dict(sorted(hs6_volume.items()))},
        hs_norms=_hs_norms(window, config.min_norm_count),
        lane_routes={lane: dict(sorted(r.items())) for lane, r in sorted(lane_routes.items())},
        parties=parties,
        summary={"events": len(window), "inspected": int(inspected.sum()), "drug_findings": int(drugs.sum())},
    )


def infer_extras(extras: Iterable[object], limit: int = 32) -> list[tuple[str, str]]:
    """(key, 'numeric' | 'categorical') for every key found in a column of extras dicts (sorted by key).

    A key is numeric when every value it takes is a number; an administration states kinds explicitly in
    its import mapping (issue 7) — this serves data sets that carry extras without saying what they are.
    """
    kinds: dict[str, str] = {}
    for item in extras:
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if kinds.get(key) != "categorical":
                kinds[key] = "numeric" if numeric else "categorical"
    return sorted(kinds.items())[:limit]

