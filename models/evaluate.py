"""`portrisk evaluate`: score a held-out period with a model artifact and compare it at scan capacity.

The history is replayed from its start through the model's own pipeline (its reference tables, the
worker's code), so shipper histories are as warm as the worker's would be; containers first declared
in the test period are then scored by the ONNX model — the serving path — and compared with the
legacy policy, random selection and the truth oracle (:mod:`models.evaluation`). Evaluation reads the
simulated truth (``truth/truth.parquet``); training never does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore
from models.dataset import History, load_history
from models.evaluation import container_table, evaluate_table
from portrisk.errors import DataError
from scoring.session import ScoringSession


def test_start_for(history: History, card_periods: Mapping[str, str] | None, share: float = 0.77) -> datetime:
    """The model's training cut-off if it falls inside the history, else the last ``1 - share`` of it."""
    if card_periods and "valid_end" in card_periods:
        cutoff = datetime.fromisoformat(card_periods["valid_end"])
        if history.start < cutoff < history.end:
            return cutoff
    return history.start + (history.end - history.start) * share


def world_scale(history_dir: Path) -> float:
    """The ``scale`` a simulated world was generated with (capacity scales with it); 1 otherwise."""
    meta = history_dir / "world.json"
    if not meta.is_file():
        return 1.0
    return float(json.loads(meta.read_text()).get("config", {}).get("scale", 1.0))


def evaluate_model(history_dir: str | Path, model_dir: str | Path, capacities: Mapping[str, float],
                   test_start: datetime | None = None) -> dict[str, Any]:
    """The evaluation report of the model in ``model_dir`` on the history in ``history_dir``."""
    from models.world.writer import read_truth

    root = Path(history_dir)
    history = load_history(root)
    truth = read_truth(root)
    pipeline = FeaturePipeline.from_model_dir(model_dir)
    session = ScoringSession.load(model_dir, pipeline.names)
    start = test_start or test_start_for(history, session.card.extra.get("periods"))
    X = replay(pipeline, event_rows(history.events), outcome_rows(history.outcomes), InMemoryStore())
    scores = session.score_batch(X)
    scale = world_scale(root)
    table = container_table(history.events, history.outcomes, truth, scores, start, history.end)
    if table.empty:
        raise DataError(f"no container first declared between {start} and {history.end} to evaluate on")
    report = evaluate_table(table, {p: c * scale for p, c in capacities.items()})
    report.update(model=session.version, feature_hash=session.card.feature_hash,
                  test_period={"start": start.isoformat(), "end": history.end.isoformat()},
                  typologies=_typology_totals(report["ports"]))
    return report


def _typology_totals(ports: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Recall per typology over all ports (recalls weighted by each port's illicit containers)."""
    totals: dict[str, dict[str, float]] = {}
    for port in ports.values():
        for name, t in port["typologies"].items():
            acc = totals.setdefault(name, {"illicit": 0, "model": 0.0, "legacy": 0.0, "oracle": 0.0})
            acc["illicit"] += t["illicit"]
            for who in ("model", "legacy", "oracle"):
                acc[who] += t[f"{who}_recall"] * t["illicit"]
    return {name: {"illicit": int(a["illicit"]),
                   **{f"{who}_recall": a[who] / a["illicit"] for who in ("model", "legacy", "oracle")}}
            for name, a in sorted(totals.items()) if a["illicit"]}


def format_report(report: Mapping[str, Any]) -> str:
    """A readable multi-table rendering of an evaluation report."""
    lines = [f"model {report['model']}  test period {report['test_period']['start']} .. "
             f"{report['test_period']['end']}",
             f"{report['containers']:,} containers, {report['illicit']:,} illicit (truth); "
             f"PR-AUC {report['pr_auc']:.3f} (oracle {report['oracle_pr_auc']:.3f}), ROC-AUC "
             f"{report['roc_auc']:.3f}, Brier {report['brier']:.5f}", ""]
    head = (f"{'port':<11}{'k/day':>6}{'illicit':>8}{'P@k':>7}{'R@k':>7}{'legacy':>8}{'policy':>8}{'random':>8}"
            f"{'oracle':>8}{'xlegacy':>8}{'xrandom':>8}{'/oracle':>8}{'PR-AUC':>8}")
    lines += ["precision and recall at each port's daily scan capacity (k)", head, "-" * len(head)]
    for port_id, p in report["ports"].items():
        lines.append(
            f"{port_id:<11}{p['capacity_per_day']:>6g}{p['illicit']:>8}{p['precision_at_capacity']:>7.1%}"
            f"{p['recall_at_capacity']:>7.1%}{p['legacy_precision_at_capacity']:>8.1%}"
            f"{p['legacy_policy_precision']:>8.1%}{p['random_precision_at_capacity']:>8.2%}"
            f"{p['oracle_precision_at_capacity']:>8.1%}{_times(p['lift_over_legacy'])}"
            f"{_times(p['lift_over_random'])}{_times(p['ratio_to_oracle'])}{p['pr_auc']:>8.3f}")
    lines += ["", "legacy = containers the legacy rules selected; policy = rules plus their random share",
              "", "recall per typology at capacity (all ports)",
              f"{'typology':<18}{'illicit':>8}{'model':>8}{'legacy':>8}{'oracle':>8}"]
    for name, t in report["typologies"].items():
        lines.append(f"{name:<18}{t['illicit']:>8}{t['model_recall']:>8.1%}{t['legacy_recall']:>8.1%}"
                     f"{t['oracle_recall']:>8.1%}")
    lines += ["", "calibration (equal-count bins of the score; predicted = P(drugs found | inspected))",
              f"{'bin':>4}{'n':>9}{'predicted':>11}{'observed':>10}"]
    for i, b in enumerate(report["calibration"]):
        lines.append(f"{i + 1:>4}{b['n']:>9,}{b['predicted']:>11.4f}{b['observed']:>10.4f}")
    return "\n".join(lines)


def _times(value: float | None) -> str:
    return f"{'-':>8}" if value is None else f"{value:>7.2f}x"


def to_json(report: Mapping[str, Any]) -> str:
    """The report as JSON (NaN becomes null)."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and value != value:
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(dict(report)), indent=2, sort_keys=True, allow_nan=False)


__all__ = ["evaluate_model", "format_report", "test_start_for", "to_json"]
