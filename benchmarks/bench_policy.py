"""Selection-policy throughput: decisions/s of SelectionPolicy vs a fixed-threshold baseline, same run.

Workload (seeded): a day and a half of Rotterdam-sized arrivals (23,000 a day) with LightGBM-like
scores, in micro-batches as the worker forms them. Variants, each run ``--runs`` times on a fresh policy:

- ``baseline_fixed_threshold``  ``score >= t`` per event, building the same Decision objects: the floor
- ``decide``                    ``SelectionPolicy.decide`` per event (adaptive threshold, random draw)
- ``decide_batch``              ``SelectionPolicy.decide_batch`` per micro-batch
- ``decide_batch_rules``        the same with the example analyst rules (config/rules.example.toml)

Outputs are checked before timing counts: ``decide`` and ``decide_batch`` must agree decision for
decision, and the flags of the last full day must be within 25 % of capacity. Reported per variant:
decisions/s (median and min over runs) and per-batch latency p50/p99 (all batches of all runs).

    python benchmarks/bench_policy.py [--runs 5] [--batch 500] [--out benchmarks/results/policy.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from results_file import add_out_argument, save_results

from features.contract import ManifestEvent
from features.ports import PortConfig
from scoring.policy import Decision, SelectionPolicy
from scoring.rules import RuleBook

ROOT = Path(__file__).resolve().parent.parent
Decide = Callable[[list[ManifestEvent], np.ndarray], list[Decision]]
PORT = PortConfig(id="rotterdam", name="Rotterdam", containers_per_day=23_000, capacity_per_day=150)
START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()


def workload(n: int, seed: int) -> tuple[list[ManifestEvent], np.ndarray]:
    """Events in event-time order over n / 23,000 days, with scores: mostly low, a risky 2 % higher."""
    rng = np.random.default_rng(seed)
    times = np.sort(START + rng.uniform(0, n / 23_000 * 86_400, n))
    origins = np.array(["CNSHA", "ECGYE", "USNYC", "COCTG", "BRSSZ", "SGSIN"])[rng.integers(0, 6, n)]
    events = [ManifestEvent.model_construct(
        event_id=f"bench-{i}", event_time=datetime.fromtimestamp(t, UTC), mainport="rotterdam",
        transport_mode="sea", container_type="45R1" if i % 4 == 0 else "45G1", port_of_loading=str(o),
        transshipment_ports=("PAMIT",) if i % 9 == 0 else (), hs_code="080390" if i % 5 == 0 else "847130",
        shipper_id=f"CN{i % 5000:09d}", consignee_id=f"NL{i % 3000:09d}", notify_party_id=None,
        declarant_id=None, is_amendment=i % 50 == 0) for i, (t, o) in enumerate(zip(times, origins, strict=True))]
    logit = np.where(rng.random(n) < 0.02, rng.normal(-1.5, 1.5, n), rng.normal(-5.5, 1.2, n))
    return events, (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)


def run_variant(name: str, events: list[ManifestEvent], scores: np.ndarray, batch: int,
                make: Callable[[], Decide],
                keep: bool) -> dict[str, object]:
    """One run on a fresh policy. Decisions are kept only when asked (for the checks): a worker drops
    them after each batch, and a heap of 100k+ retained objects would time the garbage collector."""
    decide = make()
    latencies = []
    decisions: list[Decision] = []
    gc.collect()
    start = time.perf_counter()
    for lo in range(0, len(events), batch):
        t0 = time.perf_counter()
        out = decide(events[lo:lo + batch], scores[lo:lo + batch])
        latencies.append(time.perf_counter() - t0)
        if keep:
            decisions += out
    return {"name": name, "seconds": time.perf_counter() - start, "latencies": latencies, "decisions": decisions}


def variants(rules: Path) -> dict[str, Callable[[], Decide]]:
    def baseline() -> Decide:
        threshold = 0.3

        def decide(evs: list[ManifestEvent], s: np.ndarray) -> list[Decision]:
            return [Decision("scan", "model", (), threshold, 0.0) if float(x) >= threshold
                    else Decision("release", None, (), threshold, 0.0) for x in s]
        return decide

    def single() -> Decide:
        policy = SelectionPolicy([PORT], 0.10, None, seed=1)
        return lambda evs, s: [policy.decide("rotterdam", float(x), e, e.event_time)
                               for e, x in zip(evs, s, strict=True)]

    def batched(rulebook: RuleBook | None = None) -> Callable[[], Decide]:
        def make() -> Decide:
            policy = SelectionPolicy([PORT], 0.10, rulebook, seed=1)
            return lambda evs, s: policy.decide_batch(["rotterdam"] * len(evs), s, evs)
        return make

    return {"baseline_fixed_threshold": baseline, "decide": single, "decide_batch": batched(),
            "decide_batch_rules": batched(RuleBook(rules))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=34_500)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rules", type=Path, default=ROOT / "config" / "rules.example.toml")
    add_out_argument(parser, "policy")
    args = parser.parse_args()

    events, scores = workload(args.events, args.seed)
    results: dict[str, list[dict[str, object]]] = {}
    for run in range(args.runs):
        for name, make in variants(args.rules).items():
            results.setdefault(name, []).append(run_variant(name, events, scores, args.batch, make, keep=run == 0))

    # Correctness before speed: the two policy paths agree, and the flags track capacity.
    single: list[Decision] = results["decide"][0]["decisions"]  # type: ignore[assignment]
    assert single == results["decide_batch"][0]["decisions"], "decide and decide_batch disagree"
    day_start = START + 86_400 * (args.events / 23_000 - 1)
    flags = sum(d.decision == "scan" for d, e in zip(single, events, strict=True)
                if e.event_time.timestamp() >= day_start)
    assert abs(flags - 150) <= 0.25 * 150, f"{flags} flags in the last day for a capacity of 150"

    summary = {}
    for name, runs in results.items():
        rates = sorted(args.events / float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
        lat = np.concatenate([np.asarray(r["latencies"]) for r in runs])
        summary[name] = {"decisions_per_s_median": round(float(np.median(rates))),
                         "decisions_per_s_min": round(rates[0]),
                         "batch_latency_ms_p50": round(float(np.percentile(lat, 50)) * 1e3, 3),
                         "batch_latency_ms_p99": round(float(np.percentile(lat, 99)) * 1e3, 3)}
    base = summary["baseline_fixed_threshold"]["decisions_per_s_median"]
    for name in summary:
        summary[name]["relative_to_baseline"] = round(summary[name]["decisions_per_s_median"] / base, 3)
    report = {"benchmark": "policy", "created": datetime.now(UTC).isoformat(timespec="seconds"),
              "workload": {"events": args.events, "batch": args.batch, "runs": args.runs, "seed": args.seed,
                           "port": PORT.id, "capacity_per_day": PORT.capacity_per_day,
                           "flags_last_day": int(flags)},
              "machine": {"python": platform.python_version(), "processor": platform.machine()},
              "results": summary}
    save_results(report, args.out)
    print(json.dumps(report["results"], indent=2))


if __name__ == "__main__":
    main()
