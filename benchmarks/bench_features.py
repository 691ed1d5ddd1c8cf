"""Feature computation throughput: offline replay against the worker's per-event path, on one core.

A seeded synthetic world (the real generator, about 100,000 events over 7 days at half scale) is
replayed through :class:`features.pipeline.FeaturePipeline` with reference tables built from its first
days. Timed per run, interleaved over several repetitions so drift on a shared machine spreads over all
cases:

- ``replay``: DataFrame → row tuples → features, outcomes folded in (what training does); the target
  from the issue is at least 30,000 events/s on one core;
- ``replay_rows``: the same on row tuples built beforehand (the pipeline alone);
- ``replay_served``: ``replay`` with the served model's feature set (training's default: the segment
  codes besides, :mod:`features.segments`);
- ``online``: one validated ``ManifestEvent`` at a time through ``process`` (the worker's call), the
  baseline — same code, pydantic objects;
- ``online_changelog``: ``online`` plus the state's ``to_bytes``/``from_bytes`` round trip per event,
  the worker's changelog cost;
- ``baseline_replay``: ``replay`` through the feature code of an earlier commit (``--baseline``, by
  default the last one before the issue-7 throughput work; see ``feature_baseline.py``), in a child
  process on the same inputs: the speed-up is measured in the same run.

Each replay gets a new pipeline (its memos start empty, as in training); the online cases share one,
as a running worker does.

Rates are per second of wall-clock time (the figure that matters) and, as ``ev/cpu-s``, per second of
the process's CPU time: on a machine shared with other work the scheduler takes the core away now and
then, which the second figure does not count.

Outputs are checked before timing: replay and the online path must give bit-identical vectors, and
the replay must give the baseline's vectors bit for bit (every value, every NaN).

    python benchmarks/bench_features.py            # full run, about a minute
    python benchmarks/bench_features.py --quick    # small world, for checking the program itself

Results: a table on stdout and ``benchmarks/results/features.json``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd
from feature_baseline import BASELINE_REV, Baseline
from results_file import add_out_argument, save_results

from features.config import FeatureConfig
from features.contract import ManifestEvent
from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore, PartyState
from models.tables import build_tables
from models.train import TrainConfig
from models.world import generate_world, make_config

TARGET_EVENTS_PER_S = 30_000
ONLINE_EVENTS = 20_000  # pydantic objects for the baseline: enough for a stable rate, quick to build


def manifest_events(events: pd.DataFrame, n: int) -> list[ManifestEvent]:
    """The first ``n`` events as validated contract objects (as the worker holds them)."""
    from features.records import frame_records

    return [ManifestEvent.model_validate(r) for r in frame_records(events.iloc[:n])]


def online(pipeline: FeaturePipeline, events: list[ManifestEvent], changelog: bool) -> np.ndarray:
    """The worker's path: ``process`` per event, optionally round-tripping the state through bytes."""
    store = InMemoryStore()
    rows = []
    for event in events:
        if changelog:
            state = store.get(event.shipper_id)
            if state is not None:
                store.put(event.shipper_id, PartyState.from_bytes(state.to_bytes()))
        rows.append(pipeline.process(event, store))
    return np.vstack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small world, two repetitions")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--baseline", default=BASELINE_REV,
                        help="git revision whose feature code is the baseline, or 'none' (default: %(default).12s)")
    add_out_argument(parser, "features")
    args = parser.parse_args()
    days, scale, reps = (4, 0.1, 2) if args.quick else (7, 0.5, args.repetitions)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, whatever the pool size

    with tempfile.TemporaryDirectory(prefix="bench-features-") as work:
        result = run(args, days, scale, reps, Path(work))
    save_results(result, args.out)


def run(args: argparse.Namespace, days: int, scale: float, reps: int, work: Path) -> dict[str, object]:
    """Generate the world, check the outputs, time every case; the results document."""
    world = generate_world(make_config(days=days, seed=11, scale=scale))
    events = world.events.copy()
    events["transshipment_ports"] = [tuple(p) for p in events["transshipment_ports"]]
    outcomes = world.outcomes
    start = events["event_time"].iloc[0].to_pydatetime()
    tables = build_tables(events, outcomes, FeatureConfig(), start, start + timedelta(days=days // 2))
    pipeline = FeaturePipeline(tables)
    n = len(events)
    rows = list(event_rows(events))
    contract = manifest_events(events, min(ONLINE_EVENTS, n))

    # Correctness first: replay and the worker's path agree bit for bit (no outcomes: the online loop
    # here does not fold them), and the outcome-folding replay gives the baseline's vectors.
    reference = replay(pipeline, rows[: len(contract)], [], InMemoryStore())
    assert np.array_equal(reference, online(pipeline, contract, changelog=False), equal_nan=True)
    assert np.array_equal(reference, online(pipeline, contract, changelog=True), equal_nan=True)
    baseline = None if args.baseline == "none" else Baseline(args.baseline, work)
    if baseline is not None:
        baseline.set_inputs(events, outcomes, tables.to_bytes())
        current = FeaturePipeline(tables)
        baseline.check_identical(replay(current, event_rows(events), outcome_rows(outcomes), InMemoryStore()),
                                 current.names, work)

    def timed(run: Callable[[], object]) -> Callable[[], tuple[float, float]]:
        def case() -> tuple[float, float]:
            began, began_cpu = time.perf_counter(), time.process_time()
            run()
            return time.perf_counter() - began, time.process_time() - began_cpu
        return case

    cases: dict[str, tuple[Callable[[], tuple[float, float]], int]] = {
        "replay": (timed(lambda: replay(FeaturePipeline(tables), event_rows(events), outcome_rows(outcomes),
                                        InMemoryStore())), n),
        "replay_rows": (timed(lambda: replay(FeaturePipeline(tables), rows, outcome_rows(outcomes), InMemoryStore())),
                        n),
        "online": (timed(lambda: online(pipeline, contract, changelog=False)), len(contract)),
        "online_changelog": (timed(lambda: online(pipeline, contract, changelog=True)), len(contract)),
    }
    # The served model's feature set: the same features plus the segment codes (training's default).
    served_tables = build_tables(events, outcomes, TrainConfig().features, start, start + timedelta(days=days // 2))
    cases["replay_served"] = (timed(lambda: replay(FeaturePipeline(served_tables), event_rows(events),
                                                   outcome_rows(outcomes), InMemoryStore())), n)
    if baseline is not None:
        cases["baseline_replay"] = (baseline.replay, n)
    rates: dict[str, list[float]] = {name: [] for name in cases}
    cpu_rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, (case, count) in cases.items():
            gc.collect()
            wall, cpu = case()
            rates[name].append(count / wall)
            cpu_rates[name].append(count / cpu)

    states = InMemoryStore()
    pipeline.process_many(rows, states)
    sizes = [len(s.to_bytes()) for s in states.states.values()]
    summary = {
        name: {"events": cases[name][1], "p50_events_per_s": median(r), "min_events_per_s": min(r),
               "max_events_per_s": max(r), "spread": (max(r) - min(r)) / median(r), "runs": r,
               "p50_events_per_cpu_s": median(cpu_rates[name]), "cpu_runs": cpu_rates[name]}
        for name, r in rates.items()
    }
    replay_p50 = median(rates["replay"])
    result: dict[str, object] = {
        "benchmark": "features", "quick": args.quick, "world": {"days": days, "scale": scale, "events": n},
        "features": len(pipeline.names), "served_features": len(FeaturePipeline(served_tables).names),
        "repetitions": reps, "cores": 1,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "meets_target": replay_p50 >= TARGET_EVENTS_PER_S,
        "baseline": None if baseline is None else {
            "rev": baseline.rev, "identical_vectors": True, "features_added_since": baseline.new_features,
            "replay_speedup": replay_p50 / median(rates["baseline_replay"])},
        "cases": summary,
        "state_bytes": {"shippers": len(sizes), "p50": median(sizes), "max": max(sizes)},
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count()},
    }
    print(f"{n:,} events, {len(pipeline.names)} features ({result['served_features']} in replay_served: with the "
          f"segment codes), {reps} repetitions, one core")
    print(f"{'case':<18}{'events':>9}{'p50 ev/s':>11}{'min':>10}{'max':>10}{'spread':>8}{'p50 ev/cpu-s':>14}")
    for name, s in summary.items():
        print(f"{name:<18}{s['events']:>9,}{s['p50_events_per_s']:>11,.0f}{s['min_events_per_s']:>10,.0f}"
              f"{s['max_events_per_s']:>10,.0f}{s['spread']:>8.1%}{s['p50_events_per_cpu_s']:>14,.0f}")
    print(f"state: {len(sizes):,} shippers, p50 {median(sizes)} bytes, max {max(sizes)} bytes")
    if baseline is not None:
        added = f" (features added since, not compared: {', '.join(baseline.new_features)})" \
            if baseline.new_features else ""
        print(f"replay vectors bit-identical to the baseline {baseline.rev[:12]}{added}; replay "
              f"{replay_p50 / median(rates['baseline_replay']):.2f}x its speed")
    print(f"target >= {TARGET_EVENTS_PER_S:,} events/s in replay: {'met' if result['meets_target'] else 'MISSED'}")
    return result


if __name__ == "__main__":
    main()
