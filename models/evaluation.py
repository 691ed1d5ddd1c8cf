"""Evaluation of a ranking on a held-out period, per port at its daily capacity, against the truth.

The unit is the container, not the event: an amendment re-declares its container, which keeps the
score of its riskiest declaration, and is counted on the day and at the port of its first declaration
(as the legacy policy selected it). Compared, per port and day with the same k:

- the model: the k highest scores;
- legacy: the containers the legacy rules selected (``selection == "legacy"`` in the outcomes), and
  the whole legacy policy including its random share;
- random: the capacity-weighted base rate (the expected precision of a random draw);
- the oracle: the k highest true probabilities (``p_illicit``), the best any ranking could expect.

A period holds a few dozen days, and a port's hits vary from day to day: the model's precision and its
ratios to legacy and the oracles come with 95 % intervals over the days resampled (paired: every
ranking on the same draw of days), so that a target missed or met by less than the noise reads as such.

An imported history has no truth, only the labels of the containers that were inspected
(:func:`labelled_table`, :func:`evaluate_labelled`). There the question is how well the model orders
what inspectors looked at: of the inspected containers of the later period, the top n % by score —
precision@n % and recall@n % of findings, as in the customs-selection literature (DATE, KDD 2020) —
against the same n % ranked by each party's past finding rate, and AUC. The model's precision over a
baseline's at the same n is its lift.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from models.metrics import (
    at_capacity,
    average_precision,
    calibration,
    day_bootstrap,
    expected_hits,
    random_precision,
    roc_auc,
    top_k_mask,
)

SEGMENT_GAPS = 5  # segments listed per port where the model falls furthest behind the reference ranking
INTERVAL_LEVEL = 0.95  # of the intervals on precision at capacity and its ratios (days resampled)
INTERVAL_RESAMPLES = 2000


def segment_labels(events: pd.DataFrame) -> pd.Series:
    """Per event, its segment: the pattern analysts write rules on — port of loading, routing
    (transshipment hubs), HS chapter — and reefer or dry, e.g. ``ECGYE>PTSIE|09|dry``."""
    routing = events["transshipment_ports"].map(lambda hubs: "-".join(hubs) if hubs is not None else "")
    reefer = events["container_type"].fillna("").str[2:3] == "R"
    labels: pd.Series = (events["port_of_loading"].fillna("").astype(str) + ">" + routing + "|"
                         + events["hs_code"].fillna("").str[:2] + np.where(reefer, "|reefer", "|dry"))
    return labels


def container_table(events: pd.DataFrame, outcomes: pd.DataFrame, truth: pd.DataFrame, scores: np.ndarray,
                    test_start: datetime, test_end: datetime) -> pd.DataFrame:
    """One row per container first declared in ``[test_start, test_end]``.

    Columns: port, day (whole days since the first event's midnight), segment (:func:`segment_labels`
    of its first declaration), score (max over its declarations), illicit, typology, p_illicit,
    p_declared (NaN when the truth has none), legacy (rule-selected), random (selected at random).
    """
    amends = events["amends_event_id"].astype(object) if "amends_event_id" in events else None
    key = events["event_id"].astype(object)
    if amends is not None:
        key = amends.where(amends.notna(), key)
    frame = pd.DataFrame({"key": key.to_numpy(), "score": scores})
    best = frame.groupby("key", sort=False)["score"].max()

    first = events[key.to_numpy() == events["event_id"].to_numpy()]
    times = first["event_time"]
    first = first[(times >= test_start) & (times <= test_end)]
    day0 = pd.Timestamp(events["event_time"].iloc[0]).floor("D")
    table = pd.DataFrame({
        "key": first["event_id"].to_numpy(),
        "port": first["mainport"].astype(object).to_numpy(),
        "day": ((first["event_time"] - day0) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64),
        "segment": segment_labels(first).to_numpy(),
    })
    table["score"] = best.reindex(table["key"]).to_numpy()
    facts = truth.set_index("event_id").reindex(table["key"])
    table["illicit"] = facts["illicit"].fillna(False).to_numpy(dtype=bool)
    table["typology"] = facts["typology"].astype(object).fillna("").to_numpy()
    table["p_illicit"] = facts["p_illicit"].fillna(0.0).to_numpy(dtype=float)
    declared = facts["p_declared"] if "p_declared" in facts else pd.Series(np.nan, index=facts.index)
    table["p_declared"] = declared.to_numpy(dtype=float)
    selection = outcomes.set_index("event_id")["selection"].astype(object)
    chosen = selection.reindex(table["key"]).to_numpy()
    table["legacy"] = chosen == "legacy"
    table["random"] = chosen == "random"
    return table


def _port_report(part: pd.DataFrame, capacity: float) -> dict[str, Any]:
    days = part["day"].to_numpy()
    group = days - days.min()
    k = np.full(group.max() + 1, round(capacity), dtype=np.int64)
    illicit = part["illicit"].to_numpy()
    score = part["score"].to_numpy()
    typology = part["typology"].to_numpy()
    selections = {
        "model": top_k_mask(group, score, k),
        "legacy": part["legacy"].to_numpy(),
        "oracle": top_k_mask(group, part["p_illicit"].to_numpy(), k),
    }
    declared = part["p_declared"].to_numpy() if "p_declared" in part else np.full(len(part), np.nan)
    has_declared = not np.isnan(declared).any()
    if has_declared:
        selections["declared_oracle"] = top_k_mask(group, declared, k)
    model, legacy, oracle = (at_capacity(selections[w], illicit) for w in ("model", "legacy", "oracle"))
    policy = at_capacity((part["legacy"] | part["random"]).to_numpy(), illicit)
    rand = random_precision(group, illicit, k)
    per_typology = {}
    for name in sorted(t for t in part["typology"].unique() if t):
        of_type = typology == name
        per_typology[name] = {"illicit": int(of_type.sum()),
                              **{f"{who}_recall": float((chosen & of_type).sum() / of_type.sum())
                                 for who, chosen in selections.items()}}
    report: dict[str, Any] = {
        "capacity_per_day": capacity,
        "days": int(group.max() + 1),
        "containers": len(part),
        "illicit": int(illicit.sum()),
        "scans": model.scans,
        "precision_at_capacity": model.precision,
        "recall_at_capacity": model.recall,
        "legacy_precision_at_capacity": legacy.precision,
        "legacy_recall_at_capacity": legacy.recall,
        "legacy_policy_precision": policy.precision,
        "random_precision_at_capacity": rand,
        "oracle_precision_at_capacity": oracle.precision,
        "oracle_recall_at_capacity": oracle.recall,
        "declared_oracle_precision_at_capacity": None,
        "lift_over_legacy": model.precision / legacy.precision if legacy.precision else None,
        "lift_over_random": model.precision / rand if rand else None,
        "ratio_to_oracle": model.precision / oracle.precision if oracle.precision else None,
        "ratio_to_declared_oracle": None,
        "pr_auc": average_precision(score, illicit),
        "typologies": per_typology,
    }
    if "segment" in part:
        reference = "declared_oracle" if has_declared else "oracle"
        report["segment_gaps"] = segment_gaps(part["segment"].to_numpy(), illicit, selections["model"],
                                              selections[reference], report["days"])
        report["segment_gap_reference"] = reference
    report["intervals"] = _intervals(group, illicit, selections)
    if has_declared:
        declared_oracle = at_capacity(selections["declared_oracle"], illicit)
        report["declared_oracle_precision_at_capacity"] = declared_oracle.precision
        if declared_oracle.precision:
            report["ratio_to_declared_oracle"] = model.precision / declared_oracle.precision
    return report


def _intervals(group: np.ndarray, illicit: np.ndarray, selections: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """95 % intervals of the model's precision at capacity and of its ratios to legacy and the oracles,
    the period's days resampled (:func:`models.metrics.day_bootstrap`)."""
    ratios = {"lift_over_legacy": ("model", "legacy"), "ratio_to_oracle": ("model", "oracle")}
    if "declared_oracle" in selections:
        ratios["ratio_to_declared_oracle"] = ("model", "declared_oracle")
    found = day_bootstrap(group, illicit, selections, ratios, INTERVAL_RESAMPLES, INTERVAL_LEVEL)
    return {"level": INTERVAL_LEVEL, "resamples": INTERVAL_RESAMPLES, "method": "days resampled with replacement",
            "precision_at_capacity": found["model"], **{name: found[name] for name in ratios}}


def segment_gaps(segment: np.ndarray, illicit: np.ndarray, model: np.ndarray, reference: np.ndarray, days: int,
                 limit: int = SEGMENT_GAPS) -> list[dict[str, Any]]:
    """The segments where the model's picks find the most fewer illicit containers than the reference
    ranking's (the oracle on declarations where the truth has one): per day, containers, illicit ones,
    and each ranking's scans and hits there. Only segments where the model falls behind, worst first."""
    frame = pd.DataFrame({"segment": segment, "illicit": illicit, "model_scans": model,
                          "model_hits": model & illicit, "reference_scans": reference,
                          "reference_hits": reference & illicit})
    per = frame.groupby("segment").agg(containers=("illicit", "size"), illicit=("illicit", "sum"),
                                       model_scans=("model_scans", "sum"), model_hits=("model_hits", "sum"),
                                       reference_scans=("reference_scans", "sum"),
                                       reference_hits=("reference_hits", "sum"))
    per["missed"] = per["reference_hits"] - per["model_hits"]
    per = per[per["missed"] > 0].sort_values(["missed", "reference_hits"], ascending=False, kind="stable")
    per = per.iloc[:limit]
    columns = [str(c) for c in per.columns]
    return [{"segment": str(name), **{c: float(v) / days for c, v in zip(columns, values, strict=True)}}
            for name, values in zip(per.index, per.to_numpy(dtype=float), strict=True)]


def evaluate_table(table: pd.DataFrame, capacities: Mapping[str, float]) -> dict[str, Any]:
    """The report: per port at capacity, typology recall, PR-AUC, ROC-AUC and calibration overall."""
    ports = {}
    for port_id, capacity in capacities.items():
        part = table[table["port"] == port_id]
        if len(part):
            ports[port_id] = _port_report(part, capacity)
    score = table["score"].to_numpy()
    illicit = table["illicit"].to_numpy()
    return {
        "containers": len(table),
        "illicit": int(illicit.sum()),
        "pr_auc": average_precision(score, illicit),
        "roc_auc": roc_auc(score, illicit),
        "oracle_pr_auc": average_precision(table["p_illicit"].to_numpy(), illicit),
        "brier": float(np.mean((score - illicit) ** 2)),
        "calibration": calibration(score, illicit),
        "ports": ports,
    }


def labelled_table(keys: np.ndarray, first_times: pd.Series, inspected: np.ndarray, finding: np.ndarray,
                   scores: np.ndarray, baselines: Mapping[str, np.ndarray], test_start: datetime,
                   test_end: datetime) -> pd.DataFrame:
    """One row per inspected container first declared in ``[test_start, test_end]``.

    Per event: its container ``keys``, the time its container was first declared, whether it was
    inspected and the inspection found the positive class, the model's score and each baseline's
    priority. A container keeps the highest score and baseline of its declarations. Columns: score,
    finding, and one per baseline.
    """
    frame = pd.DataFrame({"key": keys, "first": first_times.to_numpy(), "inspected": inspected,
                          "finding": finding, "score": scores, **{f"b_{n}": v for n, v in baselines.items()}})
    frame = frame[(frame["first"] >= test_start) & (frame["first"] <= test_end)]
    agg = {"inspected": "max", "finding": "max", "score": "max", **{f"b_{n}": "max" for n in baselines}}
    table = frame.groupby("key", sort=False).agg(agg)
    table = table[table["inspected"].astype(bool)].drop(columns="inspected")
    return table.rename(columns={f"b_{n}": n for n in baselines}).reset_index(drop=True)


def evaluate_labelled(table: pd.DataFrame, baselines: list[str], rates: tuple[float, ...]) -> dict[str, object]:
    """Precision@n % and recall@n % of the model and each baseline among inspected containers, AUC."""
    score = table["score"].to_numpy(dtype=float)
    finding = table["finding"].to_numpy(dtype=bool)
    n, findings = len(table), int(finding.sum())
    base_rate = findings / n if n else 0.0
    rows = []
    for rate in rates:
        k = max(round(n * rate / 100.0), 1)
        hits = expected_hits(score, finding, k)
        row: dict[str, object] = {"n_percent": rate, "selected": k, "hits": hits, "precision": hits / k,
                                  "recall": hits / findings if findings else 0.0,
                                  "lift_over_random": (hits / k) / base_rate if base_rate else None}
        per_baseline = {}
        for name in baselines:
            b_hits = expected_hits(table[name].to_numpy(dtype=float), finding, k)
            per_baseline[name] = {"precision": b_hits / k, "recall": b_hits / findings if findings else 0.0,
                                  "lift": hits / b_hits if b_hits else None}
        row["baselines"] = per_baseline
        rows.append(row)
    return {
        "kind": "labelled",
        "inspected": n,
        "findings": findings,
        "base_rate": base_rate,
        "roc_auc": roc_auc(score, finding),
        "pr_auc": average_precision(score, finding),
        "baseline_roc_auc": {name: roc_auc(np.nan_to_num(table[name].to_numpy(dtype=float), nan=-1.0), finding)
                             for name in baselines},
        "rates": rows,
    }
