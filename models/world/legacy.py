"""The legacy rules that decided which containers were inspected in the simulated past, and inspections.

Modelled on weighted-rule targeting (CBP ATS, ASYCUDA selectivity): static rules add up points for
a country list, perishables, Caribbean transshipment, new shippers and low declared values; officers'
discretion adds noise; each port scans the day's top-scoring containers up to its capacity, and a
``random_share`` of the capacity is drawn at random for quality control. The static rules see only
declared data and the stream's own history — never the truth — and know nothing of the drift route;
the analysts' adaptive rules (:mod:`models.world.analysts`) add points from route statistics and
findings, and the day-by-day loop lives in :mod:`models.world.selection`.
"""

from __future__ import annotations

import numpy as np

from features.identifiers import zero_pad
from models.world.catalogue import COMMODITIES, COMMODITY_INDEX, ORIGINS
from models.world.config import WorldConfig
from models.world.manifests import Draft

COUNTRY_POINTS = {"EC": 3.0, "CO": 3.0, "PA": 2.0, "CR": 2.0, "DO": 2.0, "BR": 1.0, "MX": 1.0}
RISKY_GOODS = ("bananas", "pineapples", "plantains", "fruit_pulp", "roses")
RISKY_HUBS = frozenset({"PAMIT", "PABLB", "COCTG", "BSFPO"})
DISCRETION_SIGMA = 0.8
IRREGULARITY_DETECTION = 0.8


def prior_count(key: np.ndarray) -> np.ndarray:
    """For rows in time order: how many earlier rows share the key (the stream's own history)."""
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.r_[0, np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, key.size]))
    counts = np.empty(key.size, dtype=np.int64)
    counts[order] = np.arange(key.size) - group_start
    return counts


def rule_score(draft: Draft, rng: np.random.Generator) -> np.ndarray:
    """The legacy rules' points per original declaration (declared data and history only)."""
    country = np.array([COUNTRY_POINTS.get(o.country, 0.0) for o in ORIGINS])[draft["origin"]]
    risky_goods = np.isin(draft["commodity"], [COMMODITY_INDEX[k] for k in RISKY_GOODS])
    risky_route = np.array([bool(RISKY_HUBS.intersection(r)) for r in draft["route_table"]])[draft["route_id"]]
    new_shipper = prior_count(draft["shipper"]) < 3
    norm = np.array([c.eur_per_kg for c in COMMODITIES])[draft["commodity"]]
    cheap = draft["value"] < 0.3 * norm * draft["weight"]
    return (country + (country > 0) * draft["reefer"] + 1.5 * risky_goods + risky_route + new_shipper + cheap
            + rng.normal(0.0, DISCRETION_SIGMA, draft["t"].size))


def rank_within(group: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Rank (0 = first) of every row within its group, by descending priority."""
    order = np.lexsort((-priority, group))
    ranks = np.empty(group.size, dtype=np.int64)
    ranks[order] = np.arange(group.size) - np.searchsorted(group[order], group[order], side="left")
    return ranks


def select_day(score: np.ndarray, rows: np.ndarray, port: np.ndarray, k: np.ndarray, k_random: np.ndarray,
               forced: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rule- and randomly selected rows among one day's ``rows`` (``score``: theirs, in the same order).

    ``k`` and ``k_random`` are the day's scans and random scans per port index; the ``forced`` rows
    (tips, route samples) are taken already and use up scans first.
    """
    free = ~np.isin(rows, forced)
    rows, score = rows[free], score[free]
    group = port[rows]
    k_rule = np.maximum(k - k_random - np.bincount(port[forced], minlength=k.size), 0)
    ranked = rank_within(group, score) < k_rule[group]
    lottery = np.where(ranked, -1.0, rng.random(rows.size))
    drawn = ~ranked & (rank_within(group, lottery) < k_random[group])
    return rows[ranked], rows[drawn]


def inspect(draft: Draft, truth: dict[str, np.ndarray], rows: np.ndarray, selection: np.ndarray,
            config: WorldConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """What the inspections of ``rows`` (selected as ``selection``) found: columns per inspection."""
    typology = truth["typology"][rows]
    detect_p = np.array([config.detection.get(t, 0.0) for t in typology])
    found_drugs = truth["illicit"][rows] & (rng.random(rows.size) < detect_p)
    found_other = truth["irregular"][rows] & (rng.random(rows.size) < IRREGULARITY_DETECTION)
    result = np.where(found_drugs, "drugs", np.where(found_other, "other_irregularity", "no_finding"))
    is_air = draft["is_air"][rows]
    delay = np.where(is_air, rng.uniform(1, 8, rows.size), rng.uniform(2, 30, rows.size)) * 3600
    inspector = zero_pad(rng.integers(1, 40, rows.size), 2)
    port_tag = np.array([p.id[:3] for p in config.ports])[draft["port"][rows]]
    return {
        "row": rows, "result": result, "selection": selection,
        "inspected_s": np.floor(draft["eta_s"][rows] + delay),
        "inspector_id": np.char.add(np.char.add(port_tag, "-"), inspector),
    }
