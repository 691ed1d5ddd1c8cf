"""`portrisk evaluate`: score a held-out period with a model artifact and compare it at scan capacity.

The history is replayed from its start through the model's own pipeline (its reference tables, the
worker's code), so shipper histories are as warm as the worker's would be; containers first declared
in the test period are then scored by the ONNX model — the serving path — and compared with the
legacy policy, random selection and the truth oracle (:mod:`models.evaluation`). Evaluation reads the
simulated truth (``truth/truth.parquet``); training never does.

A history without truth — an administration's, imported by ``portrisk import`` — is evaluated on its
labels instead (:func:`evaluate_labelled_history`): precision@n % and recall@n % among the containers
inspected in the later period, AUC, and the lift over ranking by each party's past finding rate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore
from models.dataset import History, container_keys, labels, load_history
from models.evaluation import container_table, evaluate_labelled, evaluate_table, labelled_table
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


DEFAULT_RATES = (1.0, 2.0, 5.0, 10.0)


def evaluate_model(history_dir: str | Path, model_dir: str | Path, capacities: Mapping[str, float],
                   test_start: datetime | None = None, rates: Sequence[float] = DEFAULT_RATES) -> dict[str, Any]:
    """The evaluation report of the model in ``model_dir`` on the history in ``history_dir``.

    With the simulated truth, per port at its daily ``capacities``; without it (an imported history),
    on the inspected containers at the inspection ``rates`` (percent).
    """
    from models.world.writer import TRUTH_FILE, read_truth

    root = Path(history_dir)
    history = load_history(root)
    pipeline = FeaturePipeline.from_model_dir(model_dir)
    session = ScoringSession.load(model_dir, pipeline.names)
    start = test_start or test_start_for(history, session.card.extra.get("periods"))
    X = replay(pipeline, event_rows(history.events), outcome_rows(history.outcomes), InMemoryStore())
    scores = session.score_batch(X)
    if not (root / TRUTH_FILE).is_file():
        return evaluate_labelled_history(history, pipeline, X, scores, start, tuple(rates)) | {
            "model": session.version, "feature_hash": session.card.feature_hash}
    truth = read_truth(root)
    scale = world_scale(root)
    table = container_table(history.events, history.outcomes, truth, scores, start, history.end)
    if table.empty:
        raise DataError(f"no container first declared between {start} and {history.end} to evaluate on")
    report = evaluate_table(table, {p: c * scale for p, c in capacities.items()})
    report.update(model=session.version, feature_hash=session.card.feature_hash,
                  test_period={"start": start.isoformat(), "end": history.end.isoformat()},
                  typologies=typology_totals(report["ports"]))
    return report


def evaluate_labelled_history(history: History, pipeline: FeaturePipeline, X: Any, scores: Any, start: datetime,
                              rates: tuple[float, ...]) -> dict[str, Any]:
    """The labelled report (see the module docstring) from the replayed features and the model's scores.

    Baselines rank by each party's past finding rate as the features hold it at declaration time —
    the shipper's from its history, every other role's from the model's reference tables — with a
    party never inspected at the overall rate, as smoothing would have it.
    """
    roles = ["shipper", *(r.name for r in pipeline.config.party_roles)]
    prior = pipeline.tables.prior
    baselines = {role: np.nan_to_num(X[:, pipeline.names.index(f"{role}_finding_rate")], nan=prior)
                 for role in roles}
    keys = container_keys(history.events)
    first = history.events.groupby(keys, sort=False)["event_time"].transform("min")
    known = labels(history, datetime.max.replace(tzinfo=UTC))
    table = labelled_table(keys, first, known.inspected, known.drugs, scores, baselines, start, history.end)
    if table.empty:
        raise DataError(f"no inspected container first declared between {start} and {history.end} to evaluate on")
    report = evaluate_labelled(table, roles, rates)
    containers = int(((first >= start) & (first <= history.end)).groupby(keys).any().sum())
    report.update(containers=containers, test_period={"start": start.isoformat(), "end": history.end.isoformat()})
    return report


def format_labelled_report(report: Mapping[str, Any]) -> str:
    """A readable table of a labelled report (an imported history)."""
    baselines = list(report["baseline_roc_auc"])
    lines = [f"model {report['model']}  test period {report['test_period']['start']} .. {report['test_period']['end']}",
             f"{report['containers']:,} containers declared, {report['inspected']:,} inspected, "
             f"{report['findings']:,} findings ({report['base_rate']:.1%} of inspected); AUC {report['roc_auc']:.3f}, "
             f"PR-AUC {report['pr_auc']:.3f}; ranking by past finding rate: AUC "
             + ", ".join(f"{b} {v:.3f}" for b, v in report["baseline_roc_auc"].items()), "",
             "top n % of the inspected containers of the test period by the model's score",
             f"{'n %':>5}{'top':>7}{'P@n%':>8}{'R@n%':>8}{'xrandom':>9}"]
    for row in report["rates"]:
        lines.append(f"{row['n_percent']:>5g}{row['selected']:>7}{row['precision']:>8.1%}{row['recall']:>8.1%}"
                     f"{times_cell(row['lift_over_random']):>9}")
    lines += ["", "ranked by each party's past finding rate instead: its P@n% and the model's lift over it",
              f"{'n %':>5}" + "".join(f"{b[:14]:>22}" for b in baselines)]
    for row in report["rates"]:
        per = row["baselines"]
        lines.append(f"{row['n_percent']:>5g}" + "".join(
            f"{per[b]['precision']:>13.1%}{times_cell(per[b]['lift']):>9}" for b in baselines))
    return "\n".join(lines)


def typology_totals(ports: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Recall per typology over all ports (recalls weighted by each port's illicit containers)."""
    totals: dict[str, dict[str, float]] = {}
    for port in ports.values():
        for name, t in port["typologies"].items():
            who = [k.removesuffix("_recall") for k in t if k.endswith("_recall")]
            acc = totals.setdefault(name, {"illicit": 0, **{w: 0.0 for w in who}})
            acc["illicit"] += t["illicit"]
            for w in who:
                acc[w] = acc.get(w, 0.0) + t[f"{w}_recall"] * t["illicit"]
    return {name: {"illicit": int(a["illicit"]),
                   **{f"{w}_recall": v / a["illicit"] for w, v in a.items() if w != "illicit"}}
            for name, a in sorted(totals.items()) if a["illicit"]}


def format_report(report: Mapping[str, Any]) -> str:
    """A readable multi-table rendering of an evaluation report."""
    if report.get("kind") == "labelled":
        return format_labelled_report(report)
    lines = [f"model {report['model']}  test period {report['test_period']['start']} .. "
             f"{report['test_period']['end']}",
             f"{report['containers']:,} containers, {report['illicit']:,} illicit (truth); "
             f"PR-AUC {report['pr_auc']:.3f} (oracle {report['oracle_pr_auc']:.3f}), ROC-AUC "
             f"{report['roc_auc']:.3f}, Brier {report['brier']:.5f}", ""]
    head = (f"{'port':<11}{'k/day':>6}{'illicit':>8}{'P@k':>7}{'R@k':>7}{'legacy':>8}{'policy':>8}{'random':>8}"
            f"{'oracle':>8}{'decl.':>8}{'xlegacy':>8}{'xrandom':>8}{'/oracle':>8}{'/decl.':>8}{'PR-AUC':>8}")
    lines += ["precision and recall at each port's daily scan capacity (k)", head, "-" * len(head)]
    for port_id, p in report["ports"].items():
        lines.append(
            f"{port_id:<11}{p['capacity_per_day']:>6g}{p['illicit']:>8}{p['precision_at_capacity']:>7.1%}"
            f"{p['recall_at_capacity']:>7.1%}{p['legacy_precision_at_capacity']:>8.1%}"
            f"{p['legacy_policy_precision']:>8.1%}{p['random_precision_at_capacity']:>8.2%}"
            f"{p['oracle_precision_at_capacity']:>8.1%}{share_cell(p.get('declared_oracle_precision_at_capacity'))}"
            f"{times_cell(p['lift_over_legacy'])}{times_cell(p['lift_over_random'])}{times_cell(p['ratio_to_oracle'])}"
            f"{times_cell(p.get('ratio_to_declared_oracle'))}{p['pr_auc']:>8.3f}")
    lines += interval_lines(report["ports"])
    lines += ["", "legacy = containers the legacy rules selected; policy = rules plus their random share; decl. = "
              "oracle on what the declarations show (p_declared)",
              "", "recall per typology at capacity (all ports)",
              f"{'typology':<18}{'illicit':>8}{'model':>8}{'legacy':>8}{'oracle':>8}{'decl.':>8}"]
    for name, t in report["typologies"].items():
        lines.append(f"{name:<18}{t['illicit']:>8}{t['model_recall']:>8.1%}{t['legacy_recall']:>8.1%}"
                     f"{t['oracle_recall']:>8.1%}{share_cell(t.get('declared_oracle_recall'))}")
    lines += ["", "rip-on/rip-off recall at capacity per port", f"{'port':<18}{'illicit':>8}{'model':>8}{'legacy':>8}"
              f"{'oracle':>8}{'decl.':>8}"]
    for port_id, p in report["ports"].items():
        rip = p["typologies"].get("rip_on")
        if rip:
            lines.append(f"{port_id:<18}{rip['illicit']:>8}{rip['model_recall']:>8.1%}{rip['legacy_recall']:>8.1%}"
                         f"{rip['oracle_recall']:>8.1%}{share_cell(rip.get('declared_oracle_recall'))}")
    lines += _segment_gap_lines(report["ports"])
    lines += ["", "calibration (equal-count bins of the score; predicted = P(drugs found | inspected))",
              f"{'bin':>4}{'n':>9}{'predicted':>11}{'observed':>10}"]
    for i, b in enumerate(report["calibration"]):
        lines.append(f"{i + 1:>4}{b['n']:>9,}{b['predicted']:>11.4f}{b['observed']:>10.4f}")
    return "\n".join(lines)


def interval_lines(ports: Mapping[str, Any], subject: str = "the model") -> list[str]:
    """Per port, the intervals of ``subject``'s precision at capacity and of its ratios."""
    first = next((p["intervals"] for p in ports.values() if p.get("intervals")), None)
    if first is None:
        return []
    lines = ["", f"{first['level']:.0%} intervals of {subject}'s figures, the period's days resampled "
             f"({first['resamples']} draws; every ranking on the same days)",
             f"{'port':<11}{'P@k':>16}{'xlegacy':>16}{'/oracle':>16}{'/decl.':>16}"]
    for port_id, p in ports.items():
        iv = p.get("intervals") or {}
        lines.append(f"{port_id:<11}{_range(iv.get('precision_at_capacity'), '.1%')}"
                     f"{_range(iv.get('lift_over_legacy'), '.2f', 'x')}{_range(iv.get('ratio_to_oracle'), '.2f', 'x')}"
                     f"{_range(iv.get('ratio_to_declared_oracle'), '.2f', 'x')}")
    return lines


def _range(bounds: Any, spec: str, unit: str = "") -> str:
    """An interval as a right-aligned 16-character cell ('15.8%–18.3%', '2.31–2.95x'); '-' without one."""
    if not bounds:
        return f"{'-':>16}"
    low, high = bounds
    return f"{f'{low:{spec}}–{high:{spec}}{unit}':>16}"


def _segment_gap_lines(ports: Mapping[str, Any]) -> list[str]:
    """Per port, the segments where the model's picks miss most of what the reference ranking finds."""
    reference = next((p.get("segment_gap_reference") for p in ports.values() if p.get("segment_gaps")), None)
    if reference is None:
        return []
    name = "oracle on declarations" if reference == "declared_oracle" else "oracle"
    lines = ["", f"where the model falls furthest behind the {name}: segments (port of loading>routing|HS chapter|"
             "reefer or dry), per day", f"{'port':<11}{'segment':<30}{'boxes':>7}{'loaded':>8}{'model':>7}"
             f"{'hits':>6}{'ref.':>7}{'hits':>6}"]
    for port_id, p in ports.items():
        for gap in p.get("segment_gaps") or []:
            loaded = gap["illicit"] / gap["containers"] if gap["containers"] else 0.0
            lines.append(f"{port_id:<11}{gap['segment'][:29]:<30}{gap['containers']:>7.1f}{loaded:>8.1%}"
                         f"{gap['model_scans']:>7.1f}{gap['model_hits']:>6.1f}{gap['reference_scans']:>7.1f}"
                         f"{gap['reference_hits']:>6.1f}")
    return lines


def times_cell(value: float | None, width: int = 8) -> str:
    """A ratio as a right-aligned table cell ('2.20x'); '-' when there is none."""
    return f"{'-':>{width}}" if value is None else f"{value:>{width - 1}.2f}x"


def share_cell(value: float | None, width: int = 8) -> str:
    """A share as a right-aligned table cell ('14.3%'); '-' when there is none."""
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.1%}"


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


__all__ = ["evaluate_labelled_history", "evaluate_model", "format_report", "test_start_for", "to_json"]
