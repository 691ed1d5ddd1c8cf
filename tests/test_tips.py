"""The tip model: its case-control sample, its fit, and its trees in the trained artifact."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import lightgbm
import numpy as np
from models_support import TRAIN, small_model, small_world

from models.artifact import load_card
from models.dataset import Features, History, Periods, featurise, load_history, period_mask
from models.tips import TIP_SELECTION, fit_tip_model, tip_prior, tip_rows
from models.train import Rows, cutoffs, fit, fit_with_tips, split, train_model, training_rows

# The small world has only a handful of tip findings: let them make a tip model.
WITH_TIPS = dataclasses.replace(TRAIN, tip_min_findings=1, tip_sample=5_000)


@functools.cache
def _replayed() -> tuple[History, Periods, Features, Rows]:
    history = load_history(small_world())
    periods = split(history, TRAIN)
    feats = featurise(history, TRAIN.features, cutoffs(periods, TRAIN.refresh_days))
    return history, periods, feats, training_rows(history, feats, periods, TRAIN)


def test_tip_findings_are_the_positives_and_a_seeded_draw_of_the_period_the_population() -> None:
    history, periods, feats, rows = _replayed()
    index, y, weight, valid = tip_rows(history, feats, periods, rows, WITH_TIPS)
    window = (feats.version >= 0) & period_mask(history, periods.tables_end, periods.valid_end)
    found_by_tips = window & rows.y & (rows.selection == TIP_SELECTION)
    assert found_by_tips.sum() >= 2 and set(index[y]) == set(np.flatnonzero(found_by_tips))
    population = index[~y]
    assert window[population].all() and not found_by_tips[population].any()
    assert population.size == np.unique(population).size >= WITH_TIPS.tip_sample - found_by_tips.sum()
    # Legacy findings are not positives: they sample what the rules chose, not the loads.
    legacy_findings = np.flatnonzero(rows.y & (rows.selection == "legacy") & window)
    assert legacy_findings.size and not np.isin(legacy_findings, index[y]).any()
    age_days = (periods.valid_end - history.events["event_time"].iloc[index]).dt.total_seconds().to_numpy() / 86_400
    assert np.allclose(weight, 0.5 ** (age_days / WITH_TIPS.recency_half_life_days))
    assert (valid == period_mask(history, periods.train_end, periods.valid_end)[index]).all()
    again, *_ = tip_rows(history, feats, periods, rows, WITH_TIPS)
    other, *_ = tip_rows(history, feats, periods, rows, dataclasses.replace(WITH_TIPS, seed=1))
    assert np.array_equal(again, index) and not np.array_equal(np.sort(other), np.sort(index))


def test_findings_of_analysts_rules_are_not_tips() -> None:
    history, periods, feats, rows = _replayed()
    tips = np.flatnonzero(rows.y & (rows.selection == TIP_SELECTION))
    selection = rows.selection.copy()
    selection[tips[::2]] = "rule"  # a watch list's findings: aimed at named parties, not drawn from all loads
    relabelled = dataclasses.replace(rows, selection=selection)
    index, y, _, _ = tip_rows(history, feats, periods, relabelled, WITH_TIPS)
    window = (feats.version >= 0) & period_mask(history, periods.tables_end, periods.valid_end)
    kept = tips[1::2][window[tips[1::2]]]
    assert kept.size and set(index[y]) == set(kept) and not np.isin(tips[::2], index[y]).any()


def test_the_tip_model_needs_enough_findings_and_is_centred_on_its_population() -> None:
    history, periods, feats, rows = _replayed()
    assert fit_tip_model(history, feats, periods, rows, TRAIN) is None  # fewer than 30: none
    tip = fit_tip_model(history, feats, periods, rows, WITH_TIPS)
    assert tip is not None and tip.metrics["rounds"] >= WITH_TIPS.min_rounds
    assert tip.booster.num_trees() == tip.metrics["trees"] > 0
    index, y, weight, _ = tip_rows(history, feats, periods, rows, WITH_TIPS)
    assert tip.metrics["findings"] == int(y.sum()) and tip.metrics["population_sample"] == int((~y).sum())
    raw = tip.booster.predict(feats.X[index[~y]], raw_score=True)
    assert np.isclose(tip.offset, np.average(raw, weights=weight[~y]))
    # It learnt something: the tip findings score above the average container.
    assert tip.booster.predict(feats.X[index[y]], raw_score=True).mean() > tip.offset


def test_the_tip_models_rounds_stay_within_the_scoring_budget() -> None:
    history, periods, feats, rows = _replayed()
    free = fit_tip_model(history, feats, periods, rows, dataclasses.replace(WITH_TIPS, min_rounds=1))
    assert free is not None and free.metrics["rounds"] > 3
    cap = free.metrics["rounds"] // 2
    capped = fit_tip_model(history, feats, periods, rows,
                           dataclasses.replace(WITH_TIPS, min_rounds=1, tip_max_rounds=cap))
    assert capped is not None and capped.metrics["max_rounds"] == cap
    assert 1 <= capped.metrics["rounds"] <= cap and capped.booster.num_trees() <= cap
    # The budget wins over the main model's floor of rounds, too.
    floored = fit_tip_model(history, feats, periods, rows, dataclasses.replace(WITH_TIPS, tip_max_rounds=cap))
    assert WITH_TIPS.min_rounds > cap and floored is not None
    assert floored.metrics["rounds"] <= cap and floored.booster.num_trees() <= cap


def test_training_adds_the_tip_trees_to_the_served_model(tmp_path: Path) -> None:
    plain = load_card(small_model())
    assert plain.metrics["tip_model"] is None and "No tip model (too few tip findings)" in plain.selection_bias

    card = train_model(small_world(), tmp_path / "model", WITH_TIPS)
    tip = card.metrics["tip_model"]
    assert tip is not None and tip["findings"] >= 2 and "tip inspections" in card.selection_bias
    served = lightgbm.Booster(model_file=str(tmp_path / "model" / "model.lgb.txt"))
    assert served.num_trees() == card.metrics["rounds"] + tip["trees"]
    assert card.parity["passed"] and card.parity["max_abs_delta"] <= 1e-5
    assert card.extra["tip_weight"] == WITH_TIPS.tip_weight
    # The main trees are boosted from the tip model's prior: the served raw score is the prior plus what
    # the main trees add to it, recalibrated.
    history, periods, feats, rows = _replayed()
    tips = fit_tip_model(history, feats, periods, rows, WITH_TIPS)
    assert tips is not None and card.metrics["boosted_from_prior"]
    fitted = rows.train | rows.valid
    prior = np.zeros(len(feats.X))
    prior[fitted] = tip_prior(tips, WITH_TIPS.tip_weight, feats.X[fitted])
    main, metrics = fit(feats.X, rows.y, rows.weight, rows.train, rows.valid, feats.names, WITH_TIPS,
                        rows.labelled, prior)
    assert metrics["rounds"] == card.metrics["rounds"]
    X = feats.X[:2000]
    plain_main = lightgbm.Booster(model_file=str(small_model() / "model.lgb.txt"))
    assert np.abs(main.predict(X, raw_score=True) - plain_main.predict(X, raw_score=True)).max() > 1e-3
    calibration = tip["calibration"]
    assert calibration["scale"] > 0  # monotone: the ranking is the sum's
    summed = main.predict(X, raw_score=True) + tip_prior(tips, WITH_TIPS.tip_weight, X)
    expected = calibration["scale"] * summed + calibration["shift"]
    assert np.abs(served.predict(X, raw_score=True) - expected).max() < 1e-8


def test_beside_a_tip_model_the_main_model_keeps_to_its_share_of_the_scoring_budget() -> None:
    history, periods, feats, rows = _replayed()
    small = dataclasses.replace(WITH_TIPS, main_max_rounds=30)
    served, metrics = fit_with_tips(history, feats, periods, rows, small)
    assert metrics["tip_model"] is not None and metrics["rounds"] == 30  # below the floor of 100 rounds, too
    assert served.num_trees() == 30 + metrics["tip_model"]["trees"]
    # Without a tip model the main model has the whole budget: the cap does not apply.
    _, alone = fit_with_tips(history, feats, periods, rows, dataclasses.replace(small, tip_weight=0.0))
    assert alone["tip_model"] is None and alone["rounds"] >= small.min_rounds
