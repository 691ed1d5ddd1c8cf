"""Drafting the declarations: who ships what, how, by which route — as columns, one row per container.

The draft keeps hidden columns next to the declared ones (a party's front role, a misdeclared weight,
the vessel's exposure); :mod:`models.world.typologies` turns them into truth and
:mod:`models.world.generator` keeps only the contract's fields for the events.
"""

from __future__ import annotations

import numpy as np

from models.world.arrivals import DAY_S, draw_arrivals
from models.world.catalogue import COMMODITIES, ORIGINS, REGION_ROUTES, commodity_mix_matrix
from models.world.config import WorldConfig
from models.world.logistics import (
    HUB_CODE,
    HUBS,
    NO_HUB,
    bill_numbers,
    container_numbers,
    finish_routes,
    make_fleet,
    route_slots,
    schedule,
)
from models.world.parties import NEVER, SERVICES_PER_ORIGIN, Parties

Draft = dict[str, np.ndarray]
MAX_WEIGHT_KG = {"sea": 35_500.0, "air": 6_500.0}
# Probability of a misdeclared weight / an undervalued declaration, by kind of shipper:
# front company, other new shipper, established shipper.
MISFIT = np.array([0.35, 0.06, 0.015])
UNDERVALUE = np.array([0.35, 0.05, 0.01])


def _object_array(items: list[tuple[str, ...]]) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array


def _assign_shippers(config: WorldConfig, parties: Parties, port: np.ndarray, day: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """A shipper for every declaration: by volume, mostly at its usual port, only while it trades."""
    shipper = np.empty(port.size, dtype=np.int64)
    modes = np.array([p.mode for p in config.ports])
    shipper_mode = np.array([ORIGINS[o].mode for o in parties.shipper_origin])
    established = parties.shipper_entry <= -NEVER
    for index, p in enumerate(config.ports):
        rows = np.flatnonzero(port == index)
        share = 1.0 / max(int((modes == p.mode).sum()), 1)
        affinity = np.where(parties.shipper_port == index, 0.85, 0.15 * share) * (shipper_mode == p.mode)
        weights = parties.shipper_weight * affinity
        shipper[rows] = rng.choice(weights.size, size=rows.size, p=weights / weights.sum())
        # Declarations falling outside a shipper's trading window go to an established shipper instead.
        idle = (day[rows] < parties.shipper_entry[shipper[rows]]) | (day[rows] > parties.shipper_exit[shipper[rows]])
        fallback = weights * established
        shipper[rows[idle]] = rng.choice(weights.size, size=int(idle.sum()), p=fallback / fallback.sum())
    return shipper


def draft_manifests(config: WorldConfig, parties: Parties, rng: np.random.Generator) -> Draft:
    """Every original declaration of the world as columns, declared fields and hidden ones."""
    port, t = draw_arrivals(config, rng)
    n = port.size
    day = t // DAY_S
    port_ids = np.array([p.id for p in config.ports])
    is_air = np.array([p.mode == "air" for p in config.ports])[port]
    shipper = _assign_shippers(config, parties, port, day, rng)
    origin = parties.shipper_origin[shipper]
    front = parties.shipper_front[shipper]
    kind = np.where(front, 0, np.where(parties.shipper_new[shipper], 1, 2))

    # Commodity: usually the shipper's own; fronts try whatever the lane carries (first shipments).
    u = rng.random(n)
    own, second = np.where(front, 0.4, 0.85), np.where(front, 0.6, 0.93)
    cum = np.cumsum(commodity_mix_matrix()[origin], axis=1)
    anything = (rng.random(n)[:, None] > cum).sum(axis=1)
    commodity = np.where(u < own, parties.shipper_commodity[shipper],
                         np.where(u < second, parties.shipper_commodity2[shipper], anything))
    novel_commodity = u >= second
    reefer = rng.random(n) < np.array([c.reefer for c in COMMODITIES])[commodity]

    # Weight and value: the commodity's norm, with misdeclarations that fronts make far more often.
    median = np.array([c.weight_kg for c in COMMODITIES])[commodity]
    sigma = np.array([c.weight_sigma for c in COMMODITIES])[commodity]
    misfit_w = rng.random(n) < MISFIT[kind]
    off = np.where(rng.random(n) < 0.5, rng.uniform(0.3, 0.55, n), rng.uniform(1.45, 1.8, n))
    weight = median * rng.lognormal(0, sigma) * np.where(misfit_w, off, 1.0)
    weight = np.clip(weight, 20, np.where(is_air, MAX_WEIGHT_KG["air"], MAX_WEIGHT_KG["sea"])).round(1)
    undervalued = rng.random(n) < UNDERVALUE[kind]
    eur_per_kg = np.array([c.eur_per_kg for c in COMMODITIES])[commodity]
    value = weight * eur_per_kg * rng.lognormal(0, 0.25, n) * np.where(undervalued, rng.uniform(0.1, 0.35, n), 1)

    # Route: the shipper's usual one, another of the lane's, or (rarely) an odd hub.
    region = np.array([o.region for o in ORIGINS])[origin]
    r = rng.random(n)
    usual_p, lane_p = np.where(front, 0.5, 0.85), np.where(front, 0.8, 0.98)
    option = parties.shipper_route[shipper].copy()
    for name, options in REGION_ROUTES.items():
        rows = np.flatnonzero((region == name) & (r >= usual_p) & (r < lane_p))
        w = np.array([wt for _, wt in options])
        option[rows] = rng.choice(w.size, size=rows.size, p=w / w.sum())
    slots = route_slots(region, option)
    odd = (r >= lane_p) & ~is_air  # odd hubs are seaports
    # Sines is kept out of the odd routes: its use from the west coast is the drift to come.
    odd_hubs = np.array([HUB_CODE[h] for h in HUBS if h not in ("NLRTM", "BEANR", "PTSIE")])
    slots[odd] = NO_HUB
    slots[odd, 0] = odd_hubs[rng.integers(0, odd_hubs.size, int(odd.sum()))]
    unusual_route = (option != parties.shipper_route[shipper]) | odd
    # Drift: from drift_day, west-coast South American cargo starts moving via Sines (a new route).
    after_drift = day >= config.effective_drift_day
    peru = origin == next(i for i, o in enumerate(ORIGINS) if o.locode == "PECLL")
    via_sines = after_drift & (region == "wsa") & (rng.random(n) < np.where(peru, 0.5, 0.1))
    slots[via_sines] = NO_HUB
    slots[via_sines, 0] = HUB_CODE["PTSIE"]
    route_id, route_table = finish_routes(slots, origin, port_ids[port], rng)

    service = np.where(rng.random(n) < 0.8, parties.shipper_service[shipper],
                       rng.integers(0, SERVICES_PER_ORIGIN, n))
    sched = schedule(make_fleet(rng), origin, service, port, t, is_air)
    container_id, container_type = container_numbers(is_air, reefer, sched["operator"], rng)

    # Other consignees are drawn among the legitimate ones: a front consignee only deals with its shipper.
    legit = parties.consignee_weight * ~parties.consignee_front
    consignee = np.where(rng.random(n) < np.where(front, 0.9, 0.75), parties.shipper_consignee[shipper],
                         rng.choice(legit.size, size=n, p=legit / legit.sum()))
    declarant = parties.consignee_declarant[consignee].copy()
    d = rng.random(n)
    declarant[d < 0.05] = rng.integers(0, parties.declarant_id.size, int((d < 0.05).sum()))
    declarant[d > 0.95] = -1
    notify = rng.random(n)
    return {
        "port": port, "t": t, "day": day, "is_air": is_air, "shipper": shipper, "origin": origin,
        "commodity": commodity, "reefer": reefer, "weight": weight, "value": value.round(2),
        "route_id": route_id, "route_table": _object_array(route_table),
        "consignee": consignee, "declarant": declarant,
        "notify": np.where(notify < 0.55, 0, np.where(notify < 0.8, 1, 2)),  # consignee, declarant, none
        "container_id": container_id, "container_type": container_type,
        "bill_of_lading": bill_numbers(is_air, sched["operator"], rng), "eta_s": sched["eta_s"],
        "vessel_imo": sched["vessel_imo"], "voyage": sched["voyage"],
        # hidden
        "front": front | parties.consignee_front[consignee], "misfit_w": misfit_w, "undervalued": undervalued,
        "novel_commodity": novel_commodity, "unusual_route": unusual_route, "via_sines": via_sines,
        "after_drift": after_drift, "vessel_risk": sched["vessel_risk"], "region": region,
        "new_shipper": parties.shipper_new[shipper],
    }
