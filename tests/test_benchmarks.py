"""The benchmark programs keep running: each, in its smallest mode, checks its own outputs and writes its figures.

Speed is not asserted here (it is measured by the full runs: README, "Benchmarks"). What is asserted is
that every program that needs no broker still runs end to end against the current code — its
correctness checks (parity, identical feature vectors, policy paths agreeing) included — and writes a
JSON document with the figures and the baseline measured in the same run. `bench_worker.py` needs a
broker and minutes of offered load; the worker's path is covered by the integration tests instead.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _baseline_rev() -> str:
    spec = importlib.util.spec_from_file_location("feature_baseline", ROOT / "benchmarks" / "feature_baseline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.BASELINE_REV)


def baseline_args() -> list[str]:
    """The feature benchmarks compare with the feature code of an old commit, taken from git: in a shallow
    clone (no such commit) they run without that baseline rather than fail, and the tests check that the
    document says so."""
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{_baseline_rev()}^{{commit}}"],
                           capture_output=True, check=False)
    return [] if found.returncode == 0 else ["--baseline", "none"]


def run_benchmark(name: str, out: Path, *args: str) -> dict[str, Any]:
    """Run ``benchmarks/<name>.py`` with ``args`` and ``--out``; its JSON document.

    The programs check their outputs with ``assert`` before timing anything, so they run with assertions on
    whatever ``PYTHONOPTIMIZE`` says here: a failed check is a non-zero exit.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONOPTIMIZE"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args, "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return document


def test_bench_world_writes_its_rate_and_baseline(tmp_path: Path) -> None:
    doc = run_benchmark("bench_world", tmp_path / "world.json", "--quick")
    assert doc["events"] > 0 and doc["events_per_s_p50"] > 0
    assert doc["baseline_per_event_pydantic_events_per_s"] > 0


def test_bench_features_checks_its_vectors_and_writes_every_case(tmp_path: Path) -> None:
    extra = baseline_args()
    doc = run_benchmark("bench_features", tmp_path / "features.json", "--quick", *extra)
    assert doc["quick"] is True and doc["features"] > 0
    assert {"replay", "online"} <= set(doc["cases"])
    assert all(case["p50_events_per_s"] > 0 for case in doc["cases"].values())
    if extra:  # a shallow clone: no baseline, and the document says so
        assert doc["baseline"] is None and "baseline_replay" not in doc["cases"]
    else:  # the baseline's vectors were checked equal to today's (an exit otherwise) before it was timed
        assert doc["baseline"]["rev"] == _baseline_rev() and doc["cases"]["baseline_replay"]["p50_events_per_s"] > 0


def test_bench_import_writes_its_cases(tmp_path: Path) -> None:
    extra = baseline_args()
    doc = run_benchmark("bench_import", tmp_path / "import.json", "--quick", *extra)
    assert doc["quick"] is True and doc["world"]["rows"] > 0
    assert {"import_csv", "import_and_featurise"} <= set(doc["cases"])
    assert all(case["p50_rows_per_s"] > 0 for case in doc["cases"].values())
    assert (doc["baseline"] is None) == bool(extra)


def test_bench_scoring_times_the_served_and_the_stress_model(tmp_path: Path) -> None:
    doc = run_benchmark("bench_scoring", tmp_path / "scoring.json", "--quick", "--onnx-threads", "1")
    assert doc["models"]["served"]["path"].endswith("default") and doc["models"]["served"]["rows"] > 0
    assert doc["stress_parity"]["max_abs_delta"] <= 1e-5
    seen = {(c["model"], c["runtime"], c["batch_size"]) for c in doc["cases"]}
    for model in ("served", "stress"):  # each model as ONNX and as its own LightGBM, single rows and batches
        assert {(model, "onnxruntime", 1), (model, "lightgbm", 1), (model, "onnxruntime", 1024),
                (model, "lightgbm", 1024)} <= seen
    assert all(c["p50_us_per_row"] > 0 for c in doc["cases"])


def test_bench_policy_checks_both_decision_paths(tmp_path: Path) -> None:
    doc = run_benchmark("bench_policy", tmp_path / "policy.json", "--runs", "1")
    assert {"decide", "decide_batch", "baseline_fixed_threshold"} <= set(doc["results"])
    assert all(r["decisions_per_s_median"] > 0 for r in doc["results"].values())
    # The scan flags of the last simulated day track the port's capacity (checked by the program, recorded here).
    workload = doc["workload"]
    assert abs(workload["flags_last_day"] - workload["capacity_per_day"]) <= 0.25 * workload["capacity_per_day"]
