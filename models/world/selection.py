"""Who was inspected in the simulated past, day by day: tips, the (adapting) rules and the random share.

Each day and port scans about its capacity (``capacity_per_day * scale``, rounded at random). The scans
go first to intelligence tips (:mod:`models.world.intelligence`), then to the analysts' samples of new
routes, then to the containers the rules score highest — static rules
(:func:`models.world.legacy.rule_score`) plus the points of the analysts' adaptive rules
(:mod:`models.world.analysts`) as of that morning — and a ``random_share`` of them to a uniform draw
among the rest. Route samples count as the legacy rules' selection ("legacy"), tips as "tip".
Inspections happen on arrival and their results feed the analysts' rules from the day after. The loop
runs in filing-day order, so a selection depends only on declarations filed and findings made before it
(and, through tips, on the truth of that day's containers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.world.analysts import AnalystRules
from models.world.arrivals import DAY_S, stochastic_round
from models.world.config import WorldConfig
from models.world.intelligence import call_codes, tip_offs
from models.world.legacy import inspect, rank_within, rule_score, select_day
from models.world.manifests import Draft

RNG_STREAMS = 4  # static scores, capacity, daily selection, inspection results


@dataclass(frozen=True)
class Inspections:
    """Masks of the originals selected by the rules, at random and by tips; what inspections found."""

    by_rule: np.ndarray
    at_random: np.ndarray
    by_tip: np.ndarray
    found: dict[str, np.ndarray]  # columns per inspection, in selection order (see legacy.inspect)


def _capacity(config: WorldConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scans, random scans and tip scans per (day, port)."""
    capacity = np.array([p.capacity_per_day for p in config.ports], dtype=float) * config.scale
    k = stochastic_round(np.tile(capacity, (config.days, 1)), rng)
    k_random = stochastic_round(k * config.random_share, rng)
    k_tip = stochastic_round(k * config.intelligence_share, rng)
    return k, k_random, np.minimum(k_tip, k - k_random)


def _within(rows: np.ndarray, port: np.ndarray, room: np.ndarray) -> np.ndarray:
    """The first ``room[port]`` of ``rows`` at each port (route samples never exceed the rules' scans)."""
    rank = rank_within(port[rows], -np.arange(rows.size, dtype=float))
    return rows[rank < np.maximum(room, 0)[port[rows]]]


def select_and_inspect(draft: Draft, truth: dict[str, np.ndarray], config: WorldConfig,
                       rngs: list[np.random.Generator]) -> Inspections:
    """Run the legacy policy over the world's days (see the module docstring)."""
    score_rng, capacity_rng, day_rng, result_rng = rngs
    n = draft["t"].size
    static = rule_score(draft, score_rng)
    k, k_random, k_tip = _capacity(config, capacity_rng)
    analysts = AnalystRules(draft, config) if config.adaptive_rules else None
    call = call_codes(draft) if config.intelligence_share > 0 else np.zeros(n, dtype=np.int64)
    port, illicit = draft["port"], truth["illicit"]
    bounds = np.searchsorted(draft["day"], np.arange(config.days + 1))  # rows are in filing-time order
    masks = {name: np.zeros(n, dtype=bool) for name in ("legacy", "random", "tip")}
    parts: list[dict[str, np.ndarray]] = []
    for day in range(config.days):
        rows = np.arange(bounds[day], bounds[day + 1])
        score = static[rows]
        sampled = np.empty(0, dtype=np.int64)
        if analysts is not None:
            analysts.start_day(day)
            score = score + analysts.points(rows, day)
            sampled = analysts.sample(rows, day, day_rng)
        tipped = [tip_offs(rows[port[rows] == p], illicit, call, int(k_tip[day, p]), config.tip_precision, day_rng)
                  for p in range(len(config.ports))]
        by_tip = np.concatenate(tipped) if tipped else np.empty(0, dtype=np.int64)
        sampled = _within(sampled[~np.isin(sampled, by_tip)], port, k[day] - k_random[day] - k_tip[day])
        by_rule, at_random = select_day(score, rows, port, k[day], k_random[day],
                                        np.concatenate([by_tip, sampled]), day_rng)
        by_rule = np.concatenate([sampled, by_rule])
        chosen = np.concatenate([by_rule, at_random, by_tip])
        labels = np.repeat(np.array(["legacy", "random", "tip"]), [by_rule.size, at_random.size, by_tip.size])
        found = inspect(draft, truth, chosen, labels, config, result_rng)
        parts.append(found)
        for name, picked in (("legacy", by_rule), ("random", at_random), ("tip", by_tip)):
            masks[name][picked] = True
        if analysts is not None:
            analysts.filed(day, rows)
            hits = found["result"] == "drugs"
            analysts.learn(chosen[hits], (found["inspected_s"][hits] // DAY_S).astype(np.int64) + 1)
    found = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return Inspections(masks["legacy"], masks["random"], masks["tip"], found)
