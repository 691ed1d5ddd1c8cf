"""World generation throughput: events generated per second for a world of about a million events.

Each run generates the same seeded world (30 days at the scale that gives ~1 M events) on one core and
is timed end to end; writing the Parquet files is timed separately. Before timing, the program checks
its output: the frames hold the contract's fields and a sample of events decodes with the contract.
The baseline, measured in the same run, is what building a validated ``ManifestEvent`` per event
would cost (the approach the generator avoids by working on columns).

    python benchmarks/bench_world.py            # 3 runs of ~1 M events, about a minute on one core
    python benchmarks/bench_world.py --quick    # small world, for checking the program itself

Results: a summary on stdout and ``benchmarks/results/world.json``. Target: 1 M events in under 60 s.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from results_file import add_out_argument, save_results

from features.contract import MANIFEST_FIELDS, ManifestEvent, decode_manifest, encode_event
from features.records import frame_records
from models.world import generate_world, make_config, write_world

TARGET_S_PER_MILLION = 60.0
EVENTS_PER_SCALE_MONTH = 886_000  # ~events of 30 days at scale 1 with the default ports


def check(events: pd.DataFrame, port_ids: frozenset[str], sample: int = 2000) -> None:
    """Fail loudly unless the frame is the contract and a sample of rows decodes."""
    if tuple(events.columns) != MANIFEST_FIELDS:
        raise SystemExit(f"events columns differ from the contract: {list(events.columns)}")
    for record in frame_records(events.sample(n=min(sample, len(events)), random_state=0)):
        decode_manifest(encode_event(record), port_ids)


def per_event_baseline(events: pd.DataFrame, n: int = 20_000) -> float:
    """Events per second when a validated ManifestEvent is built for each row (records already made)."""
    records = list(frame_records(events.head(n)))
    began = time.perf_counter()
    for record in records:
        ManifestEvent.model_validate(record, strict=False)
    return len(records) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small world, one run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=1_000_000, help="approximate events per run")
    add_out_argument(parser, "world")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # one core, as the target says; the machine is shared anyway
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    runs = 1 if args.quick else args.runs
    target_events = 30_000 if args.quick else args.events
    config = make_config(days=30, seed=2024, scale=target_events / EVENTS_PER_SCALE_MONTH)
    port_ids = frozenset(p.id for p in config.ports)

    timings, events = [], 0
    for run in range(runs):
        gc.collect()
        began = time.perf_counter()
        world = generate_world(config)
        elapsed = time.perf_counter() - began
        events = len(world.events)
        if run == 0:
            check(world.events, port_ids)
            with tempfile.TemporaryDirectory() as tmp:
                began_write = time.perf_counter()
                write_world(world, Path(tmp))
                write_s = time.perf_counter() - began_write
            baseline = per_event_baseline(world.events)
        timings.append(elapsed)
        print(f"run {run + 1}/{runs}: {events:,} events in {elapsed:.2f} s ({events / elapsed:,.0f} events/s)")
        del world

    rates = sorted(events / t for t in timings)
    result = {
        "benchmark": "world generation",
        "config": {"days": config.days, "seed": config.seed, "scale": round(config.scale, 4)},
        "events": events,
        "runs": runs,
        "seconds": [round(t, 3) for t in timings],
        "events_per_s_p50": round(statistics.median(rates)),
        "events_per_s_best": round(rates[-1]),
        "events_per_s_worst": round(rates[0]),
        "seconds_per_million_p50": round(1e6 / statistics.median(rates), 2),
        "target_seconds_per_million": TARGET_S_PER_MILLION,
        "write_parquet_s": round(write_s, 3),
        "baseline_per_event_pydantic_events_per_s": round(baseline),
        "speedup_over_baseline_p50": round(statistics.median(rates) / baseline, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    print(f"p50 {result['events_per_s_p50']:,} events/s (best {result['events_per_s_best']:,}, worst "
          f"{result['events_per_s_worst']:,}); {result['seconds_per_million_p50']} s per million events "
          f"(target {TARGET_S_PER_MILLION:.0f} s); Parquet write {write_s:.2f} s")
    print(f"baseline: building a validated ManifestEvent per event alone runs at {baseline:,.0f} events/s; "
          f"generating the whole world by columns is {result['speedup_over_baseline_p50']}x that")
    save_results(result, args.out)


if __name__ == "__main__":
    main()
