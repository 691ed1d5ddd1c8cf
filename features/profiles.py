"""Risk-profile features: the combinations customs analysts target, and the record of the vessel.

- A route with a commodity (``route|HS chapter``): a smuggling method is a way of moving a kind of cargo
  along a particular path (dry ores or cocoa from the west coast via a new European hub, fruit via a
  Caribbean transshipment). Neither the route's nor the commodity's rate alone shows a method that is
  rare on the route and rare for the commodity; their smoothed finding rate together does.
- The vessel: rip-on/rip-off loads are put aboard by insiders at the terminals a liner service calls at
  and taken off by crews and dock workers who are in on it; the shipper's paperwork is clean (DOMAIN.md).
  What does show is persistent: the same services and vessels carry such loads again. So the vessel's
  smoothed drug-finding rate among inspected containers, and how much traffic it has brought (a vessel
  never seen has no record, which says something too). Air cargo and histories that do not map a
  vessel have none: NaN.

Rates come from the model's reference tables (:mod:`features.tables`), like the origin and route rates.
Both parts are pure functions of a few event fields and the tables, so the pipeline memoises them.
"""

from __future__ import annotations

import math

from features.event import NAN
from features.tables import ReferenceTables

PROFILE_NAMES: tuple[str, ...] = ("route_commodity_risk", "vessel_risk", "vessel_volume_log")


def route_commodity_key(route: str, hs2: str) -> str:
    """The table key of a route and an HS chapter (the same function builds and reads the table)."""
    return f"{route}|{hs2}"


def route_commodity_risk(tables: ReferenceTables, route: str | None, hs2: str | None) -> float:
    """The ``route_commodity_risk`` value: NaN when the route or the chapter is unknown."""
    if route is None or hs2 is None:
        return NAN
    return tables.encodings["route_commodity"].get(route_commodity_key(route, hs2), tables.prior)


def vessel_values(tables: ReferenceTables, vessel_imo: str | None) -> tuple[float, float]:
    """The ``vessel_risk`` and ``vessel_volume_log`` values; NaN for no vessel (None or empty)."""
    if not vessel_imo:
        return NAN, NAN
    return (tables.encodings["vessel"].get(vessel_imo, tables.prior),
            math.log1p(tables.volumes["vessel"].get(vessel_imo, 0)))
