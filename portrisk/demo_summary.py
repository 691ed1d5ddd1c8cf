"""The demo's closing summary: what the stream decided, how fast, and how well against the simulation."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd


def summarise(decisions: list[dict[str, Any]], world: Any, capacity: dict[str, float] | None = None) -> str:
    """A readable table per port plus latency and hit rates.

    Hit rates, both against the simulation's hidden truth: the share of the containers portrisk flagged
    (model or rule) that carry drugs, and the same share for the containers the simulated legacy policy
    inspected (its outcomes). A scan misses some loads, so what inspections *find* is lower than either;
    comparing flags with truth on one side and finds on the other would flatter the model.
    """
    truth = dict(zip(world.truth["event_id"], world.truth["illicit"], strict=True))
    rows: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    latencies = []
    for d in decisions:
        row = rows[d["port"]]
        row["decisions"] += 1
        row["flags"] += d["decision"] == "scan"
        row[f"sel_{d['selection']}"] += d["decision"] == "scan"
        row["degraded"] += bool(d["degraded"])
        if d["decision"] == "scan" and d["selection"] in ("model", "rule"):
            row["model_flags"] += 1
            row["model_hits"] += bool(truth.get(d["event_id"], False))
        decided = datetime.fromisoformat(d["decided_at"]).timestamp()
        latencies.append(max(0.0, decided - d["source"]["timestamp_ms"] / 1000.0))
    legacy = _legacy_hits(world.outcomes, truth)
    capacity = capacity or {}
    lines = [f"{'port':<11}{'events':>8}{'flags':>7}{'capacity':>9}{'model':>7}{'random':>7}{'rule':>6}"
             f"{'degraded':>9}{'model hit rate':>16}{'legacy hit rate':>17}"]
    for port in sorted(rows, key=lambda p: -rows[p]["decisions"]):
        r = rows[port]
        model_rate = r["model_hits"] / r["model_flags"] if r["model_flags"] else float("nan")
        cap = capacity.get(port)
        lines.append(f"{port:<11}{int(r['decisions']):>8,}{int(r['flags']):>7}"
                     f"{'-' if cap is None else f'{cap:,.0f}':>9}{int(r['sel_model']):>7}"
                     f"{int(r['sel_random']):>7}{int(r['sel_rule']):>6}{int(r['degraded']):>9}"
                     f"{_pct(model_rate):>16}{_pct(legacy.get(port, float('nan'))):>17}")
    if latencies:
        p50, p99 = np.percentile(latencies, [50, 99])
        lines.append(f"decision latency (publish → acknowledged decision): p50 {p50 * 1000:.1f} ms, "
                     f"p99 {p99 * 1000:.1f} ms over {len(latencies):,} decisions")
    lines.append("hit rate: share carrying drugs in the simulation's truth, of the containers flagged by model or "
                 "rule (model) and of those the simulated legacy policy inspected (legacy)")
    return "\n".join(lines)


def _legacy_hits(outcomes: pd.DataFrame, truth: dict[str, bool]) -> dict[str, float]:
    if outcomes.empty:
        return {}
    hit = [bool(truth.get(event_id, False)) for event_id in outcomes["event_id"]]
    grouped = outcomes.assign(hit=hit).groupby("mainport")["hit"].mean()
    return {str(k): float(v) for k, v in grouped.items()}


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{value * 100:.1f} %"
