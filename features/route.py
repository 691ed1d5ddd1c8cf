"""Route and timing features: transshipment, how usual the route is for its lane, and amendment timing.

Cocaine is often transshipped through hubs in the source region; front companies use routes their lane
rarely sees; late amendments (hours before arrival) are a classic sign that someone is steering which
container gets looked at. Rip-off teams need quiet terminals, so the arrival hour and weekday count too
(UTC: the model learns the offset; per-event time-zone arithmetic is not worth its cost).
"""

from __future__ import annotations

import math

from features.event import NAN, SECONDS_PER_DAY, SECONDS_PER_HOUR
from features.tables import ReferenceTables

ROUTE_NAMES: tuple[str, ...] = (
    "transship_count",
    "transship_source_region",
    "transship_hub_risk",
    "route_risk",
    "lane_volume_log",
    "lane_route_share",
    "lane_route_novel",
    "lane_route_is_usual",
    "lane_route_age_days",
    "filing_lead_hours",
    "is_amendment",
    "amendment_lead_hours",
    "eta_hour_utc",
    "eta_weekend",
)


# What route_static returns: the first 8 :data:`ROUTE_NAMES` values, and when the event's route was first
# seen on its lane (POSIX s; None for a route the lane never had, whose age is 0; NaN when the age is
# undefined, which NaN arithmetic carries through).
RouteStatic = tuple[tuple[float, ...], float | None]


def route_static(
    tables: ReferenceTables,
    hub_countries: frozenset[str],
    hubs: tuple[str, ...] | None,
    hubs_text: str | None,
    lane: str | None,
    route: str | None,
) -> RouteStatic:
    """The route values that depend only on the event's lane and transshipment sequence.

    ``hub_countries`` are the source and transit countries; ``hubs`` is the transshipment sequence
    (None when unknown), ``hubs_text`` its key, ``lane`` and ``route`` the keys from
    :mod:`features.event`. With :func:`timing_features` they make the :data:`ROUTE_NAMES` values; being
    a pure function of a few fields, the pipeline computes them once per combination.
    """
    enc = tables.encodings
    prior = tables.prior
    if hubs is None:
        count = via_source = hub_risk = NAN
    else:
        count = float(len(hubs))
        via_source = float(any(h[:2] in hub_countries for h in hubs))
        hub_codes = enc["hub"]
        hub_risk = max((hub_codes.get(h, prior) for h in hubs), default=NAN)  # NaN: a direct voyage
    route_risk = enc["route"].get(route, prior) if route is not None else NAN

    lane_volume = share = novel = usual = NAN
    first: float | None = NAN
    if lane is not None:
        total = tables.lane_totals.get(lane, 0)
        lane_volume = math.log1p(total)
        if total and hubs_text is not None:
            seen = tables.lane_routes[lane].get(hubs_text, 0)
            share = seen / total
            novel = float(seen == 0)
            usual = float(tables.lane_modes[lane] == hubs_text)
            first = tables.route_first_seen[lane].get(hubs_text)
    return (count, via_source, hub_risk, route_risk, lane_volume, share, novel, usual), first


def timing_features(first: float | None, t: float, eta: float, amendment: bool | None) -> tuple[float, ...]:
    """The last 6 :data:`ROUTE_NAMES` values, from the event's time ``t`` and ``eta`` (POSIX s, NaN when
    unknown), the route's first-seen time from :func:`route_static` and ``amendment`` (None when unknown)."""
    age = 0.0 if first is None else max(t - first, 0.0) / SECONDS_PER_DAY
    lead = (eta - t) / SECONDS_PER_HOUR  # NaN when the ETA is unknown
    if amendment is None:
        is_amend = amend_lead = NAN
    else:
        is_amend = float(amendment)
        amend_lead = lead if amendment else NAN
    if eta == eta:
        days = eta / SECONDS_PER_DAY
        whole_days = math.floor(days)
        hour = (days - whole_days) * 24.0
        weekend = float((whole_days + 3) % 7 >= 5)  # 1970-01-01 was a Thursday (Monday = 0)
    else:
        hour = weekend = NAN
    return age, lead, is_amend, amend_lead, hour, weekend
