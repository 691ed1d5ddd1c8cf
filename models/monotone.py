"""Domain knowledge as monotone constraints: features whose direction of risk is known in advance.

With a few hundred findings a year per port, a tree model learns spurious wiggles from a handful of
rows; a constraint such as "a higher past finding rate of the origin never lowers the risk" removes a
whole class of them. Only directions that public reporting and customs practice agree on are fixed;
everything else (volumes, ages, weights — where both very high and very low values are suspicious) is
left free.
"""

from __future__ import annotations

from collections.abc import Sequence

INCREASING = frozenset({
    "origin_source_region", "origin_country_risk", "origin_port_risk", "hs_chapter_risk", "hs_heading_risk",
    "lane_commodity_risk", "hs_novel", "reefer_mismatch", "transship_source_region", "transship_hub_risk",
    "route_risk", "lane_route_novel", "is_amendment", "eta_weekend",
    "shipper_new_hs_chapter", "shipper_new_hs_code", "shipper_new_consignee", "shipper_new_route",
    "shipper_new_origin", "shipper_misfit_share", "shipper_drug_findings", "shipper_finding_rate",
    "amendment_consignee_changed",
})
DECREASING = frozenset({"lane_route_share", "lane_route_is_usual", "lane_route_age_days", "shipper_route_share",
                        "amendment_lead_hours"})
# Party roles and categorical extras: never seen before, or a higher past finding rate, means more risk.
INCREASING_SUFFIXES = ("_novel", "_finding_rate", "_risk")


def direction(name: str) -> int:
    """+1 if risk never falls as the feature grows, -1 if it never rises, 0 when unconstrained."""
    if name in INCREASING:
        return 1
    if name in DECREASING:
        return -1
    if name.endswith(INCREASING_SUFFIXES):
        return 1
    return 0


def monotone_constraints(names: Sequence[str]) -> list[int]:
    """LightGBM's ``monotone_constraints`` for features ``names`` in order."""
    return [direction(name) for name in names]
