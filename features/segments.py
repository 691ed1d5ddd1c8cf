"""The segment of a container as categorical codes: the pattern analysts write rules on.

A segment is a port of loading, a routing (the transshipment hubs), an HS chapter and reefer or dry
cargo, e.g. ``ECGYE>PTSIE|09|dry``. Its finding rate as a feature (``route_commodity_risk``) is computed
point-in-time, so for most training rows of a route that appeared weeks before the cut-off it sat near
the prior, and trees learn little from it. As categories — codes the trees split on by the rows' own
labels — each segment's effect is learnt from every label it has, on top of what the other features
explain (README, "Where the gap to the targets is").

Besides its parts (port of loading, routing, HS chapter) a segment has a coarser whole: its route and
cargo without the commodity, e.g. ``ECGYE>PTSIE|dry`` (``segment_route_cargo_code``). A new route's
dry and reefer cargo carry different methods (DOMAIN.md: drift), and the route-and-cargo cell gathers
the labels of every commodity on it, so it is learnt weeks before its commodity segments
(docs/model-findings.md).

Codes come from a vocabulary in the reference tables, appended in the order keys were first seen, so a
key keeps its code in every later tables version (training rows of different days agree) and a key
never seen gets NaN (LightGBM's missing category). Codes are non-negative integers, as the ONNX export
and the parity gate expect (:mod:`models.parity`).
"""

from __future__ import annotations

import math

from features.tables import ReferenceTables

# (kind of key in ReferenceTables.codes, feature name), in feature order.
SEGMENT_CODES: tuple[tuple[str, str], ...] = (
    ("port_of_loading", "segment_port_of_loading_code"),
    ("routing", "segment_routing_code"),
    ("hs_chapter", "segment_hs_chapter_code"),
    ("segment", "segment_code"),
    ("route_cargo", "segment_route_cargo_code"),
)
SEGMENT_KINDS = tuple(kind for kind, _ in SEGMENT_CODES)
SEGMENT_NAMES = tuple(name for _, name in SEGMENT_CODES)


def segment_keys(port_of_loading: str | None, hubs_text: str | None, hs2: str | None,
                 reefer: float) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """The keys of an event in the order of :data:`SEGMENT_KINDS` (None where a part is unknown).

    ``hubs_text`` is :func:`features.event.hubs_key` ('' for a direct voyage), ``hs2`` the HS chapter
    and ``reefer`` :func:`features.event.is_reefer` (NaN when unknown).
    """
    pol = port_of_loading or None
    cargo = "unknown" if math.isnan(reefer) else ("reefer" if reefer == 1.0 else "dry")
    route = f"{pol}>{hubs_text}" if pol and hubs_text is not None else None
    whole = f"{route}|{hs2}|{cargo}" if route and hs2 else None
    return pol, hubs_text, hs2, whole, None if route is None else f"{route}|{cargo}"


def segment_codes(tables: ReferenceTables, keys: tuple[str | None, ...]) -> tuple[float, ...]:
    """The codes of ``keys`` (from :func:`segment_keys`) in the tables' vocabulary; NaN when unknown."""
    nan = math.nan
    values = []
    for kind, key in zip(SEGMENT_KINDS, keys, strict=True):
        code = tables.codes[kind].get(key) if key is not None else None
        values.append(nan if code is None else float(code))
    return tuple(values)
