"""Evaluation at scan capacity: the metric functions, the container table, and `portrisk evaluate`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from models_support import small_model, small_world

from models.evaluation import container_table, evaluate_table, segment_gaps
from models.metrics import at_capacity, average_precision, day_bootstrap, random_precision, roc_auc, top_k_mask
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
        "port_of_loading": ["ECGYE", "PECLL", "ECGYE"], "transshipment_ports": [("PTSIE",), None, ("PTSIE",)],
        "hs_code": ["090111", "080390", "090111"], "container_type": ["42G1", "45R1", "42G1"],
    })
    truth = pd.DataFrame({"event_id": ["a", "b", "a2"], "illicit": [True, False, True],
                          "typology": ["rip_on", "", "rip_on"], "p_illicit": [0.3, 0.01, 0.3]})
    outcomes = pd.DataFrame({"event_id": ["b"], "selection": ["legacy"]})
    table = container_table(events, outcomes, truth, np.array([0.1, 0.2, 0.9]), t.to_pydatetime(),
                            datetime(2024, 1, 3, tzinfo=UTC))
    assert table["key"].tolist() == ["a", "b"]
    assert table["score"].tolist() == [0.9, 0.2]  # the amendment's riskier score counts for its container
    assert table["day"].tolist() == [0, 0] and table["legacy"].tolist() == [False, True]
    assert table["segment"].tolist() == ["ECGYE>PTSIE|09|dry", "PECLL>|08|reefer"]
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
    # Where the model falls behind the oracle on declarations, by segment, worst first.
    assert rotterdam["segment_gap_reference"] == "declared_oracle"
    missed = [g["missed"] for g in rotterdam["segment_gaps"]]
    assert missed == sorted(missed, reverse=True) and all(m > 0 for m in missed)
    assert all(g["reference_hits"] - g["model_hits"] == pytest.approx(g["missed"]) for g in rotterdam["segment_gaps"])
    # Intervals, the days resampled, hold the figures they are about.
    intervals = rotterdam["intervals"]
    assert intervals["level"] == 0.95
    for key in ("precision_at_capacity", "lift_over_legacy", "ratio_to_oracle", "ratio_to_declared_oracle"):
        low, high = intervals[key]
        assert low <= rotterdam[key] <= high and low < high, key
    assert "rip_on" in report["typologies"]
    assert report["test_period"]["start"] == json.loads((small_model() / "card.json").read_text())[
        "extra"]["periods"]["valid_end"]


def test_evaluate_command_prints_a_readable_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--world", str(small_world()), "--model", str(small_model())]) == 0
    out = capsys.readouterr().out
    assert "rotterdam" in out and "recall per typology" in out and "calibration" in out
    assert "where the model falls furthest behind the oracle on declarations" in out
    assert "95% intervals of the model's figures, the period's days resampled" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "intervals of the model's figures" in line)
    row = next(line for line in lines[start:] if line.startswith("rotterdam"))
    assert row.count("–") == 4, row  # precision, x legacy, / oracle, / oracle on declarations


def test_segment_gaps_name_where_the_model_misses_what_the_reference_finds() -> None:
    # Two days, two scans a day. The reference takes the two loaded dry boxes of segment A each day;
    # the model takes one of them and a clean box of segment B.
    segment = np.array(["A", "A", "B", "B", "C"] * 2)
    illicit = np.array([True, True, False, False, True] * 2)
    reference = np.array([True, True, False, False, False] * 2)
    model = np.array([True, False, True, False, False] * 2)
    gaps = segment_gaps(segment, illicit, model, reference, days=2)
    assert [g["segment"] for g in gaps] == ["A"]  # B: the model is not behind; C: neither scans it
    assert gaps[0] == {"segment": "A", "containers": 2.0, "illicit": 2.0, "model_scans": 1.0, "model_hits": 1.0,
                       "reference_scans": 2.0, "reference_hits": 2.0, "missed": 1.0}
    assert segment_gaps(segment, illicit, reference, reference, days=2) == []
    ranked = segment_gaps(np.array(["A", "B", "B"]), np.ones(3, bool), np.zeros(3, bool), np.ones(3, bool), days=1)
    assert [g["segment"] for g in ranked] == ["B", "A"]  # worst first
    assert len(segment_gaps(np.arange(10).astype(str), np.ones(10, bool), np.zeros(10, bool), np.ones(10, bool),
                            days=1, limit=3)) == 3


def _days(n_days: int, k: int, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``k`` scans a day for ``n_days`` days, each illicit with probability ``rate``."""
    return np.repeat(np.arange(n_days), k), rng.random(n_days * k) < rate


def test_day_bootstrap_intervals_cover_the_true_precision_at_their_level() -> None:
    rng = np.random.default_rng(3)
    covered = 0
    for trial in range(200):
        group, illicit = _days(40, 50, 0.15, rng)
        low, high = day_bootstrap(group, illicit, {"model": np.ones(group.size, bool)}, {}, 500, seed=trial)["model"]
        covered += low <= 0.15 <= high
    assert 0.88 <= covered / 200 <= 0.99


def test_day_bootstrap_pairs_the_rankings_on_the_same_days() -> None:
    rng = np.random.default_rng(4)
    group, illicit = _days(30, 40, 0.2, rng)
    everything = np.ones(group.size, bool)
    found = day_bootstrap(group, illicit, {"model": everything, "legacy": everything.copy()},
                          {"lift": ("model", "legacy")})
    low, high = found["model"]
    assert low < illicit.mean() < high and high - low > 0.02  # the days differ ...
    assert found["lift"] == (pytest.approx(1.0), pytest.approx(1.0))  # ... but both rankings saw the same ones
    # The same seed draws the same days; a constant daily result has no spread at all.
    assert day_bootstrap(group, illicit, {"model": everything}, {}, seed=9) == \
        day_bootstrap(group, illicit, {"model": everything}, {}, seed=9)
    steady = np.tile(np.arange(40) < 8, 30)
    assert day_bootstrap(group, steady, {"model": everything}, {})["model"] == (pytest.approx(0.2), pytest.approx(0.2))


def test_day_bootstrap_gives_no_interval_it_cannot_compute() -> None:
    group = np.repeat(np.arange(5), 10)
    illicit = np.zeros(group.size, bool)
    illicit[3] = True  # legacy finds something on day 0 only: draws without day 0 have nothing to divide by
    selections = {"model": np.ones(group.size, bool), "legacy": group == 0}
    assert day_bootstrap(group, illicit, selections, {"lift": ("model", "legacy")})["lift"] is None
    one_day = np.zeros(10, np.int64)
    assert day_bootstrap(one_day, illicit[:10], {"model": np.ones(10, bool)}, {}) == {"model": None}
    with pytest.raises(ValueError, match="level"):
        day_bootstrap(group, illicit, selections, {}, level=1.0)
