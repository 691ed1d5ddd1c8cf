"""How a container travels: routings through transshipment hubs, liner services and flights, and the
identifiers they carry (container and ULD numbers, bills of lading, air waybills, IMO numbers, voyages).

Liner services call weekly at each mainport on a fixed weekday and hour, rotating their vessels, so all
containers on one call share vessel, voyage and ETA — as in a real stowage. Flights are daily.

Hidden exposure to rip-on/rip-off is that of the service — the terminals it loads and discharges at,
where insiders work (log-normal, ``SERVICE_SIGMA``) — times that of the vessel's crew (``CREW_SIGMA``).
Both persist across calls: a vessel's or a lane's inspection record carries them, as it does in reality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.identifiers import awb_numbers_array, container_ids_array, imo_number, zero_pad
from models.world.arrivals import DAY_S
from models.world.catalogue import (
    AIRLINES,
    CARRIERS,
    FEEDER_HUBS,
    FEEDER_SHARE,
    HUB_RISK,
    LESSOR_OWNERS,
    ORIGINS,
    REGION_ROUTES,
    ULD_TYPES_DRY,
    ULD_TYPES_REEFER,
    VOYAGE_DIRECTION,
)
from models.world.parties import SERVICES_PER_ORIGIN

WEEK_S = 7 * DAY_S
VESSELS_PER_SERVICE = 4
HUBS: tuple[str, ...] = tuple(sorted({h for routes in REGION_ROUTES.values() for r, _ in routes for h in r}
                                     | set(HUB_RISK) | {"PTSIE"}))
HUB_CODE = {h: i for i, h in enumerate(HUBS)}
NO_HUB = -1
SLOTS = 3  # at most three transshipments: up to two on the lane plus a feeder
SERVICE_SIGMA, CREW_SIGMA = 0.6, 0.3
EXPOSURE_SIGMA = float(np.hypot(SERVICE_SIGMA, CREW_SIGMA))  # of the product, a log-normal too


def route_slots(region: np.ndarray, option: np.ndarray) -> np.ndarray:
    """Hub codes (n, SLOTS), NO_HUB-padded, of route ``option`` of each event's ``region``."""
    slots = np.full((region.size, SLOTS), NO_HUB, dtype=np.int64)
    for name, options in REGION_ROUTES.items():
        in_region = region == name
        for k, (hubs, _) in enumerate(options):
            rows = np.flatnonzero(in_region & (option == k))
            for j, hub in enumerate(hubs):
                slots[rows, j] = HUB_CODE[hub]
    return slots


def finish_routes(slots: np.ndarray, origin: np.ndarray, port_ids: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Drop hubs equal to the origin, add North Sea feeders for small ports; return route ids + table."""
    origin_code = np.array([HUB_CODE.get(o.locode, -2) for o in ORIGINS])[origin]
    slots = np.where(slots == origin_code[:, None], NO_HUB, slots)
    feeder_p = np.array([FEEDER_SHARE.get(p, 0.0) for p in port_ids])
    feeder = np.where(rng.random(origin.size) < 0.7, HUB_CODE[FEEDER_HUBS[0]], HUB_CODE[FEEDER_HUBS[1]])
    slots[:, SLOTS - 1] = np.where(rng.random(origin.size) < feeder_p, feeder, NO_HUB)
    key = ((slots[:, 0] + 1) * (len(HUBS) + 1) + slots[:, 1] + 1) * (len(HUBS) + 1) + slots[:, 2] + 1
    unique_keys, route_id = np.unique(key, return_inverse=True)
    table = []
    for k in unique_keys:
        codes = (k // (len(HUBS) + 1) ** 2 - 1, k // (len(HUBS) + 1) % (len(HUBS) + 1) - 1,
                 k % (len(HUBS) + 1) - 1)
        table.append(tuple(HUBS[c] for c in codes if c != NO_HUB))
    return route_id, table


@dataclass(frozen=True)
class Fleet:
    """Per (origin, service): the carrier or airline, vessel IMOs, weekly/daily phase, voyage numbering."""

    operator: np.ndarray  # (origins, services): index into CARRIERS (sea) or AIRLINES (air)
    imo: np.ndarray  # (origins, services, VESSELS_PER_SERVICE) IMO numbers as strings
    phase_s: np.ndarray  # (origins, services): offset of the call within the week (sea) / day (air)
    voyage_base: np.ndarray  # (origins, services)
    vessel_risk: np.ndarray  # hidden: (origins, services, VESSELS_PER_SERVICE) terminal x crew exposure


def make_fleet(rng: np.random.Generator) -> Fleet:
    """Services for every origin: three per origin, four vessels each (sea) or one flight (air)."""
    shape = (len(ORIGINS), SERVICES_PER_ORIGIN)
    is_air = np.array([o.mode == "air" for o in ORIGINS])[:, None]
    operator = np.where(is_air, rng.integers(0, len(AIRLINES), shape), rng.integers(0, len(CARRIERS), shape))
    stems = rng.choice(np.arange(900_000, 999_999), size=shape[0] * shape[1] * VESSELS_PER_SERVICE, replace=False)
    imo = np.array([imo_number(int(s)) for s in stems]).reshape(*shape, VESSELS_PER_SERVICE)
    phase = np.where(is_air, rng.uniform(0, DAY_S, shape), rng.uniform(0, WEEK_S, shape))
    service_risk = rng.lognormal(0.0, SERVICE_SIGMA, shape)
    crew_risk = rng.lognormal(0.0, CREW_SIGMA, (*shape, VESSELS_PER_SERVICE))
    return Fleet(operator=operator, imo=imo, phase_s=np.floor(phase), voyage_base=rng.integers(0, 1000, shape),
                 vessel_risk=service_risk[..., None] * crew_risk)


def schedule(fleet: Fleet, origin: np.ndarray, service: np.ndarray, port: np.ndarray, t: np.ndarray,
             is_air: np.ndarray) -> dict[str, np.ndarray]:
    """ETA (seconds), vessel IMO, voyage or flight number, operator and hidden vessel risk per event.

    The ETA is the service's next call at the port at least a day (air: two hours) after filing.
    """
    period = np.where(is_air, DAY_S, WEEK_S)
    lead = np.where(is_air, 2 * 3600, DAY_S)
    phase = fleet.phase_s[origin, service] + port * 5 * 3600  # each port on the rotation a bit later
    call = np.ceil((t + lead - phase) / period).astype(np.int64)
    eta = phase + call * period
    vessel = call % VESSELS_PER_SERVICE
    operator = fleet.operator[origin, service]
    direction = np.array([VOYAGE_DIRECTION.get(o.region, "N") for o in ORIGINS])[origin]
    number = (fleet.voyage_base[origin, service] + call) % 1000
    sea_voyage = np.char.add(zero_pad(number, 3), direction)
    airline_code = np.array([a[0] for a in AIRLINES])[np.where(is_air, operator, 0)]
    flight = np.char.add(airline_code, zero_pad(fleet.voyage_base[origin, service] + 100, 4))
    return {
        "eta_s": eta.astype(np.float64),
        "vessel_imo": np.where(is_air, "", fleet.imo[origin, service, vessel]),  # "": none (air)
        "voyage": np.where(is_air, flight, sea_voyage),
        "operator": operator,
        "vessel_risk": fleet.vessel_risk[origin, service, vessel],
    }


def _unique_serials(groups: np.ndarray, space: int, rng: np.random.Generator) -> np.ndarray:
    """Serials below ``space``, distinct within each group while the group fits (reuse beyond that)."""
    serials = np.empty(groups.size, dtype=np.int64)
    for g in np.unique(groups):
        where = np.flatnonzero(groups == g)
        serials[where] = rng.choice(space, size=where.size, replace=where.size > space // 2)
    return serials


def container_numbers(is_air: np.ndarray, reefer: np.ndarray, operator: np.ndarray,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Container (ISO 6346) or ULD id, and the ISO size/type or ULD type code, per event."""
    n = is_air.size
    carrier_owner = np.array([c[1] for c in CARRIERS])[np.where(is_air, 0, operator)]
    lessor = np.array(LESSOR_OWNERS)[rng.integers(0, len(LESSOR_OWNERS), n)]
    owner = np.where(rng.random(n) < 0.7, carrier_owner, lessor)
    reefer_type = np.where(rng.random(n) < 0.85, "45R1", "22R1")
    dry_type = np.array(["45G1", "42G1", "22G1", "42G1"])[rng.integers(0, 4, n)]
    sea_type = np.where(reefer, reefer_type, dry_type)
    uld_type = np.where(reefer, np.array(ULD_TYPES_REEFER)[rng.integers(0, len(ULD_TYPES_REEFER), n)],
                        np.array(ULD_TYPES_DRY)[rng.integers(0, len(ULD_TYPES_DRY), n)])
    ids = np.empty(n, dtype="U11")
    sea = np.flatnonzero(~is_air)
    ids[sea] = container_ids_array(owner[sea], _unique_serials(owner[sea], 1_000_000, rng))
    air = np.flatnonzero(is_air)
    if air.size:
        airline = np.array([a[0] for a in AIRLINES])[operator[air]]
        serial = zero_pad(_unique_serials(operator[air], 100_000, rng), 5)
        ids[air] = np.char.add(np.char.add(uld_type[air], serial), airline)
    return ids, np.where(is_air, uld_type, sea_type)


def bill_numbers(is_air: np.ndarray, operator: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bill of lading (carrier SCAC + 10 digits) or air waybill (airline prefix + serial + check digit)."""
    n = is_air.size
    scac = np.array([c[0] for c in CARRIERS])[np.where(is_air, 0, operator)]
    sea = np.char.add(scac, rng.integers(1_000_000_000, 9_999_999_999, n).astype("U10"))
    prefixes = np.array([a[1] for a in AIRLINES])[np.where(is_air, operator, 0)]
    air = awb_numbers_array(prefixes, rng.integers(0, 10_000_000, n))
    return np.where(is_air, air, sea)
