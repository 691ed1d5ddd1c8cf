"""Import throughput: an administration's CSV → history directory → feature vectors, on one core.

A seeded synthetic world (the real generator, about 370,000 declarations over 21 days at 0.6 scale) is
exported as the flat, labelled CSV an administration would hand over (:mod:`models.importer.world_csv`)
and imported back with its mapping. Timed per run, interleaved over several repetitions so drift on a
shared machine spreads over all cases:

- ``import_csv``: ``import_history`` of the CSV (read, convert, check, write Parquet + import.json);
- ``import_parquet``: the same rows from a Parquet file;
- ``featurise``: ``load_history`` of the imported directory and replay through the feature pipeline
  (reference tables fixed, built once from the first half) — what training and evaluation do per row;
- ``import_and_featurise``: per run, rows / (import_csv + featurise) — the issue's measure, target
  >= 50,000 rows/s;
- baselines measured in the same run: ``pandas_read_csv`` (reading the same CSV as text with pandas,
  no conversion, no checks), ``featurise_world`` (the simulated world's own directory through the
  same load and replay: the path the import must match) and ``replay_baseline`` (the imported
  history's replay, without the load, through the feature code of an earlier commit: ``--baseline``,
  by default the last one before the issue-7 throughput work; see ``feature_baseline.py``).

Rates are per second of wall-clock time (the issue's measure) and, as ``rows/cpu-s``, per second of the
process's CPU time, which does not count the moments a shared machine's scheduler gives the core to
other work.

Outputs are checked before timing: the re-imported history must give bit-identical feature vectors to
the simulated world (every row, every table version), and the current feature code must give the
baseline's vectors bit for bit. Afterwards a model is trained on the re-imported
history with ``portrisk train``'s code and evaluated on its labels (``portrisk evaluate`` without
truth); that table is printed, and after it the same model's evaluation against the simulated truth.
``--big-rows N`` also imports an N-row file (the CSV repeated with shifted times and ids) in a child
process and records its time and peak memory.

    python benchmarks/bench_import.py                       # full run, a few minutes
    python benchmarks/bench_import.py --quick               # small world, for checking the program itself
    python benchmarks/bench_import.py --big-rows 10000000   # plus the ten-million-row import

Results: tables on stdout and ``benchmarks/results/import.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from feature_baseline import BASELINE_REV, Baseline
from results_file import add_out_argument, save_results

from features.config import FeatureConfig
from features.pipeline import FeaturePipeline
from features.ports import DEFAULT_PORTS
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore
from models.dataset import featurise, load_history
from models.evaluate import evaluate_model, format_report
from models.importer import import_history
from models.importer.world_csv import export_world_csv, world_mapping
from models.tables import build_tables
from models.train import TrainConfig, cutoffs, split, train_model
from models.world import simulate

TARGET_ROWS_PER_S = 50_000


def featurise_dir(history_dir: Path, tables: Any) -> int:
    """Load a history directory and replay it through the pipeline with fixed tables; returns rows."""
    history = load_history(history_dir)
    replay(FeaturePipeline(tables), event_rows(history.events), outcome_rows(history.outcomes), InMemoryStore())
    return len(history.events)


def check_same_features(world: Path, imported: Path) -> int:
    """Assert the two directories give bit-identical features with point-in-time tables; returns rows."""
    a, b = load_history(world), load_history(imported)
    config = TrainConfig()
    times = cutoffs(split(a, config), config.refresh_days)
    fa, fb = featurise(a, FeatureConfig(), times), featurise(b, FeatureConfig(), times)
    assert fa.names == fb.names and fa.tables.digest == fb.tables.digest, "tables differ"
    assert np.array_equal(fa.X, fb.X, equal_nan=True), "the imported history gives other features"
    return len(a.events)


def big_file(csv: Path, rows: int, out: Path) -> int:
    """``csv`` repeated until ``rows`` rows, each copy with new ids and times shifted past the previous one."""
    table = pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(pacsv.read_csv(csv).column_names, pa.string())))
    times = [c for c in ("event_time", "eta", "inspected_at") if c in table.column_names]
    first = pc.min(pc.cast(table["event_time"], pa.timestamp("ms", tz="UTC"))).as_py()
    last = pc.max(pc.cast(table["event_time"], pa.timestamp("ms", tz="UTC"))).as_py()
    span = (last - first) + timedelta(days=1)
    written = 0
    with pacsv.CSVWriter(out, table.schema) as writer:
        copy = 0
        while written < rows:
            part = table.slice(0, min(table.num_rows, rows - written))
            if copy:
                shift = pa.scalar(int(span.total_seconds() * 1e6) * copy, pa.duration("us"))
                for name in times:
                    text = part[name]
                    stamps = pc.cast(pc.if_else(pc.equal(text, ""), None, text), pa.timestamp("us", tz="UTC"))
                    shifted = pc.strftime(pc.add(stamps, shift), format="%Y-%m-%dT%H:%M:%SZ")
                    part = part.set_column(part.schema.get_field_index(name), name, shifted)
                for name in ("event_id", "amends_event_id"):
                    ids = pc.if_else(pc.equal(part[name], ""), None, part[name])
                    suffixed = pc.binary_join_element_wise(ids, f"c{copy}", "-")
                    part = part.set_column(part.schema.get_field_index(name), name, suffixed)
            writer.write_table(part)
            written += part.num_rows
            copy += 1
    return written


def big_import(csv: Path, out: Path) -> dict[str, Any]:
    """Import ``csv`` in a child process; its time, rows/s and peak resident memory."""
    # VmHWM is the child's own high-water mark; ru_maxrss would include the benchmark's pages it was
    # forked from.
    code = ("import sys, json, time; from models.importer import import_history; "
            "from models.importer.world_csv import world_mapping; t = time.perf_counter(); "
            "r = import_history(sys.argv[1], world_mapping(), sys.argv[2], max_bad_rows=0); "
            "s = time.perf_counter() - t; "
            "hwm = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print(json.dumps({'seconds': s, 'rows': r.summary['rows_imported'], 'peak_kib': hwm}))")
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(csv), str(out)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the big import failed: {done.stderr[-2000:]}")
    elapsed = time.perf_counter() - began
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"rows": result["rows"], "file_bytes": csv.stat().st_size, "seconds": result["seconds"],
            "rows_per_s": result["rows"] / result["seconds"], "process_seconds": elapsed,
            "peak_rss_mb": result["peak_kib"] / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small world, two repetitions, no training")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--big-rows", type=int, default=0, help="also import a file of this many rows")
    parser.add_argument("--baseline", default=BASELINE_REV,
                        help="git revision whose feature code is the baseline, or 'none' (default: %(default).12s)")
    add_out_argument(parser, "import")
    args = parser.parse_args()
    days, scale, reps = (6, 0.1, 2) if args.quick else (21, 0.6, args.repetitions)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, whatever the pool size
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        run(args, days, scale, reps, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, days: int, scale: float, reps: int, work: Path) -> None:
    world = work / "world"
    simulate(days=days, seed=11, scale=scale, out_dir=world)
    csv, parquet = work / "world.csv", work / "world.parquet"
    n = export_world_csv(world, csv)
    pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(
        pacsv.read_csv(csv).column_names, pa.string()))).to_pandas().to_parquet(parquet, index=False)
    mapping = world_mapping()

    # Correctness first: the import path gives the simulated path's features, bit for bit.
    check_same_features(world, import_history(csv, mapping, work / "checked").out_dir)
    history = load_history(world)
    start = history.start
    tables = build_tables(history.events, history.outcomes, FeatureConfig(), start, start + timedelta(days=days // 2))
    baseline = None if args.baseline == "none" else Baseline(args.baseline, work)
    if baseline is not None:
        imported = load_history(work / "checked")
        baseline.set_inputs(imported.events, imported.outcomes, tables.to_bytes())
        current = FeaturePipeline(tables)
        baseline.check_identical(replay(current, event_rows(imported.events), outcome_rows(imported.outcomes),
                                        InMemoryStore()), current.names, work)

    counter = iter(range(10**6))

    def fresh() -> Path:
        return work / f"run-{next(counter)}"

    cases: dict[str, Callable[[], object]] = {
        "import_csv": lambda: import_history(csv, mapping, fresh()),
        "import_parquet": lambda: import_history(parquet, mapping, fresh()),
        "featurise": lambda: featurise_dir(work / "checked", tables),
        "pandas_read_csv": lambda: pd.read_csv(csv, dtype=str, keep_default_na=False),
        "featurise_world": lambda: featurise_dir(world, tables),
    }
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in cases}
    if baseline is not None:
        seconds["replay_baseline"], cpu_seconds["replay_baseline"] = [], []
    for _ in range(reps):
        for name, case in cases.items():
            gc.collect()
            began, began_cpu = time.perf_counter(), time.process_time()
            case()
            seconds[name].append(time.perf_counter() - began)
            cpu_seconds[name].append(time.process_time() - began_cpu)
        if baseline is not None:
            wall, cpu = baseline.replay()  # timed in the child, as the replay alone
            seconds["replay_baseline"].append(wall)
            cpu_seconds["replay_baseline"].append(cpu)
    rates = {name: [n / s for s in runs] for name, runs in seconds.items()}
    cpu_rates = {name: [n / s for s in runs] for name, runs in cpu_seconds.items()}
    for per, times in ((rates, seconds), (cpu_rates, cpu_seconds)):
        per["import_and_featurise"] = [n / (a + b) for a, b in zip(times["import_csv"], times["featurise"],
                                                                    strict=True)]
    summary = {name: {"rows": n, "p50_rows_per_s": median(r), "min_rows_per_s": min(r), "max_rows_per_s": max(r),
                      "spread": (max(r) - min(r)) / median(r), "runs": r,
                      "p50_rows_per_cpu_s": median(cpu_rates[name]), "cpu_runs": cpu_rates[name]}
               for name, r in rates.items()}
    combined = median(rates["import_and_featurise"])
    result: dict[str, Any] = {
        "benchmark": "import", "quick": args.quick,
        "world": {"days": days, "scale": scale, "rows": n, "csv_bytes": csv.stat().st_size},
        "repetitions": reps, "cores": 1, "target_rows_per_s": TARGET_ROWS_PER_S,
        "meets_target": combined >= TARGET_ROWS_PER_S,
        "import_meets_target": median(rates["import_csv"]) >= TARGET_ROWS_PER_S,
        "features_identical_to_simulated_path": True,
        "baseline": None if baseline is None else {"rev": baseline.rev, "identical_vectors": True,
                                                    "features_added_since": baseline.new_features},
        "cases": summary,
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count()},
    }
    print(f"{n:,} rows ({csv.stat().st_size / 1e6:.0f} MB CSV), {reps} repetitions, one core; re-imported features "
          "identical to the simulated world's" + ("" if baseline is None else
                                                  f" and to the baseline {baseline.rev[:12]}'s"))
    print(f"{'case':<22}{'p50 rows/s':>12}{'min':>10}{'max':>10}{'spread':>8}{'p50 rows/cpu-s':>16}")
    for name, s in summary.items():
        print(f"{name:<22}{s['p50_rows_per_s']:>12,.0f}{s['min_rows_per_s']:>10,.0f}{s['max_rows_per_s']:>10,.0f}"
              f"{s['spread']:>8.1%}{s['p50_rows_per_cpu_s']:>16,.0f}")
    print(f"target >= {TARGET_ROWS_PER_S:,} rows/s imported and featurised: "
          f"{'met' if result['meets_target'] else 'MISSED'} ({combined:,.0f}; "
          f"{median(cpu_rates['import_and_featurise']):,.0f} per CPU second); import alone "
          f"{median(rates['import_csv']):,.0f} rows/s")

    if args.big_rows:
        big = work / "big.csv"
        rows = big_file(csv, args.big_rows, big)
        result["big"] = big_import(big, work / "big-history")
        b = result["big"]
        print(f"big file: {rows:,} rows, {b['file_bytes'] / 1e9:.1f} GB, imported in {b['seconds']:.0f} s "
              f"({b['rows_per_s']:,.0f} rows/s), peak memory {b['peak_rss_mb']:,.0f} MB")
        big.unlink()
        shutil.rmtree(work / "big-history", ignore_errors=True)

    if not args.quick:
        model = work / "model"
        train_model(work / "checked", model, TrainConfig())
        report = evaluate_model(work / "checked", model, {})
        result["evaluation"] = report
        print("\nevaluation of a model trained on the re-imported history (portrisk evaluate without truth):")
        print(format_report(report))
        # The same model against the simulated truth, for comparison: what the labels can and cannot show.
        capacities = {p.id: float(p.capacity_per_day) for p in DEFAULT_PORTS}
        truth_report = evaluate_model(world, model, capacities)
        result["evaluation_with_truth"] = truth_report
        print("\nthe same model on the simulated world, against its truth (portrisk evaluate with truth):")
        print(format_report(truth_report))
    save_results(result, args.out, default=str)


if __name__ == "__main__":
    main()
