"""Origin and commodity features: where the goods come from, what they are, and whether the paperwork fits.

Rip-on/rip-off containers carry clean paperwork, so origin, commodity and container type carry most of
their signal (cocaine source countries, perishables in reefers). Misdeclared or front-company shipments
show in weights and values that do not fit the HS code's norm and in reefers used for goods that need
no cooling.
"""

from __future__ import annotations

import math

from features.event import NAN, container_feet, is_reefer
from features.tables import ReferenceTables

ORIGIN_NAMES: tuple[str, ...] = (
    "is_air",
    "is_reefer",
    "container_feet",
    "origin_source_region",
    "origin_country_risk",
    "origin_port_risk",
    "origin_port_volume_log",
    "hs_chapter_risk",
    "hs_heading_risk",
    "lane_commodity_risk",
    "hs_novel",
    "hs_reefer_share",
    "reefer_mismatch",
    "weight_z",
    "value_per_kg_log",
    "value_per_kg_z",
)

_MIN_SD = 0.05  # floor for a norm's spread: an HS code shipped at one exact weight must not divide by ~0

# What origin_static returns: the reefer flag (NaN if unknown); the first 13 :data:`ORIGIN_NAMES` values
# (everything but the weight and value features); the HS norm as (mean log weight, its floored spread,
# mean log value per kg, its floored spread), or None when the code has no trusted norm.
Norm = tuple[float, float, float, float]
OriginStatic = tuple[float, tuple[float, ...], Norm | None]


def origin_static(
    tables: ReferenceTables,
    source_countries: frozenset[str],
    mode: str | None,
    container_type: str | None,
    origin_country: str | None,
    port_of_loading: str | None,
    levels: tuple[str, str, str] | None,
) -> OriginStatic:
    """The origin values that depend only on the event's mode, container type, port and HS code.

    Together with :func:`weight_value_features` they make the :data:`ORIGIN_NAMES` values. They are a
    pure function of those few fields and the tables, so the pipeline computes them once per
    combination rather than once per event.
    """
    enc = tables.encodings
    prior = tables.prior
    reefer = is_reefer(mode, container_type)
    if origin_country:
        source = float(origin_country in source_countries)
        country_risk = enc["origin_country"].get(origin_country, prior)
    else:
        source = country_risk = NAN
    if port_of_loading:
        port_risk = enc["origin_port"].get(port_of_loading, prior)
        port_volume = math.log1p(tables.volumes["origin_port"].get(port_of_loading, 0))
    else:
        port_risk = port_volume = NAN

    chapter_risk = heading_risk = lane_risk = novel = reefer_share = mismatch = NAN
    norm: Norm | None = None
    if levels is not None:
        hs6, hs4, hs2 = levels
        chapter_risk = enc["hs_chapter"].get(hs2, prior)
        heading_risk = enc["hs_heading"].get(hs4, prior)
        if origin_country:
            lane_risk = enc["lane_commodity"].get(f"{origin_country}|{hs2}", prior)
        novel = float(hs6 not in tables.volumes["hs6"])
        hs_norm = tables.hs_norm(hs6, hs4, hs2)
        if hs_norm is not None:
            mean_w, sd_w, mean_v, sd_v, reefer_share = hs_norm
            norm = (mean_w, max(sd_w, _MIN_SD), mean_v, max(sd_v, _MIN_SD))
            mismatch = reefer * (1.0 - reefer_share)
    values = (
        NAN if mode is None else float(mode == "air"),
        reefer,
        container_feet(mode, container_type),
        source,
        country_risk,
        port_risk,
        port_volume,
        chapter_risk,
        heading_risk,
        lane_risk,
        novel,
        reefer_share,
        mismatch,
    )
    return reefer, values, norm


def weight_value_features(norm: Norm | None, weight: float, value: float) -> tuple[float, float, float]:
    """The last three :data:`ORIGIN_NAMES` values: weight z-score, log value per kg and its z-score.

    ``norm`` comes from :func:`origin_static`; ``weight`` and ``value`` are NaN when missing.
    """
    log_weight = math.log(weight) if weight > 0.0 else NAN  # NaN weight compares False: stays NaN
    vpk_log = math.log1p(value) - log_weight if value >= 0.0 else NAN
    if norm is None:
        return NAN, vpk_log, NAN
    mean_w, sd_w, mean_v, sd_v = norm
    return (log_weight - mean_w) / sd_w, vpk_log, (vpk_log - mean_v) / sd_v
