"""The tip model: where loads are, learnt from the loads that intelligence found.

The main model learns from inspections the legacy policy chose, so it knows little of what that policy
never looked at — a new route's dry cargo, say (docs/model-findings.md). Tips are different: an
intelligence-led inspection (selection ``"tip"`` in the outcomes: a tip-off from a partner agency or
an informant naming the container) concerns a container that really carries drugs, of any method,
whatever the rules think of it (DOMAIN.md). The findings of those inspections are therefore a sample of
the loads, drawn without regard to the legacy policy. Set against a random sample of all containers of
the same period (a case-control design), a classifier learns the ratio p(x | found load) / p(x): up to a
constant, how much likelier than average a container with features x is to carry a load that a scan
finds. Findings of analysts' rules and watch lists (selection ``"rule"``) are not used: they aim at named
parties rather than drawing from all loads.

A few hundred findings make it noisy on its own, so it is the main model's prior: ``tip_weight *
(tip - offset)`` (:func:`tip_prior`; ``offset`` is the tip model's mean raw score over the population
sample, so an average container's prior is 0) is where the main model's boosting starts
(:func:`models.train.fit`), and the main trees learn what the inspections' labels say beyond it. The
served model is one tree ensemble (:func:`models.ensemble.add_trees`): its raw score is the prior plus the
main trees'. Boosting from the prior rather than adding two models fitted apart (the set-up before)
counts once what both see (a source origin's record), and leaves the prior standing where the labels
are too few to correct it (a new route's dry cargo): Rotterdam 20.1 % instead of 19.4 % on the default
world, every LightGBM seed of four up (docs/model-findings.md).

Tips that name the wrong box (the informant knew the ship, not the container) come back clean and are
not used: only findings are positives, and every container of the period is a potential negative, as in
positive-unlabelled learning.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lightgbm
import numpy as np

from models.dataset import Features, History, Periods, period_mask

if TYPE_CHECKING:
    from models.train import Rows, TrainConfig

log = logging.getLogger(__name__)
TIP_SELECTION = "tip"  # the outcomes' selection of inspections on a tip-off


@dataclass(frozen=True)
class TipModel:
    """A fitted tip model, the constant its score is centred by, and what it was fitted on."""

    booster: lightgbm.Booster
    offset: float
    metrics: dict[str, Any]


def tip_rows(history: History, feats: Features, periods: Periods, rows: Rows, config: TrainConfig
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row indices, labels, weights and the validation mask of the case-control sample.

    Positives: declarations whose container a tip inspection found drugs in, before the cut-off. Negatives:
    ``config.tip_sample`` declarations drawn at random (seeded) from the same period. Both from the first
    tables cut-off on (earlier rows' features are not point-in-time) and recency-weighted like the main
    model's rows; the validation mask is the main model's validation period.
    """
    window = (feats.version >= 0) & period_mask(history, periods.tables_end, periods.valid_end)
    positive = np.flatnonzero(window & rows.y & (rows.selection == TIP_SELECTION))
    rng = np.random.default_rng([config.seed, 0x7195])
    candidates = np.flatnonzero(window)
    drawn = rng.choice(candidates, size=min(config.tip_sample, candidates.size), replace=False)
    negative = np.setdiff1d(drawn, positive)
    index = np.concatenate([positive, negative])
    y = np.r_[np.ones(positive.size, dtype=bool), np.zeros(negative.size, dtype=bool)]
    weight = np.ones(index.size)
    if config.recency_half_life_days is not None:
        age_days = (periods.valid_end - history.events["event_time"].iloc[index]).dt.total_seconds().to_numpy()
        weight = np.exp2(-np.clip(age_days / 86_400.0, 0.0, None) / config.recency_half_life_days)
    valid = period_mask(history, periods.train_end, periods.valid_end)[index]
    return index, y, weight, valid


def fit_tip_model(history: History, feats: Features, periods: Periods, rows: Rows, config: TrainConfig
                  ) -> TipModel | None:
    """The tip model (early-stopped on the validation period, refitted on all), or None with fewer than
    ``config.tip_min_findings`` tip findings in either period (a history without tips has none)."""
    from models.train import fit

    index, y, weight, valid = tip_rows(history, feats, periods, rows, config)
    n_train, n_valid = int(y[~valid].sum()), int(y[valid].sum())
    if min(n_train, n_valid) < config.tip_min_findings:
        log.info("tip model skipped: %d / %d tip findings (training / validation), fewer than %d",
                 n_train, n_valid, config.tip_min_findings)
        return None
    X = feats.X[index]
    # The main model's early-stopped fit and refit; the classes' balance is the sample's, not the world's:
    # it shifts every score alike, so the positives are not up-weighted.
    # Its rounds are capped by the scoring budget (config.tip_max_rounds).
    budget = dataclasses.replace(config, pos_weight=1.0, max_rounds=config.tip_max_rounds)
    booster, fitted = fit(X, y, weight, ~valid, valid, feats.names, budget)
    population = ~y
    offset = float(np.average(booster.predict(X[population], raw_score=True), weights=weight[population]))
    # "trees" can fall short of "rounds" when no split is left to make (a handful of findings).
    metrics = {"rounds": fitted["rounds"], "trees": booster.num_trees(), "findings": int(y.sum()),
               "train_findings": n_train, "valid_findings": n_valid, "population_sample": int(population.sum()),
               "offset": offset, "valid_average_precision": fitted["valid_average_precision"],
               "weight": config.tip_weight, "max_rounds": config.tip_max_rounds}
    return TipModel(booster, offset, metrics)


def tip_prior(tip: TipModel, weight: float, X: np.ndarray) -> np.ndarray:
    """``weight`` times the tip model's centred raw score for each row of ``X``: the log relative risk the
    main model's boosting starts from (:func:`models.train.fit`)."""
    return weight * (np.asarray(tip.booster.predict(X, raw_score=True)) - tip.offset)
