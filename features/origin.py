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


def origin_features(
    tables: ReferenceTables,
    source_countries: frozenset[str],
    mode: str | None,
    container_type: str | None,
    origin_country: str | None,
    port_of_loading: str | None,
    levels: tuple[str, str, str] | None,
    weight: float,
    value: float,
    out: list[float],
) -> float:
    """Append the :data:`ORIGIN_NAMES` values to ``out``; returns the reefer flag (NaN if unknown)."""
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
    weight_z = vpk_z = NAN
    log_weight = math.log(weight) if weight > 0.0 else NAN  # NaN weight compares False: stays NaN
    vpk_log = math.log1p(value) - log_weight if value >= 0.0 else NAN
    if levels is not None:
        hs6, hs4, hs2 = levels
        chapter_risk = enc["hs_chapter"].get(hs2, prior)
        heading_risk = enc["hs_heading"].get(hs4, prior)
        if origin_country:
            lane_risk = enc["lane_commodity"].get(f"{origin_country}|{hs2}", prior)
        novel = float(hs6 not in tables.volumes["hs6"])
        norm = tables.hs_norm(hs6, hs4, hs2)
        if norm is not None:
            mean_w, sd_w, mean_v, sd_v, reefer_share = norm
            weight_z = (log_weight - mean_w) / max(sd_w, _MIN_SD)
            vpk_z = (vpk_log - mean_v) / max(sd_v, _MIN_SD)
            mismatch = reefer * (1.0 - reefer_share)
    out.extend((
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
        weight_z,
        vpk_log,
        vpk_z,
    ))
    return reefer
