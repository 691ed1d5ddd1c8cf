"""The truth: which containers carry drugs, by which method, with what probability.

Each smuggling method (typology) gives every container a hazard built from what the method exploits —
some of it declared (origin, commodity, reefer, route, timing), some hidden (a vessel's compromised crew,
a party's front role, plain chance). Each typology's hazards are scaled so that it accounts for its
configured share of ``base_rate``; a container's ``p_illicit`` combines them, and the draw of
``illicit`` and its typology follows. The hidden factors make the signals learnable but noisy: even a
ranking by the true probability is far from perfect.

- rip_on: drugs added to an established, clean shipper's container on a source lane — reefers of
  bananas, pineapples, fruit pulp; night and weekend arrivals; some vessels' crews are in on it.
- front_company: new shipper/consignee pairs; their loaded containers show misfit weights or values,
  first-time commodities, odd routes and late amendments more often than their other ones.
- route_laundering: cargo routed through Caribbean / Panamanian hubs to hide where the drugs came on,
  worse with several hubs or a routing unusual for the shipper.
- drift: from ``drift_day`` west-coast South American dry cargo via Sines — a new route and method the
  legacy rules do not know.
"""

from __future__ import annotations

import numpy as np

from models.world.catalogue import COMMODITIES, COMMODITY_INDEX, HUB_RISK, ORIGINS, SOURCE_HUBS
from models.world.config import TYPOLOGIES, WorldConfig
from models.world.manifests import Draft

CAP = 0.5  # no single method makes a container more likely loaded than not: signals stay noisy
DRIFT_COVERS = frozenset({"ores", "charcoal", "cocoa", "coffee"})
PORT_EXPOSURE = {"vlissingen": 1.4, "moerdijk": 1.2}  # enforcement in Rotterdam displaces traffic


def route_risks(route_table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per route id: summed hidden risk of source-region hubs, and the number of non-feeder hubs."""
    risk = np.array([sum(HUB_RISK.get(h, 0.0) for h in r if h in SOURCE_HUBS) for r in route_table])
    hubs = np.array([sum(1 for h in r if h not in ("NLRTM", "BEANR")) for r in route_table])
    return risk, hubs


def hazards(draft: Draft, config: WorldConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Unscaled hazard of each typology for every original declaration."""
    n = draft["t"].size
    origin, commodity, reefer = draft["origin"], draft["commodity"], draft["reefer"]
    is_air, front = draft["is_air"], draft["front"]
    source = np.array([o.source_risk for o in ORIGINS])[origin]
    cover = np.array([c.cover for c in COMMODITIES])[commodity]
    hub_risk, n_hubs = route_risks(draft["route_table"])
    hub_risk, n_hubs = hub_risk[draft["route_id"]], n_hubs[draft["route_id"]]
    eta_local = (draft["eta_s"] + config.start.hour * 3600) % 86_400 / 3600
    night = (eta_local >= 20) | (eta_local < 6)
    weekday = (config.start.weekday() + draft["eta_s"] // 86_400) % 7
    port_factor = np.array([PORT_EXPOSURE.get(p.id, 1.0) for p in config.ports])[draft["port"]]

    def noise(sigma: float) -> np.ndarray:
        return rng.lognormal(0.0, sigma, n)

    rip_on = (source * cover * np.where(reefer, np.where(is_air, 1.5, 3.0), 1.0) * draft["vessel_risk"]
              * np.where(night, 1.6, 1.0) * np.where(weekday >= 5, 1.3, 1.0) * port_factor
              * np.where(is_air, 0.6, 1.0) * np.where(draft["new_shipper"], 0.7, 1.0) * ~front * noise(0.6))
    anomalies = (1.5 * draft["misfit_w"] + 1.5 * draft["undervalued"] + 1.2 * draft["novel_commodity"]
                 + 1.2 * draft["unusual_route"] + 2.0 * draft["late_amendment"])
    front_company = front * (1.0 + anomalies) * (0.3 + source / 5) * port_factor * noise(0.5)
    laundering = (hub_risk * np.where(n_hubs >= 2, 2.0, 1.0) * np.where(draft["unusual_route"], 1.8, 1.0)
                  * np.where(source < 1.0, 1.5, 1.0) * np.where(reefer, 1.5, 1.0) * ~is_air * noise(0.7))
    drift_cover = np.isin(commodity, [COMMODITY_INDEX[k] for k in DRIFT_COVERS])
    drift = (draft["via_sines"] * draft["after_drift"] * np.where(reefer, 1.0, 2.5)
             * np.where(drift_cover, 2.0, 1.0) * (0.5 + source) * noise(0.6))
    return {"rip_on": rip_on, "front_company": front_company, "route_laundering": laundering, "drift": drift}


def _scale_to(h: np.ndarray, target: float) -> np.ndarray:
    """min(CAP, c * h) with c chosen (bisection on log c) so the probabilities sum to ``target``."""
    if target <= 0 or not (h > 0).any():
        return np.zeros_like(h)
    lo, hi = -40.0, 40.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.minimum(CAP, np.exp(mid) * h).sum() < target:
            lo = mid
        else:
            hi = mid
    return np.minimum(CAP, np.exp(hi) * h)


def draw_truth(draft: Draft, config: WorldConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """p_illicit, illicit, typology ('' when clean) and irregular per original declaration.

    A typology that cannot reach its share (for instance drift in a world shorter than its drift day)
    hands the shortfall on to the next, so the base rate holds.
    """
    h = hazards(draft, config, rng)
    n = draft["t"].size
    probs: dict[str, np.ndarray] = {}
    carry = 0.0
    for name in ("drift", "route_laundering", "front_company", "rip_on"):
        target = config.typology_shares[name] * config.base_rate * n + carry
        probs[name] = _scale_to(h[name], target)
        carry = target - probs[name].sum()
    stacked = np.stack([probs[name] for name in TYPOLOGIES], axis=1)
    p_illicit = 1.0 - np.prod(1.0 - stacked, axis=1)
    illicit = rng.random(n) < p_illicit
    cum = np.cumsum(stacked, axis=1)
    pick = (rng.random(n)[:, None] * cum[:, -1:] > cum).sum(axis=1)
    typology = np.where(illicit, np.array(TYPOLOGIES)[np.minimum(pick, len(TYPOLOGIES) - 1)], "")
    # Other irregularities (misdeclared goods, undervaluation) that an inspection would also find.
    p_irregular = np.minimum(0.5, 0.02 * (1 + 4 * draft["misfit_w"] + 5 * draft["undervalued"]
                                          + draft["new_shipper"]))
    return {"p_illicit": p_illicit, "illicit": illicit, "typology": typology,
            "irregular": rng.random(n) < p_irregular}
