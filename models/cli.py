"""`portrisk train`, `evaluate` and `backtest`: argparse definitions only; the work is imported on use."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_MODEL_DIR = Path(__file__).with_name("default")


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `train`, `evaluate` and `backtest` verbs to the portrisk command."""
    train = sub.add_parser(
        "train", help="train a model on a history directory and write the model artifact",
        description="Replay the history in event-time order through the feature pipeline (reference tables "
                    "refreshed daily, outcomes folded in when inspected), fit LightGBM on the inspected "
                    "containers before the training cut-off, export to ONNX through the parity gate and "
                    "write MODEL_DIR (model.onnx, model.lgb.txt, card.json, tables.json.gz). The last "
                    "23 %% of the history is held out for `portrisk evaluate` (--holdout-share); a model to "
                    "deploy holds out nothing (--holdout-share 0): it learns up to the last midnight of the "
                    "history, the newest results included.")
    train.add_argument("--world", "--history", dest="world", type=Path, required=True,
                       help="history directory: events.parquet and outcomes.parquet (a simulated world, or an "
                            "administration's history from `portrisk import`)")
    train.add_argument("--out", type=Path, required=True, help="model directory to create (must not exist)")
    train.add_argument("--seed", type=int, default=0, help="random seed of the training (default 0)")
    train.add_argument("--holdout-share", type=_holdout, default=None,
                       help="share of the history after the training cut-off, held out for evaluation "
                            "(default 0.23; 0: train up to the last midnight, for deployment)")
    train.add_argument("--refresh-days", type=float, default=1.0,
                       help="refresh interval of the reference tables during replay (default 1 day)")
    train.add_argument("--random-weight", type=float, default=None,
                       help="weight of random-selection labels relative to the legacy policy's selections (default 3)")
    train.add_argument("--rule-weight", type=float, default=None,
                       help="weight of labels from analysts' rules and tips, selected on knowledge outside the "
                            "features (default 0: left out)")
    train.add_argument("--unlabelled-weight", type=float, default=None,
                       help="weight of each uninspected container of the training period as a negative, "
                            "relative to an inspected one (default 0: left out)")
    train.add_argument("--unlabelled-sample", type=_positive_int, default=None,
                       help="uninspected containers drawn at random to stand for all of them (default 200000)")
    train.add_argument("--half-life-days", type=float, default=None,
                       help="a label's weight halves every this many days before the cut-off, for drift "
                            "(default 30; 0: all days weigh the same)")
    train.add_argument("--segment-codes", action=argparse.BooleanOptionalAction, default=None,
                       help="the segment (port of loading, routing, HS chapter, reefer or dry) as categorical "
                            "features (features.segments; default: on)")
    train.add_argument("--tip-weight", type=float, default=None,
                       help="weight of the tip model's trees, fit to the findings of intelligence-led inspections "
                            "against a sample of all containers (models/tips.py; default 1; 0: none)")
    train.add_argument("--tip-max-rounds", type=int, default=None,
                       help="most trees the tip model may add, a scoring-time budget (default 200)")
    train.add_argument("--main-max-rounds", type=int, default=None,
                       help="most trees of the main model when a tip model shares the scoring budget (default 100)")
    train.set_defaults(func=_train)

    evaluate = sub.add_parser(
        "evaluate", help="evaluate a model on a world's held-out period at each port's scan capacity",
        description="Score the containers of the held-out test period (from the model's training cut-off, "
                    "or --test-start) and compare, per port at its daily scan capacity, with the legacy "
                    "policy, random selection and the oracle that ranks by the true probability. Reads the "
                    "world's truth. A history without truth (from `portrisk import`) is evaluated on its labels: "
                    "precision@n %% and recall@n %% among the inspected containers of the test period, AUC, "
                    "and the lift over ranking by each party's past finding rate.")
    evaluate.add_argument("--world", "--history", dest="world", type=Path, required=True,
                          help="world directory (with truth/), or an imported history (without)")
    evaluate.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR,
                          help=f"model directory (default {DEFAULT_MODEL_DIR})")
    evaluate.add_argument("--test-start", type=_date, default=None,
                          help="first day of the test period, YYYY-MM-DD (default: the model's cut-off)")
    evaluate.add_argument("--rates", type=_rates, default=None,
                          help="inspection rates in percent for a history without truth (default 1,2,5,10)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.set_defaults(func=_evaluate)

    backtest = sub.add_parser(
        "backtest", help="replay portrisk deployed over a world's held-out period, retrained on its own scans",
        description="Train as `portrisk train` does, then walk the world's held-out period: each day each port "
                    "scans its capacity, a random share drawn at random and the rest by the current model's "
                    "score; scan results come from the world's truth and scanner and are known on arrival; "
                    "every --retrain-days the model is retrained on the labels known by then. Prints the "
                    "frozen model beside the learning one, per port and per step. Needs a simulated world.")
    backtest.add_argument("--world", type=Path, required=True, help="world directory (with truth/ and world.json)")
    backtest.add_argument("--retrain-days", type=_whole_days, default=7,
                          help="days between retrainings (default 7)")
    backtest.add_argument("--random-share", type=_share, default=None,
                          help="share of each port's scans drawn at random (default: the policy's random_share)")
    backtest.add_argument("--explore-share", type=_share, default=0.0,
                          help="share of each port's scans aimed at segments (origin, routing, HS chapter, reefer) "
                               "whose finding rate may be high, by few labels or many findings; by score within "
                               "a segment (default 0)")
    backtest.add_argument("--explore-boost", type=float, default=2.0,
                          help="standard errors added to a segment's finding rate when ranking segments for the "
                               "explored share (default 2)")
    backtest.add_argument("--explore-prior", type=float, default=10.0,
                          help="pseudo-labels at the overall finding rate that smooth a segment's rate (default 10)")
    backtest.add_argument("--seed", type=int, default=0, help="seed of the random scans and scanner draws")
    backtest.add_argument("--fixed-features", dest="live_features", action="store_false",
                          help="use the features of the world as it happened (the legacy policy's findings, the "
                               "cut-off's tables) instead of computing them from portrisk's own results: half "
                               "the time, less faithful")
    backtest.add_argument("--segment-codes", action=argparse.BooleanOptionalAction, default=None,
                          help="train and retrain with or without the segment codes (as portrisk train; "
                               "default: on)")
    backtest.add_argument("--json", action="store_true", help="print the report as JSON")
    backtest.set_defaults(func=_backtest)


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from exc


def _whole_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {text!r}") from exc
    if days < 1:
        raise argparse.ArgumentTypeError(f"retrain interval must be at least 1 day, got {days}")
    return days


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {text!r}") from exc
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"a share must be between 0 and 1, got {share:g}")
    return share


def _holdout(text: str) -> float:
    share = _share(text)
    if share > 0.9:
        raise argparse.ArgumentTypeError(f"holding out {share:g} of the history leaves too little to train on")
    return share


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(part) for part in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected percentages like 1,2,5,10, got {text!r}") from exc
    if not rates or not all(0 < r <= 100 for r in rates):
        raise argparse.ArgumentTypeError(f"rates must be percentages in (0, 100], got {text!r}")
    return rates


def _train(args: argparse.Namespace, settings: Any) -> int:
    from dataclasses import replace

    from models.train import TrainConfig, train_model

    config = TrainConfig(seed=args.seed, refresh_days=args.refresh_days)
    if args.random_weight is not None:
        config = replace(config, random_weight=args.random_weight)
    if args.rule_weight is not None:
        config = replace(config, rule_weight=args.rule_weight)
    if args.unlabelled_weight is not None:
        config = replace(config, unlabelled_weight=args.unlabelled_weight)
    if args.unlabelled_sample is not None:
        config = replace(config, unlabelled_sample=args.unlabelled_sample)
    if args.half_life_days is not None:
        config = replace(config, recency_half_life_days=args.half_life_days or None)
    if args.holdout_share is not None:
        config = replace(config, cutoff_share=1.0 - args.holdout_share)
    if args.segment_codes is not None:
        config = replace(config, features=replace(config.features, segment_codes=args.segment_codes))
    if args.tip_weight is not None:
        config = replace(config, tip_weight=args.tip_weight)
    if args.tip_max_rounds is not None:
        config = replace(config, tip_max_rounds=args.tip_max_rounds)
    if args.main_max_rounds is not None:
        config = replace(config, main_max_rounds=args.main_max_rounds)
    began = time.perf_counter()
    card = train_model(args.world, args.out, config)
    m = card.metrics
    print(f"model {card.version}: {len(card.feature_names)} features (hash {card.feature_hash}), "
          f"trained on {card.data_summary['rows_used']:,} labelled rows with "
          f"{card.data_summary['positives_used']} drug findings, {m['rounds']} rounds"
          + (f" + {m['tip_model']['trees']} tip trees ({m['tip_model']['findings']} tip findings)"
             if m.get("tip_model") else ""))
    print(f"validation: average precision {m['valid_average_precision']:.3f}, ROC-AUC {m['valid_roc_auc']:.3f} "
          f"on {m['valid_rows']:,} rows ({m['valid_positives']} findings); parity max |delta| "
          f"{card.parity['max_abs_delta']:.2g} over {card.parity['rows_checked']:,} rows")
    print(f"written to {args.out} in {time.perf_counter() - began:.1f} s")
    return 0


def _evaluate(args: argparse.Namespace, settings: Any) -> int:
    from models.evaluate import DEFAULT_RATES, evaluate_model, format_report, to_json

    capacities = {p.id: float(p.capacity_per_day) for p in settings.ports}
    report = evaluate_model(args.world, args.model, capacities, args.test_start, args.rates or DEFAULT_RATES)
    print(to_json(report) if args.json else format_report(report))
    return 0


def _backtest(args: argparse.Namespace, settings: Any) -> int:
    from features.config import FeatureConfig
    from models.backtest import BacktestConfig, format_backtest, run_backtest
    from models.evaluate import to_json
    from models.train import TrainConfig

    share = settings.random_share if args.random_share is None else args.random_share
    capacities = {p.id: float(p.capacity_per_day) for p in settings.ports}
    try:
        config = BacktestConfig(retrain_days=args.retrain_days, random_share=share, seed=args.seed,
                                live_features=args.live_features, explore_share=args.explore_share,
                                explore_boost=args.explore_boost, explore_prior=args.explore_prior)
    except ValueError as exc:
        print(f"portrisk backtest: {exc}", file=sys.stderr)
        return 2
    train_config = None if args.segment_codes is None else TrainConfig(
        features=FeatureConfig(segment_codes=args.segment_codes))
    report = run_backtest(args.world, capacities, config, train_config)
    print(to_json(report) if args.json else format_backtest(report))
    return 0
