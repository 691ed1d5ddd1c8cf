"""The truth: which containers carry drugs, by which method, with what probability.

Each smuggling method (typology) gives every container a hazard: a *declared* part built from what the
method exploits and the declaration shows (origin, commodity, reefer, route, timing, misfits), times
*hidden* factors. Each typology's hazards are scaled so that it accounts for its configured share of
``base_rate``; a container's ``p_illicit`` combines them, and the draw of ``illicit`` and its
typology follows.

- rip_on: drugs added to an established, clean shipper's container on a source lane — reefers of
  bananas, pineapples, fruit pulp; night and weekend arrivals; some services' terminals and some
  vessels' crews are in on it.
- front_company: new shipper/consignee pairs; their loaded containers show misfit weights or values,
  first-time commodities, odd routes and late amendments more often than their other ones.
- route_laundering: cargo routed through Caribbean / Panamanian hubs to hide where the drugs came on,
  worse with several hubs or a routing unusual for the shipper.
- drift: from ``drift_day`` west-coast South American dry cargo via Sines — a new route and method the
  static legacy rules do not know.

Hidden factors, and why they are what they are:

- ``exposure`` (rip_on): the liner service's exposure — insiders at the terminals it uses — times the
  vessel's crew (:func:`models.world.logistics.make_fleet`). Persistent across calls, so history of a
  vessel and of a lane reveals it in part, as in reality.
- ``front``: whether a party is a front company. Never declared, but its traces are (novelty, misfits,
  late amendments), and a front's record builds up over its shipments.
- per-container noise (``NOISE_SIGMA``): what no declaration and no history shows. It is kept small on
  purpose: an independent per-container factor in the *probability* is, to anyone but the simulator,
  indistinguishable from the draw of ``illicit`` itself — it hands the oracle part of the outcome, not
  knowledge that exists anywhere before an inspection. Real unobserved heterogeneity sits with
  persistent things (terminals, crews, parties), which are modelled as such.

:mod:`models.world.declared` turns the same factors into ``p_declared``, the probability given only
what the declarations show (hidden factors integrated out) — the reference for what a ranking on
declarations could reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.world.catalogue import COMMODITIES, COMMODITY_INDEX, HUB_RISK, ORIGINS, SOURCE_HUBS
from models.world.config import TYPOLOGIES, WorldConfig
from models.world.manifests import Draft

CAP = 0.5  # no single method makes a container more likely loaded than not: signals stay noisy
DRIFT_COVERS = frozenset({"ores", "charcoal", "cocoa", "coffee"})
PORT_EXPOSURE = {"vlissingen": 1.4, "moerdijk": 1.2}  # enforcement in Rotterdam displaces traffic
NOISE_SIGMA = {"rip_on": 0.3, "front_company": 0.3, "route_laundering": 0.3, "drift": 0.3}
ORDER = ("drift", "route_laundering", "front_company", "rip_on")  # shortfalls pass on in this order


def route_risks(route_table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per route id: summed hidden risk of source-region hubs, and the number of non-feeder hubs."""
    risk = np.array([sum(HUB_RISK.get(h, 0.0) for h in r if h in SOURCE_HUBS) for r in route_table])
    hubs = np.array([sum(1 for h in r if h not in ("NLRTM", "BEANR")) for r in route_table])
    return risk, hubs


def declared_hazards(draft: Draft, config: WorldConfig) -> dict[str, np.ndarray]:
    """Per typology, the part of every original declaration's hazard that the declaration shows.

    The hazard is this times the typology's hidden factors (:func:`hazards`).
    """
    origin, commodity, reefer = draft["origin"], draft["commodity"], draft["reefer"]
    is_air = draft["is_air"]
    source = np.array([o.source_risk for o in ORIGINS])[origin]
    cover = np.array([c.cover for c in COMMODITIES])[commodity]
    hub_risk, n_hubs = route_risks(draft["route_table"])
    hub_risk, n_hubs = hub_risk[draft["route_id"]], n_hubs[draft["route_id"]]
    eta_local = (draft["eta_s"] + config.start.hour * 3600) % 86_400 / 3600
    night = (eta_local >= 20) | (eta_local < 6)
    weekday = (config.start.weekday() + draft["eta_s"] // 86_400) % 7
    port_factor = np.array([PORT_EXPOSURE.get(p.id, 1.0) for p in config.ports])[draft["port"]]

    rip_on = (source * cover * np.where(reefer, np.where(is_air, 1.5, 3.0), 1.0)
              * np.where(night, 1.6, 1.0) * np.where(weekday >= 5, 1.3, 1.0) * port_factor
              * np.where(is_air, 0.6, 1.0) * np.where(draft["new_shipper"], 0.7, 1.0))
    anomalies = (1.5 * draft["misfit_w"] + 1.5 * draft["undervalued"] + 1.2 * draft["novel_commodity"]
                 + 1.2 * draft["unusual_route"] + 2.0 * draft["late_amendment"])
    front_company = (1.0 + anomalies) * (0.3 + source / 5) * port_factor
    laundering = (hub_risk * np.where(n_hubs >= 2, 2.0, 1.0) * np.where(draft["unusual_route"], 1.8, 1.0)
                  * np.where(source < 1.0, 1.5, 1.0) * np.where(reefer, 1.5, 1.0) * ~is_air)
    drift_cover = np.isin(commodity, [COMMODITY_INDEX[k] for k in DRIFT_COVERS])
    drift = (draft["via_sines"] * draft["after_drift"] * np.where(reefer, 1.0, 2.5)
             * np.where(drift_cover, 2.0, 1.0) * (0.5 + source))
    return {"rip_on": rip_on, "front_company": front_company, "route_laundering": laundering, "drift": drift}


@dataclass(frozen=True)
class Hidden:
    """The hidden factors of every original declaration (see the module docstring)."""

    exposure: np.ndarray
    front: np.ndarray
    noise: dict[str, np.ndarray]


def hazards(declared: dict[str, np.ndarray], hidden: Hidden) -> dict[str, np.ndarray]:
    """Unscaled hazard of each typology: the declared part times the typology's hidden factors."""
    gate = {"rip_on": hidden.exposure * ~hidden.front, "front_company": hidden.front}
    return {name: declared[name] * gate.get(name, 1.0) * hidden.noise[name] for name in TYPOLOGIES}


def scale_constant(h: np.ndarray, target: float) -> float:
    """The c for which min(CAP, c * h) sums to ``target`` (bisection on log c); 0 when unreachable."""
    if target <= 0 or not (h > 0).any():
        return 0.0
    lo, hi = -40.0, 40.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.minimum(CAP, np.exp(mid) * h).sum() < target:
            lo = mid
        else:
            hi = mid
    return float(np.exp(hi))


def combine(probs: dict[str, np.ndarray]) -> np.ndarray:
    """P(any typology) for independent per-typology probabilities."""
    return 1.0 - np.prod(1.0 - np.stack([probs[name] for name in TYPOLOGIES], axis=1), axis=1)


def draw_truth(draft: Draft, config: WorldConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """p_illicit, p_declared, illicit, typology ('' when clean) and irregular per original declaration.

    A typology that cannot reach its share (for instance drift in a world shorter than its drift day)
    hands the shortfall on to the next, so the base rate holds.
    """
    from models.world.declared import declared_probability

    n = draft["t"].size
    noise = {name: rng.lognormal(0.0, NOISE_SIGMA[name], n) for name in TYPOLOGIES}
    hidden = Hidden(exposure=draft["vessel_risk"], front=draft["front"], noise=noise)
    declared = declared_hazards(draft, config)
    h = hazards(declared, hidden)
    probs: dict[str, np.ndarray] = {}
    scales: dict[str, float] = {}
    carry = 0.0
    for name in ORDER:
        target = config.typology_shares[name] * config.base_rate * n + carry
        scales[name] = scale_constant(h[name], target)
        probs[name] = np.minimum(CAP, scales[name] * h[name])
        carry = target - probs[name].sum()
    p_illicit = combine(probs)
    illicit = rng.random(n) < p_illicit
    stacked = np.stack([probs[name] for name in TYPOLOGIES], axis=1)
    cum = np.cumsum(stacked, axis=1)
    pick = (rng.random(n)[:, None] * cum[:, -1:] > cum).sum(axis=1)
    typology = np.where(illicit, np.array(TYPOLOGIES)[np.minimum(pick, len(TYPOLOGIES) - 1)], "")
    # Other irregularities (misdeclared goods, undervaluation) that an inspection would also find.
    p_irregular = np.minimum(0.5, 0.02 * (1 + 4 * draft["misfit_w"] + 5 * draft["undervalued"]
                                          + draft["new_shipper"]))
    return {"p_illicit": p_illicit, "illicit": illicit, "typology": typology,
            "irregular": rng.random(n) < p_irregular,
            "p_declared": declared_probability(draft, declared, scales)}
