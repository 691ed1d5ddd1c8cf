"""Evaluation at scan capacity: the metric functions, the container table, and `portrisk evaluate`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from models_support import small_model, small_world

from models.evaluation import container_table, evaluate_table
from models.metrics import at_capacity, average_precision, random_precision, roc_auc, top_k_mask
from portrisk.cli import main

REQUIRED = ("capacity_per_day", "precision_at_capacity", "recall_at_capacity", "legacy_precision_at_capacity",
            "random_precision_at_capacity", "oracle_precision_at_capacity")


def test_top_k_picks_the_highest_per_group_and_breaks_ties_by_position() -> None:
    group = np.array([0, 0, 0, 1, 1, 1, 1])
    priority = np.array([0.1, 0.9, 0.5, 0.3, 0.3, 0.2, 0.8])
    chosen = top_k_mask(group, priority, np.array([2, 2]))
    assert chosen.tolist() == [False, True, True, True, False, False, True]
    assert not top_k_mask(group, priority, np.array([0, 0])).any()


def test_ranking_metrics_match_their_definitions() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random(300)
    positive = rng.random(300) < 0.2 + 0.5 * scores
    order = np.argsort(-scores)
    hits = np.cumsum(positive[order])
    expected_ap = np.mean([hits[i] / (i + 1) for i in range(300) if positive[order][i]])
    assert average_precision(scores, positive) == pytest.approx(expected_ap)
    pairs = [(p > n) + 0.5 * (p == n) for p in scores[positive] for n in scores[~positive]]
    assert roc_auc(scores, positive) == pytest.approx(np.mean(pairs))
    assert at_capacity(positive & (np.arange(300) < 50), positive).precision == 1.0


def test_random_precision_is_the_capacity_weighted_base_rate() -> None:
    group = np.array([0] * 10 + [1] * 10)
    illicit = np.array([True] * 1 + [False] * 9 + [True] * 5 + [False] * 5)
    assert random_precision(group, illicit, np.array([1, 3])) == pytest.approx((1 * 0.1 + 3 * 0.5) / 4)


def test_container_table_merges_amendments_into_their_container() -> None:
    t = pd.Timestamp("2024-01-01", tz="UTC")
    events = pd.DataFrame({
        "event_id": ["a", "b", "a2"], "mainport": ["rotterdam"] * 3,
        "event_time": [t, t + pd.Timedelta(hours=1), t + pd.Timedelta(hours=30)],
        "amends_event_id": [None, None, "a"],
    })
    truth = pd.DataFrame({"event_id": ["a", "b", "a2"], "illicit": [True, False, True],
                          "typology": ["rip_on", "", "rip_on"], "p_illicit": [0.3, 0.01, 0.3]})
    outcomes = pd.DataFrame({"event_id": ["b"], "selection": ["legacy"]})
    table = container_table(events, outcomes, truth, np.array([0.1, 0.2, 0.9]), t.to_pydatetime(),
                            datetime(2024, 1, 3, tzinfo=UTC))
    assert table["key"].tolist() == ["a", "b"]
    assert table["score"].tolist() == [0.9, 0.2]  # the amendment's riskier score counts for its container
    assert table["day"].tolist() == [0, 0] and table["legacy"].tolist() == [False, True]
    report = evaluate_table(table, {"rotterdam": 1})
    port = report["ports"]["rotterdam"]
    assert port["precision_at_capacity"] == 1.0 and port["legacy_precision_at_capacity"] == 0.0
    assert port["oracle_precision_at_capacity"] == 1.0 and port["random_precision_at_capacity"] == 0.5


def test_evaluate_command_prints_the_per_port_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--world", str(small_world()), "--model", str(small_model()), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ports"], "no port evaluated"
    for port in report["ports"].values():
        assert all(key in port for key in REQUIRED)
        for key in REQUIRED[1:]:
            assert 0.0 <= port[key] <= 1.0
        if port["scans"] >= 50:  # at a handful of scans a realised precision is mostly chance (Schiphol: 15)
            assert port["oracle_precision_at_capacity"] >= port["random_precision_at_capacity"]
    rotterdam = report["ports"]["rotterdam"]
    assert rotterdam["capacity_per_day"] == pytest.approx(150 * 0.15)
    # The oracle on declarations (hidden factors integrated out) is reported, and beats random selection.
    declared = rotterdam["declared_oracle_precision_at_capacity"]
    assert rotterdam["random_precision_at_capacity"] < declared
    assert "declared_oracle_recall" in report["typologies"]["rip_on"]
    assert "rip_on" in report["typologies"]
    assert report["test_period"]["start"] == json.loads((small_model() / "card.json").read_text())[
        "extra"]["periods"]["valid_end"]


def test_evaluate_command_prints_a_readable_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--world", str(small_world()), "--model", str(small_model())]) == 0
    out = capsys.readouterr().out
    assert "rotterdam" in out and "recall per typology" in out and "calibration" in out
