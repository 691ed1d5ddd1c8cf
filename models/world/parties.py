"""The trading parties: shippers, consignees and declarants, with heavy-tailed volumes and hidden roles.

Volumes follow a Pareto law (a few large shippers send most containers, most send a handful). Most
parties trade throughout; some enter during the period, and a small share of the new ones are front
companies: a new shipper and a new consignee set up together, active for a few weeks, mostly on the
cocaine source lanes. Whether a party is a front is hidden truth: it never reaches the events.

New parties arrive at a steady rate per day (``NEW_SHARE`` of a 30-day world's population enters over
its 90-day entry window), so a longer world has more of them — and as many fronts per day, so the
typologies keep their configured shares whatever the world's length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.identifiers import zero_pad
from models.world.catalogue import ORIGINS, REGION_ROUTES, commodity_mix_matrix
from models.world.config import WorldConfig

NEVER = 1e9  # an entry day before (or exit day after) any simulated day
PARETO_SHAPE = 1.2  # ~80 % of containers from ~20 % of shippers
CONSIGNEE_COUNTRIES = (("NL", 0.75, 9), ("BE", 0.10, 10), ("DE", 0.10, 12), ("FR", 0.03, 11), ("PL", 0.02, 10))
SERVICES_PER_ORIGIN = 3
NEW_SHARE, REFERENCE_WINDOW_DAYS = 0.18, 90.0  # new parties of a 30-day world, which enter over 90 days


@dataclass(frozen=True)
class Parties:
    """Column arrays per party kind; index = party number."""

    shipper_id: np.ndarray
    shipper_origin: np.ndarray  # index into ORIGINS
    shipper_weight: np.ndarray
    shipper_entry: np.ndarray  # day the shipper starts trading (may be negative)
    shipper_exit: np.ndarray
    shipper_front: np.ndarray  # hidden
    shipper_new: np.ndarray  # entered at most 60 days before the period (no long record)
    shipper_commodity: np.ndarray  # index into COMMODITIES: the usual commodity
    shipper_commodity2: np.ndarray
    shipper_route: np.ndarray  # index into the region's route options: the usual routing
    shipper_service: np.ndarray  # preferred liner service / airline of its origin
    shipper_port: np.ndarray  # index into config.ports: the usual mainport
    shipper_consignee: np.ndarray
    consignee_id: np.ndarray
    consignee_weight: np.ndarray
    consignee_front: np.ndarray  # hidden
    consignee_declarant: np.ndarray
    declarant_id: np.ndarray
    declarant_weight: np.ndarray


def eori_ids(countries: np.ndarray, digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distinct EORI-like ids: ISO country + a zero-padded number of ``digits`` digits."""
    ids = np.empty(countries.size, dtype="U17")
    for country in np.unique(countries):
        where = np.flatnonzero(countries == country)
        width = int(digits[where[0]])
        numbers = rng.choice(10**width, size=where.size, replace=False)
        ids[where] = np.char.add(country, zero_pad(numbers, width))
    return ids


def _pareto(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.pareto(PARETO_SHAPE, n) + 1.0


def _draw(rng: np.random.Generator, probabilities: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(probabilities.size, size=n, p=probabilities / probabilities.sum())


def make_parties(config: WorldConfig, rng: np.random.Generator) -> Parties:
    """Draw the party population for a world."""
    days = config.days
    ports = config.ports
    sea_ports = np.array([p.mode == "sea" for p in ports])
    volumes = np.array([p.containers_per_day for p in ports], dtype=float)
    origins_mode = np.array([o.mode for o in ORIGINS])
    origin_volume = np.array([o.volume for o in ORIGINS])
    source = np.array([o.source_risk >= 1.0 for o in ORIGINS])

    entry_window = (days + 60) / REFERENCE_WINDOW_DAYS  # relative to a 30-day world's
    growth = (1 - NEW_SHARE) + NEW_SHARE * entry_window
    n_sea = max(300, round(30_000 * config.scale * growth))
    n_air = max(60, round(6_000 * config.scale * growth)) if (~sea_ports).any() else 0
    n = n_sea + n_air
    is_air = np.arange(n) >= n_sea

    origin = np.empty(n, dtype=np.int64)
    for mode, mask in (("sea", ~is_air), ("air", is_air)):
        candidates = np.flatnonzero(origins_mode == mode)
        origin[mask] = candidates[_draw(rng, origin_volume[candidates], int(mask.sum()))]

    # Entry: most trade throughout; the rest appear from 60 days before the period to its end.
    new = rng.random(n) < NEW_SHARE * entry_window / growth
    entry = np.where(new, rng.uniform(-60, days, n), -NEVER)
    exit_day = np.full(n, NEVER)
    # Fronts: about one new sea shipper in seven, mostly set up on the source lanes, active 3-8 weeks.
    front = new & ~is_air & (rng.random(n) < 0.15)
    src_sea = np.flatnonzero(source & (origins_mode == "sea"))
    on_source = front & (rng.random(n) < 0.8)
    origin[on_source] = src_sea[_draw(rng, origin_volume[src_sea], int(on_source.sum()))]
    entry[front] = rng.uniform(-20, max(days - 5, 1), int(front.sum()))
    exit_day[front] = entry[front] + rng.uniform(20, 60, int(front.sum()))
    weight = _pareto(rng, n)
    weight[front] = np.minimum(weight[front], 3.0)  # fronts ship a handful of containers, not hundreds
    # Heavy tails within an origin, but each origin's total follows the catalogue's volume.
    origin_total = np.bincount(origin, weights=weight, minlength=len(ORIGINS))
    weight = weight * origin_volume[origin] / origin_total[origin]

    mix = commodity_mix_matrix()
    cum = np.cumsum(mix[origin], axis=1)
    commodity = (rng.random(n)[:, None] > cum).sum(axis=1)
    commodity2 = (rng.random(n)[:, None] > cum).sum(axis=1)
    route = np.empty(n, dtype=np.int64)
    regions = np.array([ORIGINS[o].region for o in origin])
    for region, options in REGION_ROUTES.items():
        mask = regions == region
        route[mask] = _draw(rng, np.array([w for _, w in options]), int(mask.sum()))
    service = rng.integers(0, SERVICES_PER_ORIGIN, n)

    # Usual mainport: by volume; fronts spread evenly over the sea ports (smaller ports, less scrutiny).
    port = np.empty(n, dtype=np.int64)
    sea_idx, air_idx = np.flatnonzero(sea_ports), np.flatnonzero(~sea_ports)
    port[~is_air] = sea_idx[_draw(rng, volumes[sea_idx], n_sea)]
    port[front] = sea_idx[rng.integers(0, sea_idx.size, int(front.sum()))]
    if n_air:
        port[is_air] = air_idx[_draw(rng, volumes[air_idx], n_air)]

    countries = np.array([ORIGINS[o].country for o in origin])
    shipper_id = eori_ids(countries, np.where(countries == "EC", 13, 12), rng)

    # Consignees: importers in the EU; fronts are new companies paired with a front shipper.
    n_cons = max(200, round(20_000 * config.scale))
    c_pick = _draw(rng, np.array([c[1] for c in CONSIGNEE_COUNTRIES]), n_cons)
    c_country = np.array([c[0] for c in CONSIGNEE_COUNTRIES])[c_pick]
    c_digits = np.array([c[2] for c in CONSIGNEE_COUNTRIES])[c_pick]
    consignee_id = eori_ids(c_country, c_digits, rng)
    c_weight = _pareto(rng, n_cons)
    c_front = np.zeros(n_cons, dtype=bool)
    n_front = int(front.sum())
    front_consignees = rng.choice(n_cons, size=min(n_front, n_cons // 10), replace=False)
    c_front[front_consignees] = True
    legit_consignees = np.flatnonzero(~c_front)
    shipper_consignee = legit_consignees[_draw(rng, c_weight[legit_consignees], n)]
    if front_consignees.size:
        shipper_consignee[front] = front_consignees[rng.integers(0, front_consignees.size, n_front)]

    # Declarants (customs brokers, forwarders) are Dutch; a few large ones file most declarations.
    n_decl = max(20, round(400 * config.scale))
    declarant_id = eori_ids(np.full(n_decl, "NL"), np.full(n_decl, 9), rng)
    d_weight = _pareto(rng, n_decl)
    # Consignee and declarant numbers may coincide by chance; keep them distinct parties.
    clash = np.isin(declarant_id, consignee_id)
    declarant_id[clash] = np.char.add("NL", zero_pad(np.arange(clash.sum()), 9))
    consignee_declarant = _draw(rng, d_weight, n_cons)

    return Parties(
        shipper_id=shipper_id, shipper_origin=origin, shipper_weight=weight, shipper_entry=entry,
        shipper_exit=exit_day, shipper_front=front, shipper_new=entry > -60.5, shipper_commodity=commodity,
        shipper_commodity2=commodity2, shipper_route=route, shipper_service=service, shipper_port=port,
        shipper_consignee=shipper_consignee, consignee_id=consignee_id, consignee_weight=c_weight,
        consignee_front=c_front, consignee_declarant=consignee_declarant, declarant_id=declarant_id,
        declarant_weight=d_weight,
    )
