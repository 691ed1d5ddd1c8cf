"""Scoring latency: the ONNX serving session against native LightGBM, measured in the same run.

Two models, each timed as ONNX (the serving path) and as its own LightGBM booster:

- ``served``: the model the worker serves (``--model``, by default ``models/default``), on real feature
  rows: a seeded synthetic world (the real generator, 3 days at a tenth of full scale) replayed through
  that model's own feature pipeline and tables;
- ``stress``: a larger synthetic model (60 float32 features with missing values, rare positives,
  300 trees of 31 leaves: deeper trees than the served model's), through the real export path: float32
  threshold rewrite, parity gate, artifact, :class:`scoring.session.ScoringSession`. It shows how the
  figures move should a later model need bigger trees.

Each case is timed per call, interleaved with the other cases over several repetitions so that drift on
a shared machine spreads over all of them. Outputs are checked against LightGBM before anything is timed.

    python benchmarks/bench_scoring.py              # full run, under a minute on two cores
    python benchmarks/bench_scoring.py --quick      # small model, for checking the program itself

Results: a table on stdout and ``benchmarks/results/scoring.json``. The target from the issue is
batched ONNX at or under 10 µs per row.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import lightgbm
import numpy as np
import onnxruntime as ort
from results_file import add_out_argument, save_results

from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore
from models.artifact import ModelCard, save_artifact
from models.export import export_with_gate
from models.world import generate_world, make_config
from scoring.session import ScoringSession

TARGET_US_PER_ROW = 10.0
SERVED_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"


@dataclass(frozen=True)
class CaseResult:
    """Timings of one case over all repetitions."""

    model: str
    name: str
    runtime: str
    threads: int
    batch_size: int
    calls: int
    p50_us_per_call: float
    p99_us_per_call: float
    p50_us_per_row: float
    rows_per_s: float
    rep_p50_us_per_row_min: float
    rep_p50_us_per_row_max: float


def make_workload(n_rows: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Float32 features with 5 % missing values; about 4 % positives from a sparse, non-linear signal."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    X[:, : n_features // 4] = rng.exponential(1.0, size=(n_rows, n_features // 4))  # counts, ratios
    X[:, -5:] = rng.integers(0, 2, size=(n_rows, 5))  # flags
    X[rng.random(X.shape) < 0.05] = np.nan
    weights = rng.normal(size=n_features) * (rng.random(n_features) < 0.3)
    filled = np.nan_to_num(X)
    logit = filled @ weights + np.sin(2 * filled[:, 1]) + filled[:, 2] * filled[:, 3]
    logit -= np.quantile(logit, 0.97)  # about 4 % positives once the logistic noise is added
    y = (logit + rng.logistic(size=n_rows) > 0).astype(np.int32)
    return X, y, [f"feature_{i:02d}" for i in range(n_features)]


def time_calls(fn: Callable[[np.ndarray], object], X: np.ndarray, batch_size: int, calls: int) -> np.ndarray:
    """Nanoseconds of each of ``calls`` calls, each on the next ``batch_size`` rows of ``X`` (cycling)."""
    starts = (np.arange(calls) * batch_size) % (len(X) - batch_size)
    batches = [X[s : s + batch_size] for s in starts]  # sliced before timing: views, no copies
    fn(batches[0])  # warm-up: first-call allocations are not steady-state latency
    out = np.empty(calls, dtype=np.int64)
    clock = time.perf_counter_ns
    for i, batch in enumerate(batches):
        t0 = clock()
        fn(batch)
        out[i] = clock() - t0
    return out


def summarise(model: str, name: str, runtime: str, threads: int, batch_size: int, reps: list[np.ndarray]
              ) -> CaseResult:
    """Percentiles over all calls of all repetitions; per-repetition medians show run-to-run spread."""
    all_us = np.concatenate(reps) / 1e3
    rep_p50 = [float(np.median(r)) / 1e3 / batch_size for r in reps]
    return CaseResult(
        model=model, name=name, runtime=runtime, threads=threads, batch_size=batch_size, calls=len(all_us),
        p50_us_per_call=float(np.percentile(all_us, 50)), p99_us_per_call=float(np.percentile(all_us, 99)),
        p50_us_per_row=float(np.percentile(all_us, 50)) / batch_size,
        rows_per_s=len(all_us) * batch_size / (all_us.sum() / 1e6),
        rep_p50_us_per_row_min=min(rep_p50), rep_p50_us_per_row_max=max(rep_p50),
    )


@dataclass
class Subject:
    """A model under test: its ONNX sessions by thread count, its LightGBM booster and rows to score."""

    label: str
    sessions: dict[int, ScoringSession]
    booster: lightgbm.Booster
    X: np.ndarray
    shape: dict[str, object]


def served_subject(model_dir: Path, threads: list[int], quick: bool) -> Subject:
    """The served model on the features of a small simulated world, computed by its own pipeline."""
    pipeline = FeaturePipeline.from_model_dir(model_dir)
    world = generate_world(make_config(days=2 if quick else 3, seed=13, scale=0.05 if quick else 0.1))
    events = world.events.copy()
    events["transshipment_ports"] = [tuple(p) for p in events["transshipment_ports"]]
    X = replay(pipeline, event_rows(events), outcome_rows(world.outcomes), InMemoryStore())
    sessions = {t: ScoringSession.load(model_dir, pipeline.names, intra_op_num_threads=t) for t in threads}
    booster = lightgbm.Booster(model_file=str(model_dir / "model.lgb.txt"))
    card = sessions[min(sessions)].card
    shape = {"path": str(model_dir), "version": card.version, "features": len(pipeline.names),
             "trees": booster.num_trees(), "leaves": card.extra.get("params", {}).get("num_leaves"),
             "rows": len(X), "missing_share": round(float(np.isnan(X).mean()), 4)}
    return Subject("served", sessions, booster, np.ascontiguousarray(X, dtype=np.float32), shape)


def stress_subject(args: argparse.Namespace, work: Path) -> tuple[Subject, dict[str, object]]:
    """A synthetic model of ``args.trees`` trees of ``args.leaves`` leaves through the real export path."""
    X, y, names = make_workload(args.rows + 20_000, args.features, args.seed)
    X_train, y_train, X_test = X[: args.rows], y[: args.rows], np.ascontiguousarray(X[args.rows :])
    t0 = time.perf_counter()
    params = {"objective": "binary", "num_leaves": args.leaves, "learning_rate": 0.05, "verbose": -1,
              "seed": args.seed, "num_threads": args.train_threads}
    booster = lightgbm.train(params, lightgbm.Dataset(X_train, y_train, feature_name=names), args.trees)
    train_s = time.perf_counter() - t0
    onnx_bytes, parity = export_with_gate(booster, names, X_test[:5000], threshold=0.5)
    print(f"stress model: {booster.num_trees()} trees of {args.leaves} leaves trained in {train_s:.1f} s; "
          f"positives {y_train.mean():.2%}; parity max |delta| {parity.max_abs_delta:.2g} over "
          f"{parity.rows_checked} rows")
    card = ModelCard.create("bench", names, "2024-01-01", "2024-06-30", parity=parity.to_dict())
    save_artifact(work / "model", booster, onnx_bytes, card)
    sessions = {t: ScoringSession.load(work / "model", names, intra_op_num_threads=t) for t in args.onnx_threads}
    shape = {"rows": args.rows, "features": args.features, "trees": booster.num_trees(), "leaves": args.leaves,
             "train_seconds": round(train_s, 2), "seed": args.seed}
    return Subject("stress", sessions, booster, X_test, shape), parity.to_dict()


Case = tuple[str, str, str, int, int, Callable[[np.ndarray], object]]


def cases_for(subject: Subject) -> list[Case]:
    """Single-row and batched calls of the subject's ONNX sessions and of its booster (one thread)."""
    # Correctness before speed: a fast wrong answer is not a result.
    booster, X = subject.booster, subject.X
    expected = booster.predict(X)
    for threads, session in subject.sessions.items():
        delta = float(np.abs(session.score_batch(X) - expected).max())
        one = max(abs(session.score_one(X[i]) - expected[i]) for i in range(200))
        assert delta <= 1e-5 and one <= 1e-5, f"{subject.label}, threads={threads}: delta {delta}, single-row {one}"

    def native(b: np.ndarray) -> object:
        return booster.predict(b, num_threads=1)

    single = subject.sessions[min(subject.sessions)]
    cases: list[Case] = [
        (subject.label, "onnx score_one", "onnxruntime", min(subject.sessions), 1, lambda b: single.score_one(b[0])),
        (subject.label, "lightgbm predict", "lightgbm", 1, 1, native),
    ]
    for batch_size in (64, 256, 1024):
        for threads, session in subject.sessions.items():
            cases.append((subject.label, "onnx score_batch", "onnxruntime", threads, batch_size, session.score_batch))
        cases.append((subject.label, "lightgbm predict", "lightgbm", 1, batch_size, native))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=SERVED_MODEL, help="the served model's artifact directory")
    parser.add_argument("--rows", type=int, default=200_000, help="stress model: training rows")
    parser.add_argument("--features", type=int, default=60, help="stress model: features")
    parser.add_argument("--trees", type=int, default=300, help="stress model: trees")
    parser.add_argument("--leaves", type=int, default=31, help="stress model: leaves per tree")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--train-threads", type=int, default=2)
    parser.add_argument("--onnx-threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser, "scoring")
    parser.add_argument("--quick", action="store_true", help="small models, worlds and few calls")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.trees, args.reps = 20_000, 30, 2
    scale = 0.1 if args.quick else 1.0

    served = served_subject(args.model, args.onnx_threads, args.quick)
    print(f"served model {served.shape['version']}: {served.shape['trees']} trees of {served.shape['leaves']} "
          f"leaves, {served.shape['features']} features; {served.shape['rows']:,} feature rows from a simulated "
          f"world ({served.shape['missing_share']:.0%} missing values)")
    with tempfile.TemporaryDirectory() as tmp:
        stress, parity = stress_subject(args, Path(tmp))
    cases = cases_for(served) + cases_for(stress)
    subjects = {"served": served, "stress": stress}

    rows_per_rep = int(50_000 * scale)  # with 5 repetitions, >= 240 calls per case even at batch 1024
    timings: dict[int, list[np.ndarray]] = {i: [] for i in range(len(cases))}
    gc.disable()  # collector pauses are real but belong to the worker's measurements, not the kernel's
    try:
        for _ in range(args.reps):
            for i, (label, _, _, _, batch_size, fn) in enumerate(cases):
                calls = max(20, min(2000, rows_per_rep // batch_size))
                timings[i].append(time_calls(fn, subjects[label].X, batch_size, calls))
    finally:
        gc.enable()

    results = [summarise(label, name, rt, th, bs, timings[i])
               for i, (label, name, rt, th, bs, _) in enumerate(cases)]
    print_table(results)
    write_json(args, results, parity, {"served": served.shape, "stress": stress.shape})


def print_table(results: list[CaseResult]) -> None:
    """One line per case; the target column applies to batched ONNX only."""
    print(f"\n{'model':7} {'case':18} {'threads':>7} {'batch':>6} {'p50/call µs':>12} {'p99/call µs':>12} "
          f"{'p50/row µs':>11} {'rows/s':>10} {'rep spread µs/row':>18}  target")
    for r in results:
        target = ""
        if r.runtime == "onnxruntime" and r.batch_size > 1:
            target = "ok" if r.p50_us_per_row <= TARGET_US_PER_ROW else "MISSED"
        print(f"{r.model:7} {r.name:18} {r.threads:>7} {r.batch_size:>6} {r.p50_us_per_call:>12.1f} "
              f"{r.p99_us_per_call:>12.1f} {r.p50_us_per_row:>11.2f} {r.rows_per_s:>10,.0f} "
              f"{r.rep_p50_us_per_row_min:>8.2f}-{r.rep_p50_us_per_row_max:<9.2f}  {target}")


def write_json(args: argparse.Namespace, results: list[CaseResult], parity: dict[str, object],
               models: dict[str, dict[str, object]]) -> None:
    """Everything needed to compare two runs: environment, model shape, parity and the timings."""
    document = {
        "benchmark": "scoring",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": {
            "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "onnxruntime": ort.__version__, "lightgbm": lightgbm.__version__, "numpy": np.__version__,
        },
        "models": models,
        "stress_parity": parity,
        "target_us_per_row_batched_onnx": TARGET_US_PER_ROW,
        "repetitions": args.reps,
        "cases": [asdict(r) for r in results],
    }
    save_results(document, args.out)


if __name__ == "__main__":
    main()
