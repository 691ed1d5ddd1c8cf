"""Training: replay a history, fit LightGBM on the labelled rows, export through the parity gate, save.

Time-based throughout (see :mod:`models.dataset`): reference tables are refreshed every
``refresh_days`` from the first cut-off on, rows use the tables of their day, the training cut-off is
the start of the held-out test period, and only labels known before it are used. The last
``valid_share`` of the labelled time before the cut-off is the validation period for early stopping;
the final model is refitted on every labelled row before the cut-off with the number of rounds found.

Drift: smuggling methods and routes shift when enforcement tightens, so recent labels say more about
the next weeks than old ones; a label's weight halves every ``recency_half_life_days`` before the
cut-off (old labels still count, for what has not changed).

Selection bias: labels exist only where a container was inspected, and the past policy chose what to
inspect. Rows selected at random are the only unbiased sample, so they get ``random_weight`` times the
weight of the legacy policy's selections. Rows selected by analysts' rules and tips (selections ``"rule"``
and ``"tip"``: intelligence-led) were chosen on knowledge the features do not hold — an informant, a
watchlist — so whether they held drugs says what that knowledge found, not what the declaration and the
parties' records show: they weigh ``rule_weight``
(0 by default: left out of training, while their results still count in party histories and finding
rates). Uninspected containers of the training period can join as negatives ("positive-unlabelled"
learning) with ``unlabelled_weight`` each, relative to an inspected one: at a 0.4 % base rate they are
mostly clean, and they show the model the whole population it will rank — the containers the old policy
never looked at included — where the inspected ones show only what that policy chose. They also carry the
old policy's blind spots as "clean", hence the small weight. ``unlabelled_sample`` of them are drawn at
random to stand for all (each weighted up by the share left out), which keeps the fit small. Validation
stays on inspected rows: early stopping is judged on labels. What the bias leaves — the model is most
reliable where the old policy looked — is stated on the model card.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.segments import SEGMENT_NAMES
from features.tables import TABLES_FILE
from models.artifact import ModelCard, save_artifact
from models.dataset import Features, History, Periods, featurise, labels, load_history, period_mask
from models.ensemble import add_trees, intercept, platt, rescale
from models.export import export_with_gate
from models.importer.writer import read_import_record
from models.metrics import average_precision, roc_auc
from models.monotone import monotone_constraints
from models.tips import TipModel, fit_tip_model, tip_prior
from portrisk.errors import DataError

log = logging.getLogger(__name__)
FEATURE_CONFIG_FILE = "feature_config.json"
INTELLIGENCE_LED = ("rule", "tip")  # selections made on knowledge the features do not hold

SELECTION_BIAS = (
    "Labels come only from inspected containers (positive: drugs found). Rule-selected inspections over-"
    "represent what the legacy policy already suspected; random-selection labels (the unbiased sample) are "
    "weighted {random_weight:g}x; selections by analysts' rules and tips, made on knowledge outside the features, "
    "{rule}; uninspected containers {unlabelled}. {tips} Expect the model to be best where the "
    "old policy looked and weakest on patterns it never selected (new routes and methods); keep a random "
    "share of scans so that such patterns get labels."
)
TIPS_USED = ("The drug findings of tip inspections, a sample of the loads drawn whatever the rules thought, "
             "train a tip model against a random sample of all containers; its relative risk (weight {weight:g}) "
             "is the prior the main model's trees boost from, so where labels are few it stands (models/tips.py).")
TIPS_UNUSED = "No tip model ({why})."


# LightGBM's handling of the segment codes (features.segments), when the feature set has them. At most 16
# categories on one side of a split (docs/model-findings.md): against 32, Rotterdam 17.8 / 17.8 % against
# 17.3 / 17.3 % on the default world (LightGBM seeds 0 / 1) and 16.4 / 16.4 % against 16.4 / 16.5 % on a
# 240-day one; 8 gains a little more on the first world and loses 1.2 points on the second. With the
# route-and-cargo code (2026-12-03) likewise: 12 and 8 gain on the first world and lose on the second.
CATEGORICAL_PARAMS = {"cat_smooth": 10.0, "cat_l2": 10.0, "min_data_per_group": 30, "max_cat_threshold": 16}


@dataclass(frozen=True)
class TrainConfig:
    """What shapes a model besides the data."""

    seed: int = 0
    tables_share: float = 0.1  # first tables cut-off, as a share of the history (warm-up before it)
    cutoff_share: float = 0.77  # training cut-off = start of the held-out test period
    valid_share: float = 0.25  # of the labelled time before the cut-off, the last part validates
    refresh_days: float = 1.0  # table refresh interval during replay
    random_weight: float = 3.0
    # Intelligence-led selections (tips, watchlists) are not at random given the features (see above).
    rule_weight: float = 0.0
    unlabelled_weight: float = 0.0
    unlabelled_sample: int | None = 200_000  # uninspected training rows drawn to stand for all; None: all
    # Concept drift (DOMAIN.md): methods and routes shift, so a label's weight halves every this many days
    # before the cut-off. None: every labelled day counts the same.
    recency_half_life_days: float | None = 30.0
    pos_weight: float | None = None  # LightGBM scale_pos_weight; None: the square root of the imbalance
    stop_metric: str = "average_precision"  # what early stopping watches on the validation rows
    max_rounds: int = 2000
    patience: int = 200
    min_rounds: int = 100
    # The tip model (models.tips): trees fit to the findings of intelligence-led inspections against a
    # sample of all containers, added to the main model's with this weight; 0 leaves them out.
    tip_weight: float = 1.0
    tip_sample: int = 300_000  # containers of the training period drawn as the tip model's population
    tip_min_findings: int = 30  # fewer tip findings in the training or validation period: no tip model
    # A scoring budget, not a fit choice: every tree costs serving time, and 100 main + 200 tip trees keep
    # batched ONNX scoring under its 10 µs/row target (benchmarks/bench_scoring.py; 485 uncapped tip trees
    # took 20 µs). Early stopping picks the rounds within this cap (docs/model-findings.md).
    tip_max_rounds: int = 200
    # The main model's share of that budget when a tip model is served beside it (boosted from its prior,
    # early stopping chose 127-207 rounds over four seeds: 333 trees scored in 11 µs a row); without a tip
    # model the main model has the whole budget and max_rounds applies.
    main_max_rounds: int = 100
    params: dict[str, Any] = field(default_factory=lambda: {
        "objective": "binary",
        "learning_rate": 0.02,
        "num_leaves": 7,
        "min_data_in_leaf": 30,
        "feature_fraction": 0.7,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 10.0,
        "max_bin": 255,
        "verbose": -1,
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
    })
    # The segment codes (features.segments) as categorical features: on by default since 2026-12-02
    # (docs/model-findings.md); FeatureConfig(), without them, trains the earlier feature set.
    features: FeatureConfig = field(default_factory=lambda: FeatureConfig(segment_codes=True))


def cutoffs(periods: Periods, refresh_days: float) -> list[datetime]:
    """Table cut-offs from the first one to the training cut-off (which is always the last)."""
    times, t = [], periods.tables_end
    while t < periods.valid_end:
        times.append(t)
        t += timedelta(days=refresh_days)
    return [*times, periods.valid_end]


def split(history: History, config: TrainConfig) -> Periods:
    """Periods of the history (see :mod:`models.dataset`): ``tables_end`` is the first tables cut-off,
    ``train_end`` starts validation, ``valid_end`` is the training cut-off and starts the test period.
    Boundaries fall on whole days (validation on whole hours)."""
    start, end = history.start, history.end
    span = (end - start).total_seconds() / 86_400
    day0 = start.replace(hour=0, minute=0, second=0, microsecond=0)
    tables_end = day0 + timedelta(days=max(math.floor(span * config.tables_share), 1))
    if len(history.outcomes):  # finding rates need at least one inspection before the first tables
        first = history.outcomes["inspected_at"].iloc[0].to_pydatetime()
        tables_end = max(tables_end, day0 + timedelta(days=math.floor((first - day0).total_seconds() / 86_400) + 1))
    # Whole days from the first midnight, so a share of 1 (nothing held out) is the last midnight before the end.
    whole = (end - day0).total_seconds() / 86_400
    cutoff = day0 + timedelta(days=max(min(math.floor(whole * config.cutoff_share), math.ceil(whole) - 1), 2))
    valid_start = _validation_start(history, tables_end, cutoff, config.valid_share)
    if not tables_end < valid_start < cutoff < end:
        raise DataError(f"a history of {span:.1f} days is too short to train on")
    return Periods(start, tables_end, valid_start, cutoff, end)


def _validation_start(history: History, tables_end: datetime, cutoff: datetime, share: float) -> datetime:
    """The hour from which the last ``share`` of the labels known at the cut-off were declared.

    Labels arrive days after declaration, so splitting the labelled rows (not the calendar) is what
    gives validation its share of findings.
    """
    known = history.outcomes[history.outcomes["inspected_at"] < cutoff]
    declared = history.events.set_index("event_id")["event_time"].reindex(known["event_id"])
    declared = declared[declared >= tables_end].sort_values()
    if declared.empty:
        raise DataError("no inspection outcome is known between the first tables and the training cut-off")
    at = declared.iloc[min(int(len(declared) * (1.0 - share)), len(declared) - 1)]
    return pd.Timestamp(at).floor("h").to_pydatetime()


@dataclass(frozen=True)
class Rows:
    """Per event: training and validation masks, label (drugs found), weight and selection reason."""

    train: np.ndarray
    valid: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    selection: np.ndarray
    labelled: np.ndarray  # inspected rows with a label the model may learn from (the rest of train: unlabelled)


def training_rows(history: History, feats: Features, periods: Periods, config: TrainConfig) -> Rows:
    """Which rows train and validate, with labels known before the cut-off and their weights."""
    known = labels(history, periods.valid_end)  # valid_end is the training cut-off
    labelled = (feats.version >= 0) & known.inspected
    if config.rule_weight <= 0:
        labelled = labelled & ~np.isin(known.selection, INTELLIGENCE_LED)
    in_train = period_mask(history, periods.tables_end, periods.train_end)
    train = labelled & in_train
    valid = labelled & period_mask(history, periods.train_end, periods.valid_end)
    # A container counts once whatever its number of declarations (original plus amendments).
    per_container = 1.0 / np.maximum(known.declarations, 1)
    weight = np.select([known.selection == "random", np.isin(known.selection, INTELLIGENCE_LED), known.inspected],
                       [config.random_weight, config.rule_weight, 1.0], 0.0) * per_container
    if config.unlabelled_weight > 0:
        drawn = _unlabelled_draw(np.flatnonzero((feats.version >= 0) & ~known.inspected & in_train), config)
        train[drawn.rows] = True
        weight[drawn.rows] = config.unlabelled_weight * drawn.scale * per_container[drawn.rows]
    if config.recency_half_life_days is not None:
        age_days = (periods.valid_end - history.events["event_time"]).dt.total_seconds().to_numpy() / 86_400.0
        weight = weight * np.exp2(-np.clip(age_days, 0.0, None) / config.recency_half_life_days)
    if not known.drugs[train].any() or not known.drugs[valid].any():
        raise DataError(f"no drug finding among the labelled rows of the training ({int(known.drugs[train].sum())})"
                        f" or validation ({int(known.drugs[valid].sum())}) period: nothing to learn from")
    return Rows(train, valid, known.drugs, weight, known.selection, labelled)


@dataclass(frozen=True)
class _Draw:
    rows: np.ndarray  # sorted row indices
    scale: float  # how many uninspected rows each drawn one stands for


def _unlabelled_draw(candidates: np.ndarray, config: TrainConfig) -> _Draw:
    """``config.unlabelled_sample`` of the uninspected training rows, drawn at random (seeded), or all."""
    n = config.unlabelled_sample
    if n is None or n >= candidates.size:
        return _Draw(candidates, 1.0)
    if n <= 0:
        raise ValueError(f"unlabelled_sample must be positive or None, not {n}")
    rng = np.random.default_rng([config.seed, 0x5EED])
    return _Draw(np.sort(rng.choice(candidates, size=n, replace=False)), candidates.size / n)


def fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, train: np.ndarray, valid: np.ndarray, names: tuple[str, ...],
        config: TrainConfig, labelled: np.ndarray | None = None, prior: np.ndarray | None = None
        ) -> tuple[lightgbm.Booster, dict[str, Any]]:
    """Early-stopped fit on ``train`` (judged on ``valid``), then a refit on both with the rounds found.

    ``labelled`` marks the inspected rows (default: all): their class balance sets the positives' weight,
    so that uninspected negatives change it only through their own weight. ``prior`` (raw scores, one per
    row of ``X``; only the rows of ``train`` and ``valid`` are read), when given, is where boosting starts
    instead of the labels' average: the trees learn what the labels say beyond it, and the returned model
    scores that correction (its starting constant folded in), to be added to the prior.
    """
    base = _params(y, train if labelled is None else train & labelled, names, config)  # kept by the refit
    params = {**base, "metric": [config.stop_metric], "first_metric_only": True}
    start = None if prior is None else prior + _start_constant(prior, y, w, train, base)
    dtrain = lightgbm.Dataset(X[train], y[train], weight=w[train], feature_name=list(names), free_raw_data=False,
                              init_score=None if start is None else start[train], **_categorical(names))
    dvalid = lightgbm.Dataset(X[valid], y[valid], weight=w[valid], reference=dtrain,
                              init_score=None if start is None else start[valid])
    probe = lightgbm.train(params, dtrain, config.max_rounds, valid_sets=[dvalid], valid_names=["valid"],
                           callbacks=[lightgbm.early_stopping(config.patience, verbose=False)])
    rounds = min(max(probe.best_iteration, config.min_rounds), config.max_rounds)  # max_rounds is a hard cap
    p_valid = np.asarray(probe.predict(X[valid], num_iteration=rounds, raw_score=True))
    if start is not None:
        p_valid = p_valid + start[valid]
    metrics = {
        "rounds": rounds,
        "valid_rows": int(valid.sum()), "valid_positives": int(y[valid].sum()),
        "valid_average_precision": average_precision(p_valid, y[valid]),
        "valid_roc_auc": roc_auc(p_valid, y[valid]),
        "train_rows": int(train.sum()), "train_positives": int(y[train].sum()),
        "scale_pos_weight": params["scale_pos_weight"],
        "boosted_from_prior": prior is not None,
    }
    return _grow(X, y, w, train | valid, names, base, rounds, prior), metrics


def fit_with_tips(history: History, feats: Features, periods: Periods, rows: Rows, config: TrainConfig
                  ) -> tuple[lightgbm.Booster, dict[str, Any]]:
    """The main model and the tip model (:mod:`models.tips`) as one: the tip model first, then the main
    model boosted from its prior, their trees added and recalibrated; the tip model's metrics go under
    ``tip_model`` (None when there is none: ``tip_weight`` 0, or too few tip findings, and then the main
    model alone)."""
    tip = fit_tip_model(history, feats, periods, rows, config) if config.tip_weight > 0 else None
    # Boosting from the tip model's prior, the main trees learn what the inspections' labels say beyond
    # it: where labels are many they correct it, where they are few (a new route's dry cargo) the prior
    # stands; a main model fit on its own and then summed would count twice what both see.
    fitted = rows.train | rows.valid
    prior = None
    if tip is not None:
        prior = np.zeros(len(feats.X))
        prior[fitted] = tip_prior(tip, config.tip_weight, feats.X[fitted])
    booster, metrics = fit(feats.X, rows.y, rows.weight, rows.train, rows.valid, feats.names,
                           main_budget(config, tip), rows.labelled, prior)
    if tip is None:
        return booster, {**metrics, "tip_model": None}
    merged = add_trees(booster, tip.booster, config.tip_weight, tip.offset)
    # The main model learns P(drugs found | inspected) with its positives up-weighted, the tip model a
    # relative risk over all containers: a logistic fit on the labelled rows maps the sum to
    # P(drugs found | inspected). It is monotone, so the ranking, and every figure at capacity, stays.
    used = fitted & rows.labelled
    raw = np.asarray(merged.predict(feats.X[used], raw_score=True))
    scale, shift = platt(raw, rows.y[used].astype(float), rows.weight[used])
    calibration = {"scale": scale, "shift": shift}
    return rescale(merged, scale, shift), {**metrics, "tip_model": {**tip.metrics, "calibration": calibration}}


def main_budget(config: TrainConfig, tip: TipModel | None) -> TrainConfig:
    """The main model's configuration: with a tip model sharing the scoring budget, its rounds capped at
    ``main_max_rounds``; without one, ``config`` as it is."""
    if tip is None:
        return config
    return dataclasses.replace(config, max_rounds=min(config.max_rounds, config.main_max_rounds))


def refit(X: np.ndarray, y: np.ndarray, w: np.ndarray, rows: np.ndarray, names: tuple[str, ...], config: TrainConfig,
          rounds: int, labelled: np.ndarray | None = None, prior: np.ndarray | None = None) -> lightgbm.Booster:
    """A model of ``rounds`` trees on ``rows`` (no early stopping: the rounds were found before); ``prior``
    as in :func:`fit`."""
    return _grow(X, y, w, rows, names, _params(y, rows if labelled is None else rows & labelled, names, config),
                 rounds, prior)


def _grow(X: np.ndarray, y: np.ndarray, w: np.ndarray, rows: np.ndarray, names: tuple[str, ...],
          params: dict[str, Any], rounds: int, prior: np.ndarray | None = None) -> lightgbm.Booster:
    if prior is None:
        data = lightgbm.Dataset(X[rows], y[rows], weight=w[rows], feature_name=list(names), **_categorical(names))
        return lightgbm.train(params, data, rounds)
    constant = _start_constant(prior, y, w, rows, params)
    data = lightgbm.Dataset(X[rows], y[rows], weight=w[rows], feature_name=list(names),
                            init_score=prior[rows] + constant, **_categorical(names))
    # LightGBM's raw score leaves the init score out: fold the starting constant into the trees, so that
    # the model scores everything it adds to the prior.
    return rescale(lightgbm.train(params, data, rounds), 1.0, constant)


def _start_constant(prior: np.ndarray, y: np.ndarray, w: np.ndarray, rows: np.ndarray, params: dict[str, Any]) -> float:
    """The constant boosting from ``prior`` starts at: the one that fits ``rows``' labels best under the loss
    LightGBM minimises (positives weighted ``scale_pos_weight``) — the labels' average, given the prior."""
    positive = y[rows].astype(bool)
    weight = w[rows] * np.where(positive, params["scale_pos_weight"], 1.0)
    return intercept(prior[rows], positive.astype(float), weight)


def _categorical(names: tuple[str, ...]) -> dict[str, Any]:
    """The Dataset arguments that declare the segment codes categorical (none for a feature set without)."""
    indices = [i for i, name in enumerate(names) if name in SEGMENT_NAMES]
    return {"categorical_feature": indices} if indices else {}


def _params(y: np.ndarray, rows: np.ndarray, names: tuple[str, ...], config: TrainConfig) -> dict[str, Any]:
    n_pos, n_neg = int(y[rows].sum()), int((~y[rows]).sum())
    # Categories need as much evidence as leaves do: a category's statistics are smoothed towards the
    # overall ones (cat_smooth) and a split keeps only categories with min_data_per_group rows.
    categorical = CATEGORICAL_PARAMS if _categorical(names) else {}
    return {**config.params, **categorical, "seed": config.seed,
            # Few positives: up-weight them, but by the square root of the imbalance only, since full
            # balancing lets a handful of findings dominate every split.
            "scale_pos_weight": config.pos_weight or math.sqrt(n_neg / max(n_pos, 1)),
            "monotone_constraints": monotone_constraints(names),
            "monotone_constraints_method": "advanced"}


def feature_config_for(history_dir: str | Path) -> FeatureConfig | None:
    """The feature configuration a history directory declares in ``feature_config.json``, if any.

    An imported history (issue 7) names its party roles and extra attributes there, so that training —
    and through the model's tables, the worker — computes the features that history supports.
    """
    path = Path(history_dir) / FEATURE_CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return FeatureConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc


def with_declared_features(config: TrainConfig, history_dir: str | Path) -> TrainConfig:
    """``config`` with the history's declared feature configuration (roles, extras), if it has one; segment
    codes when either asks for them."""
    declared = feature_config_for(history_dir)
    if declared is None:
        return config
    return dataclasses.replace(config, features=dataclasses.replace(
        declared, segment_codes=declared.segment_codes or config.features.segment_codes))


def train_model(history_dir: str | Path, out_dir: str | Path, config: TrainConfig | None = None) -> ModelCard:
    """Train on a history directory and write the model artifact to ``out_dir``; returns its card.

    The feature configuration is the history's ``feature_config.json`` when it has one, else
    ``config.features``.
    """
    config = config or TrainConfig()
    config = with_declared_features(config, history_dir)
    history = load_history(history_dir)
    periods = split(history, config)
    log.info("periods %s", periods.to_dict())
    feats = featurise(history, config.features, cutoffs(periods, config.refresh_days))
    rows = training_rows(history, feats, periods, config)
    booster, metrics = fit_with_tips(history, feats, periods, rows, config)

    later = period_mask(history, periods.train_end, periods.valid_end)
    p_later = np.asarray(booster.predict(feats.X[later]))
    scans_per_day = _capacity_share(history, periods)
    threshold = float(np.quantile(p_later, 1.0 - scans_per_day)) if p_later.size else 0.5
    sample = np.random.default_rng(config.seed).permutation(np.flatnonzero(later))[:20_000]
    onnx_bytes, parity = export_with_gate(booster, feats.names, feats.X[sample], threshold, seed=config.seed)

    tables_bytes = feats.tables.to_bytes()
    digest = hashlib.sha256(booster.model_to_string().encode() + tables_bytes).hexdigest()[:8]
    card = ModelCard.create(
        version=f"lgbm-{periods.valid_end:%Y%m%d}-{digest}",
        feature_names=feats.names,
        training_start=periods.tables_end.isoformat(),
        training_end=periods.valid_end.isoformat(),
        data_summary=_data_summary(history, periods, rows, read_import_record(history_dir)),
        metrics=metrics,
        parity=parity.to_dict(),
        selection_bias=SELECTION_BIAS.format(
            random_weight=config.random_weight,
            rule="are left out" if config.rule_weight <= 0 else f"are weighted {config.rule_weight:g}x",
            unlabelled="are left out" if config.unlabelled_weight <= 0
            else f"of the training period join as negatives with weight {config.unlabelled_weight:g} each",
            tips=TIPS_USED.format(weight=config.tip_weight) if metrics["tip_model"] is not None
            else TIPS_UNUSED.format(why="tip_weight 0" if config.tip_weight <= 0 else "too few tip findings")),
        extra={"tables_file": TABLES_FILE, "tables_digest": feats.tables.digest,
               "feature_config": config.features.to_dict(), "periods": periods.to_dict(),
               "decision_threshold": threshold, "refresh_days": config.refresh_days,
               "params": {**config.params, **(CATEGORICAL_PARAMS if config.features.segment_codes else {})},
               "seed": config.seed,
               "random_weight": config.random_weight, "rule_weight": config.rule_weight,
               "unlabelled_weight": config.unlabelled_weight, "unlabelled_sample": config.unlabelled_sample,
               "tip_weight": config.tip_weight, "tip_sample": config.tip_sample,
               "main_max_rounds": config.main_max_rounds, "tip_max_rounds": config.tip_max_rounds,
               "recency_half_life_days": config.recency_half_life_days},
    )
    return save_artifact(out_dir, booster, onnx_bytes, card, extra_files={TABLES_FILE: tables_bytes})


def _capacity_share(history: History, periods: Periods) -> float:
    """Share of containers the ports scanned (the decision threshold's quantile), from the outcomes."""
    known = history.outcomes[history.outcomes["inspected_at"] < periods.valid_end]
    return max(len(known) / max(int(period_mask(history, periods.start, periods.valid_end).sum()), 1), 1e-4)


def _data_summary(history: History, periods: Periods, rows: Rows, imported: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """What the model was trained on; for an imported history also its ``import.json`` (mapping, summary)."""
    before = period_mask(history, periods.start, periods.valid_end)
    used = (rows.train | rows.valid) & rows.labelled
    return {
        "events_replayed": len(history.events),
        "events_before_cutoff": int(before.sum()),
        "rows_used": int(used.sum()),
        "unlabelled_rows_used": int((rows.train & ~rows.labelled).sum()),
        "positives_used": int(rows.y[used].sum()),
        "random_selection_rows": int((used & (rows.selection == "random")).sum()),
        "outcomes": len(history.outcomes),
        "ports": sorted(history.events["mainport"].astype(str).unique().tolist()),
        **({"import": imported} if imported is not None else {}),
    }
