"""Training end to end on a small world: artifact, parity, feature hash, and what training may read."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from models_support import TRAIN, small_model, small_world

from features.config import FeatureConfig, PartyRole
from features.pipeline import FeaturePipeline
from features.tables import TABLES_FILE, ReferenceTables
from models.artifact import load_card, verify_files
from models.dataset import Features, History, Periods, load_history
from models.train import cutoffs, split, train_model
from portrisk.cli import main
from portrisk.errors import DataError, ModelError
from scoring.feature_hash import feature_hash
from scoring.reasons import ReasonExplainer
from scoring.session import ScoringSession


def test_training_writes_a_complete_artifact_that_the_worker_can_load() -> None:
    model_dir = small_model()
    card = load_card(model_dir)
    verify_files(model_dir, card)  # every file matches its checksum, tables included
    assert TABLES_FILE in card.files and card.extra["tables_file"] == TABLES_FILE
    pipeline = FeaturePipeline.from_model_dir(model_dir)
    assert pipeline.names == card.feature_names
    assert card.feature_hash == feature_hash(pipeline.names)
    assert card.parity["passed"] and card.parity["max_abs_delta"] <= 1e-5
    assert card.parity["rows_checked"] >= 10_000 and card.parity["n_nan_rows"] > 0
    assert card.data_summary["positives_used"] > 0
    assert "random" in card.selection_bias and card.metrics["rounds"] >= TRAIN.min_rounds
    assert card.training_start < card.training_end == card.extra["periods"]["valid_end"]

    session = ScoringSession.load(model_dir, pipeline.names)
    X = np.vstack([np.full(len(pipeline.names), np.nan, dtype=np.float32),
                   np.zeros(len(pipeline.names), dtype=np.float32)])
    scores = session.score_batch(X)
    assert scores.shape == (2,) and np.all((scores > 0) & (scores < 1))
    reasons = ReasonExplainer(model_dir, pipeline.reason_texts()).top_reasons(X, k=3)
    assert len(reasons) == 2


def test_a_model_for_other_features_is_refused_naming_the_difference() -> None:
    model_dir = small_model()
    tables = ReferenceTables.from_bytes((model_dir / TABLES_FILE).read_bytes())
    other = FeatureConfig(party_roles=(PartyRole("consignee", "consignee_id"), PartyRole("broker", "declarant_id")))
    worker = FeaturePipeline(dataclasses.replace(tables, config=other, parties={
        "consignee": tables.parties["consignee"], "broker": tables.parties["declarant"]}))
    with pytest.raises(ModelError) as caught:
        ScoringSession.load(model_dir, worker.names)
    message = str(caught.value)
    assert feature_hash(worker.names) in message and load_card(model_dir).feature_hash in message
    assert "missing 'broker_novel'" in message  # ours, not the model's
    assert "extra 'notify_party_novel'" in message and "'declarant_novel'" in message  # the model's, not ours


def test_periods_are_ordered_and_tables_refresh_up_to_the_cutoff() -> None:
    history = load_history(small_world())
    periods = split(history, TRAIN)
    assert periods.start < periods.tables_end < periods.train_end < periods.valid_end < periods.end
    times = cutoffs(periods, 2.0)
    assert times[0] == periods.tables_end and times[-1] == periods.valid_end
    assert all(b > a for a, b in itertools.pairwise(times))


def test_training_reads_no_truth_and_refuses_an_existing_directory(tmp_path: Path) -> None:
    blind = tmp_path / "no-truth"
    shutil.copytree(small_world(), blind, ignore=shutil.ignore_patterns("truth"))
    card = train_model(blind, tmp_path / "model", TRAIN)
    original = load_card(small_model())
    assert card.feature_hash == original.feature_hash
    assert card.files["model.lgb.txt"] == original.files["model.lgb.txt"]  # deterministic, truth or not
    with pytest.raises(ModelError, match="already exists"):
        train_model(blind, tmp_path / "model", TRAIN)


def test_a_history_without_findings_is_a_data_error(tmp_path: Path) -> None:
    import pandas as pd

    empty = tmp_path / "clean"
    shutil.copytree(small_world(), empty)
    outcomes = pd.read_parquet(empty / "outcomes.parquet")
    outcomes["result"] = "no_finding"
    outcomes.to_parquet(empty / "outcomes.parquet")
    with pytest.raises(DataError, match="no drug finding"):
        train_model(empty, tmp_path / "model", TRAIN)


def test_train_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli-model"
    assert main(["train", "--world", str(small_world()), "--out", str(out), "--refresh-days", "2"]) == 0
    assert "written to" in capsys.readouterr().out
    assert json.loads((out / "card.json").read_text())["feature_hash"] == load_card(small_model()).feature_hash


def test_a_model_to_deploy_holds_out_nothing_and_learns_the_newest_results(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "deploy-model"
    assert main(["train", "--world", str(small_world()), "--out", str(out), "--refresh-days", "2",
                 "--holdout-share", "0"]) == 0
    card = json.loads((out / "card.json").read_text())
    held_out = load_card(small_model())
    periods, default_periods = card["extra"]["periods"], held_out.extra["periods"]
    end = datetime.fromisoformat(periods["end"])
    assert datetime.fromisoformat(periods["valid_end"]) == end.replace(hour=0, minute=0, second=0, microsecond=0)
    assert periods["valid_end"] > default_periods["valid_end"]
    assert card["data_summary"]["rows_used"] > held_out.data_summary["rows_used"]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["train", "--world", str(small_world()), "--out", str(tmp_path / "x"), "--holdout-share", "0.95"])
    assert "too little to train on" in capsys.readouterr().err


def test_holding_out_nothing_cuts_at_the_last_midnight_whatever_hour_the_history_starts() -> None:
    import pandas as pd

    from models.dataset import History
    from models.train import TrainConfig

    start = pd.Timestamp("2024-01-01T10:00", tz="UTC")  # starts late in the day, ends early in one
    times = [start + pd.Timedelta(hours=6 * i) for i in range(4 * 20)]
    events = pd.DataFrame({"event_id": [f"e{i}" for i in range(len(times))], "event_time": times})
    outcomes = pd.DataFrame({"event_id": events["event_id"], "inspected_at": [t + pd.Timedelta(hours=1) for t in times],
                             "result": "no_finding", "selection": "legacy"})
    periods = split(History(events, outcomes), TrainConfig(cutoff_share=1.0))
    assert periods.end == times[-1].to_pydatetime()
    assert periods.valid_end == times[-1].floor("D").to_pydatetime()


def test_an_inspection_labels_every_declaration_of_its_container_filed_before_it() -> None:
    import pandas as pd

    from models.dataset import History, labels

    t = pd.Timestamp("2024-01-01", tz="UTC")
    hours = [pd.Timedelta(hours=h) for h in (0, 1, 5, 50)]
    events = pd.DataFrame({"event_id": ["a", "b", "a2", "a3"], "event_time": [t + h for h in hours],
                           "amends_event_id": [None, None, "a", "a2"]})
    outcomes = pd.DataFrame({"event_id": ["a", "b"], "inspected_at": [t + pd.Timedelta(hours=30)] * 2,
                             "result": ["drugs", "no_finding"], "selection": ["random", "legacy"]})
    known = labels(History(events, outcomes), (t + pd.Timedelta(days=5)).to_pydatetime())
    assert known.inspected.tolist() == [True, True, True, False]  # a3 was declared after the inspection
    assert known.drugs.tolist() == [True, False, True, False]
    assert known.selection.tolist() == ["random", "legacy", "random", ""]
    assert known.declarations.tolist() == [2, 1, 2, 0]
    assert not labels(History(events, outcomes), (t + pd.Timedelta(hours=29)).to_pydatetime()).inspected.any()


def test_a_history_declares_its_own_feature_configuration(tmp_path: Path) -> None:
    from features.config import ExtraFeature

    history = tmp_path / "imported"
    shutil.copytree(small_world(), history, ignore=shutil.ignore_patterns("truth"))
    config = FeatureConfig(party_roles=(PartyRole("importer", "consignee_id"), PartyRole("broker", "declarant_id"),
                                        PartyRole("forwarder", "extras.forwarder")),
                           extras=(ExtraFeature("incoterm", "categorical"), ExtraFeature("packages", "numeric")))
    (history / "feature_config.json").write_text(json.dumps(config.to_dict()))
    card = train_model(history, tmp_path / "model", TRAIN)
    assert {"importer_novel", "forwarder_finding_rate", "extra_incoterm_risk", "extra_packages"} <= set(
        card.feature_names)
    trained = dataclasses.replace(config, segment_codes=True)  # the declared set, plus training's segment codes
    assert card.extra["feature_config"] == trained.to_dict()
    worker = FeaturePipeline.from_model_dir(tmp_path / "model")  # what the worker builds from the artifact
    assert worker.config == trained
    ScoringSession.load(tmp_path / "model", worker.names)  # the hash matches: no error


def _featureless(n_features: int) -> tuple[History, Periods, Features]:
    """The small world's history and periods, with all-zero features (for tests of rows and weights)."""
    history = load_history(small_world())
    n = len(history.events)
    feats = Features(np.zeros((n, n_features), np.float32), np.zeros(n, np.int64), None,  # type: ignore[arg-type]
                     tuple(f"x{i}" for i in range(n_features)))
    return history, split(history, TRAIN), feats


def test_a_labels_weight_halves_every_half_life_before_the_cut_off() -> None:
    from models.train import training_rows

    history, periods, feats = _featureless(n_features=1)
    flat = training_rows(history, feats, periods, dataclasses.replace(TRAIN, recency_half_life_days=None))
    recent = training_rows(history, feats, periods, dataclasses.replace(TRAIN, recency_half_life_days=7.0))
    used = flat.train | flat.valid
    assert used.any() and (used == (recent.train | recent.valid)).all()
    age_days = (periods.valid_end - history.events["event_time"]).dt.total_seconds().to_numpy()[used] / 86_400
    assert np.allclose(recent.weight[used] / flat.weight[used], 0.5 ** (age_days / 7.0))
    assert recent.weight[used].max() <= flat.weight[used].max()  # nothing gains weight


def test_labels_of_analysts_rules_and_tips_are_left_out_unless_weighted() -> None:
    from models.train import training_rows

    history, periods, feats = _featureless(n_features=1)
    # The simulator's intelligence-led inspections are tips; every other one becomes an analyst's rule here.
    outcomes = history.outcomes.copy()
    tipped = np.flatnonzero(outcomes["selection"].to_numpy() == "tip")
    outcomes.iloc[tipped[::2], outcomes.columns.get_loc("selection")] = "rule"
    history = dataclasses.replace(history, outcomes=outcomes)
    flat = dataclasses.replace(TRAIN, recency_half_life_days=None)
    left_out = training_rows(history, feats, periods, flat)
    kept = training_rows(history, feats, periods, dataclasses.replace(flat, rule_weight=0.5))
    used, all_used = left_out.train | left_out.valid, kept.train | kept.valid
    rule, tip = all_used & (kept.selection == "rule"), all_used & (kept.selection == "tip")
    intelligence = rule | tip
    assert rule.any() and tip.any() and (all_used & ~intelligence).any()
    assert not (used & intelligence).any() and (used == (all_used & ~intelligence)).all()  # only they differ
    legacy = all_used & (kept.selection == "legacy")
    random = all_used & (kept.selection == "random")
    # A container of one declaration weighs 0.5 when a rule or a tip chose it, 1 when the legacy rules did,
    # 3 at random.
    for chosen in (rule, tip):
        assert np.isclose(np.max(kept.weight[chosen]), 0.5 * np.max(kept.weight[legacy]))
    assert np.isclose(np.max(kept.weight[random]), TRAIN.random_weight * np.max(kept.weight[legacy]))


def test_a_random_sample_of_uninspected_containers_joins_training_as_weighted_negatives() -> None:
    from models.dataset import labels, period_mask
    from models.train import fit, training_rows

    history, periods, feats = _featureless(n_features=1)
    flat = dataclasses.replace(TRAIN, recency_half_life_days=None)
    base = training_rows(history, feats, periods, flat)
    known = labels(history, periods.valid_end)
    candidates = ~known.inspected & period_mask(history, periods.tables_end, periods.train_end)
    assert not (base.train & ~base.labelled).any() and candidates.sum() > 200

    pu = dataclasses.replace(flat, unlabelled_weight=0.1, unlabelled_sample=200)
    rows = training_rows(history, feats, periods, pu)
    drawn = rows.train & ~rows.labelled
    assert drawn.sum() == 200 and not (drawn & ~candidates).any() and not rows.y[drawn].any()
    assert (rows.valid == base.valid).all() and ((rows.train & rows.labelled) == base.train).all()  # labels unchanged
    # Each drawn row stands for (candidates / 200) of them: together they weigh 0.1 per uninspected container.
    per_container = 1.0 / np.maximum(known.declarations, 1)
    assert np.allclose(rows.weight[drawn], 0.1 * candidates.sum() / 200 * per_container[drawn])
    assert (training_rows(history, feats, periods, pu).train == rows.train).all()  # seeded: the same draw
    other = training_rows(history, feats, periods, dataclasses.replace(pu, seed=1))
    assert not (other.train == rows.train).all()
    every = training_rows(history, feats, periods, dataclasses.replace(pu, unlabelled_sample=None))
    assert ((every.train & ~every.labelled) == candidates & (feats.version >= 0)).all()
    assert np.allclose(every.weight[candidates], 0.1 * per_container[candidates])

    # The findings' weight follows the inspected rows' class balance, not the number of rows drawn.
    X = np.random.default_rng(0).normal(size=(len(rows.y), 1)).astype(np.float32)
    quick = dataclasses.replace(pu, max_rounds=5, min_rounds=1, patience=1)
    _, with_labelled = fit(X, rows.y, rows.weight, rows.train, rows.valid, ("x0",), quick, rows.labelled)
    _, without = fit(X, base.y, base.weight, base.train, base.valid, ("x0",), quick)
    _, counted = fit(X, rows.y, rows.weight, rows.train, rows.valid, ("x0",), quick)
    assert with_labelled["scale_pos_weight"] == without["scale_pos_weight"] < counted["scale_pos_weight"]


def test_boosting_from_a_prior_learns_what_the_prior_does_not_know() -> None:
    """The main model boosted from the tip model's prior (models.train.fit with ``prior``): its trees add
    what the labels say beyond the prior, the starting constant included, instead of learning it again."""
    from models.train import fit, refit

    rng = np.random.default_rng(3)
    n = 40_000
    X = rng.normal(size=(n, 2)).astype(np.float32)
    truth = -3.0 + 2.0 * X[:, 0] + 1.0 * X[:, 1]
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-truth))
    prior = 2.0 * X[:, 0].astype(np.float64)  # knows x0's part, neither x1's nor the base rate
    train, valid = np.arange(n) < 30_000, np.arange(n) >= 30_000
    config = dataclasses.replace(TRAIN, pos_weight=1.0, min_rounds=200, max_rounds=200,
                                 params={**TRAIN.params, "learning_rate": 0.1})
    w = np.ones(n)
    boosted, metrics = fit(X, y, w, train, valid, ("x0", "x1"), config, prior=prior)
    alone, _ = fit(X, y, w, train, valid, ("x0", "x1"), config)
    correction = boosted.predict(X, raw_score=True)
    assert metrics["boosted_from_prior"] and metrics["rounds"] == 200

    def slope(values: np.ndarray, column: int) -> float:
        return float(np.polyfit(X[:, column], values, 1)[0])

    # The trees learn x1 and leave x0 to the prior; on their own they learn both.
    assert abs(slope(correction, 0)) < 0.2 < 0.8 < slope(correction, 1)
    assert slope(alone.predict(X, raw_score=True), 0) > 1.5
    # The constant is folded in: prior plus trees predict the base rate on average, and rank like the truth.
    p = 1.0 / (1.0 + np.exp(-(prior + correction)))
    assert abs(p.mean() - y.mean()) < 0.01
    assert np.corrcoef(prior + correction, truth)[0, 1] > 0.97
    # A retraining with the rounds found (the backtest's) starts from the prior the same way.
    again = refit(X, y, w, train | valid, ("x0", "x1"), config, 200, prior=prior)
    assert np.abs(again.predict(X, raw_score=True) - correction).max() < 1e-9
