"""Shipper history: features read from a :class:`PartyState` before an event, and the update after it.

Front companies are new, have few shipments, ship a commodity or use a route for the first time, amend
late and declare weights or values that do not fit the commodity — a front's record shows such misfits
shipment after shipment, where an established shipper's hardly ever does. A legitimate shipper's
container misused for rip-on/rip-off has a long, clean record, so record length and the shipper's
inspection history matter in both directions.

Distinct counts come from capped sets: beyond the cap a set stops growing and counts what it could not
hold, so a distinct count is exact up to the cap and an upper bound above it, and "new consignee" is
exact up to the cap. Velocities are exponentially decayed counts (time constants of 7 and 30 days),
which need two floats instead of a window of timestamps.
"""

from __future__ import annotations

import math
import zlib

from features.event import NAN, SECONDS_PER_DAY
from features.state import PartyState

TAU_7D = 7 * SECONDS_PER_DAY
TAU_30D = 30 * SECONDS_PER_DAY
# A declaration misfits its commodity when its weight or its value per kg lies this many standard
# deviations of the commodity's norm (reference tables) from the norm's mean or further. In the simulator a
# misstated weight is 0.3-0.55x or 1.45-1.8x the usual one and an undervalued declaration 0.1-0.35x the
# value, against a usual spread of 5-10 % in weight and 25 % in value per kg (models/world/manifests.py).
MISFIT_Z = 2.5

HISTORY_NAMES: tuple[str, ...] = (
    "shipper_shipments",
    "shipper_age_days",
    "shipper_days_since_last",
    "shipper_velocity_7d",
    "shipper_velocity_30d",
    "shipper_distinct_hs_chapters",
    "shipper_distinct_hs_codes",
    "shipper_distinct_consignees",
    "shipper_distinct_routes",
    "shipper_distinct_origins",
    "shipper_new_hs_chapter",
    "shipper_new_hs_code",
    "shipper_new_consignee",
    "shipper_new_route",
    "shipper_new_origin",
    "shipper_route_share",
    "shipper_top_route_share",
    "shipper_amendment_rate",
    "shipper_reefer_share",
    "shipper_misfit_share",
    "shipper_inspections",
    "shipper_drug_findings",
    "shipper_other_findings",
    "shipper_finding_rate",
    "shipper_days_since_finding",
    "amendment_consignee_changed",
)

# An event's history keys: HS chapter number, HS6 code as a number, consignee hash, route hash and
# origin country code (:func:`country_code`); -1 where the event does not carry the item.
Keys = tuple[int, int, int, int, int]


def stable_hash(text: str) -> int:
    """A 32-bit hash that is the same in every process (Python's ``hash`` of a str is salted)."""
    return zlib.crc32(text.encode("utf-8"))


def country_code(country: str) -> int:
    """A two-letter country as a 16-bit number."""
    return (ord(country[0]) << 8) | ord(country[1])


def _new(key: int) -> float:
    return NAN if key < 0 else 1.0


def history_features(s: PartyState | None, t: float, keys: Keys, amends: int, out: list[float]) -> None:
    """Append the :data:`HISTORY_NAMES` values for an event at ``t`` to ``out``, from the state before it.

    ``amends`` is the hash of the declaration an amendment amends (-1 for an original declaration).
    """
    chapter, hs6, consignee, route, origin = keys
    if s is None or s.n == 0:
        # A first shipment: every item is new to the shipper; shares and ages are undefined.
        out.extend((0.0, NAN, NAN, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, _new(chapter), _new(hs6), _new(consignee),
                    _new(route), _new(origin), NAN, NAN, NAN, NAN, NAN))
        out.extend(_inspection_features(s, t))
        out.append(NAN)
        return
    n = s.n
    dt = t - s.last_seen
    dt = dt if dt > 0.0 else 0.0  # out-of-order events across ports: never "grow" a decayed count
    routes = s.routes
    route_count = routes.get(route, 0) if route >= 0 else -1
    out.extend((
        float(n),
        (t - s.first_seen) / SECONDS_PER_DAY,
        dt / SECONDS_PER_DAY,
        s.v7 * math.exp(-dt / TAU_7D),
        s.v30 * math.exp(-dt / TAU_30D),
        float(s.chapters.bit_count()),
        float(len(s.hs_codes) + s.hs_overflow),
        float(len(s.consignees) + s.consignee_overflow),
        float(len(routes)),
        float(len(s.origins) + s.origin_overflow),
        NAN if chapter < 0 else float(not (s.chapters >> chapter) & 1),
        NAN if hs6 < 0 else float(hs6 not in s.hs_codes),
        NAN if consignee < 0 else float(consignee not in s.consignees),
        NAN if route < 0 else float(route_count == 0),
        NAN if origin < 0 else float(origin not in s.origins),
        NAN if route < 0 else route_count / n,
        max(routes.values()) / n if routes else NAN,
        s.n_amend / n,
        s.n_reefer / n,
        s.n_misfit / s.n_checked if s.n_checked else NAN,
    ))
    out.extend(_inspection_features(s, t))
    # Fronts switch the consignee in a late amendment once they know the container was not selected.
    amended = s.recent.get(amends) if amends >= 0 else None
    out.append(NAN if amended is None or consignee < 0 else float(amended != consignee))


def _inspection_features(s: PartyState | None, t: float) -> tuple[float, ...]:
    if s is None or s.n_inspected == 0:
        return (0.0, 0.0, 0.0, NAN, NAN)
    last = s.last_finding
    return (
        float(s.n_inspected),
        float(s.n_drugs),
        float(s.n_other),
        (s.n_drugs + s.n_other) / s.n_inspected,
        NAN if math.isnan(last) else max(t - last, 0.0) / SECONDS_PER_DAY,
    )


def misfit(weight_z: float, value_z: float) -> bool | None:
    """Whether a declaration's weight or value per kg misfits its commodity (:data:`MISFIT_Z`).

    None when neither can be checked (no norm for the commodity, or neither declared).
    """
    checked = None
    for z in (weight_z, value_z):
        if z == z:  # not NaN
            if abs(z) >= MISFIT_Z:
                return True
            checked = False
    return checked


def update_history(
    s: PartyState, t: float, keys: Keys, amendment: bool, reefer: bool, caps: tuple[int, int, int, int, int],
    declaration: int, misfits: bool | None,
) -> None:
    """Fold an event at ``t`` into the shipper's state (after its features were computed).

    ``caps`` bounds the consignee, route, origin, HS-code and recent-declaration collections;
    ``misfits`` is :func:`misfit` of the event's declaration (None when it could not be checked);
    ``declaration`` is the hash of the event's id (remembered so that its amendments can refer to it).
    """
    chapter, hs6, consignee, route, origin = keys
    max_consignees, max_routes, max_origins, max_hs, max_recent = caps
    if s.n == 0:
        s.first_seen = t
        s.last_seen = t
        s.v7 = s.v30 = 1.0
    else:
        dt = t - s.last_seen
        if dt > 0.0:
            s.v7 = s.v7 * math.exp(-dt / TAU_7D) + 1.0
            s.v30 = s.v30 * math.exp(-dt / TAU_30D) + 1.0
            s.last_seen = t
        else:
            s.v7 += 1.0
            s.v30 += 1.0
        if t < s.first_seen:
            s.first_seen = t
    s.n += 1
    s.n_amend += amendment
    s.n_reefer += reefer
    if misfits is not None:
        s.n_checked += 1
        s.n_misfit += misfits
    if chapter >= 0:
        s.chapters |= 1 << chapter
    if hs6 >= 0 and hs6 not in s.hs_codes:
        if len(s.hs_codes) < max_hs:
            s.hs_codes.add(hs6)
        else:
            s.hs_overflow += 1
    if consignee >= 0 and consignee not in s.consignees:
        if len(s.consignees) < max_consignees:
            s.consignees.add(consignee)
        else:
            s.consignee_overflow += 1
    if origin >= 0 and origin not in s.origins:
        if len(s.origins) < max_origins:
            s.origins.add(origin)
        else:
            s.origin_overflow += 1
    if route >= 0:
        _count_route(s.routes, route, max_routes)
    if declaration >= 0 and consignee >= 0:
        recent = s.recent
        recent.pop(declaration, None)  # re-inserted last: insertion order is age order
        recent[declaration] = consignee
        if len(recent) > max_recent:
            del recent[next(iter(recent))]


def _count_route(routes: dict[int, int], route: int, cap: int) -> None:
    """Space-saving heavy hitters: a full table replaces its smallest entry, which then inherits its count.

    Frequent routes keep accurate counts; a shipper's usual route is never evicted by occasional ones.
    """
    count = routes.get(route)
    if count is not None:
        routes[route] = count + 1
    elif len(routes) < cap:
        routes[route] = 1
    else:
        victim = min(routes, key=routes.__getitem__)  # first of the smallest: deterministic
        floor = routes.pop(victim)
        routes[route] = floor + 1


def fold_outcome(s: PartyState, inspected_at: float, result: str) -> None:
    """Fold an inspection result (``no_finding``, ``drugs`` or ``other_irregularity``) into the state."""
    s.n_inspected += 1
    if result == "no_finding":
        return
    if result == "drugs":
        s.n_drugs += 1
    else:
        s.n_other += 1
    if not s.last_finding >= inspected_at:  # also true while last_finding is NaN
        s.last_finding = inspected_at
