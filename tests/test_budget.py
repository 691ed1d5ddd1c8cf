"""BudgetedScorer: model scores within the budget, fallback scores (degraded) on overrun, error or no model."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import orjson
import pytest

from features.contract import ManifestEvent, decode_manifest
from models.artifact import ModelCard, save_artifact
from models.export import export_with_gate
from scoring.budget import BudgetedScorer, ScoreResult
from scoring.fallback import FallbackScorer
from scoring.session import ScoringSession

BASE: dict[str, Any] = {
    "schema_version": 1, "event_time": "2024-03-01T10:00:00Z", "mainport": "rotterdam",
    "transport_mode": "sea", "container_id": "CSQU3054383", "container_type": "45R1",
    "bill_of_lading": "MAEU123456789", "shipper_id": "EC0991234567001", "consignee_id": "NL123456789",
    "hs_code": "080390", "goods_description": "fresh bananas", "gross_weight_kg": 21_000.0,
    "declared_value_eur": 15_000.0, "port_of_loading": "ECGYE", "vessel_imo": "9074729", "voyage": "024E",
    "eta": "2024-03-15T06:00:00Z",
}
ORIGINS = ["ECGYE", "CNSHA", "COCTG", "USNYC"]
FALLBACK = FallbackScorer()


def events(n: int) -> list[ManifestEvent]:
    return [decode_manifest(orjson.dumps({**BASE, "event_id": f"ev-{i}", "port_of_loading": ORIGINS[i % 4]}),
                            {"rotterdam"}) for i in range(n)]


def rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 5)).astype(np.float32)


def model(X: np.ndarray) -> np.ndarray:
    """A row-wise stand-in for the ONNX model."""
    return (1.0 / (1.0 + np.exp(-X[:, 0] + X[:, 1]))).astype(np.float32)


class SlowModel:
    """Sleeps ``delay`` seconds per call (per chunk), counting calls; the delay can change between calls."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.calls += 1
        time.sleep(self.delay)
        return model(X)


def test_within_budget_the_scores_are_exactly_the_models() -> None:
    X, ev = rows(300), events(300)
    seen: list[ScoreResult] = []
    scorer = BudgetedScorer(model, FALLBACK, batch_budget_s=1.0, per_event_budget_s=0.01, chunk_rows=64,
                            on_result=seen.append)
    result = scorer.score(X, ev)
    np.testing.assert_array_equal(result.scores, model(X))  # chunking changes nothing for a row-wise model
    assert result.reason == "ok" and not result.degraded.any() and result.fallback_reasons is None
    assert result.model_latency_s is not None and 0 < result.model_latency_s < 1.0
    assert scorer.counters.by_reason["ok"] == 1 and scorer.counters.events == 300
    assert seen == [result]


def test_a_slow_model_gives_fallback_scores_within_about_the_budget() -> None:
    X, ev = rows(40), events(40)
    scorer = BudgetedScorer(SlowModel(1.0), FALLBACK, batch_budget_s=0.05, per_event_budget_s=0.01)
    start = time.perf_counter()
    result = scorer.score(X, ev)
    elapsed = time.perf_counter() - start
    assert result.reason == "budget_exceeded" and result.degraded.all()
    assert result.budget_s == pytest.approx(0.05)
    assert 0.05 <= elapsed < 0.05 + 0.25, elapsed  # waited the budget, not the model's second
    assert result.model_latency_s is None
    np.testing.assert_array_equal(result.scores, FALLBACK.score(ev))
    assert result.fallback_reasons is not None and all(result.fallback_reasons[i] for i in range(0, 40, 4))
    assert scorer.counters.by_reason["budget_exceeded"] == 1 and scorer.counters.degraded_events == 40


def test_the_effective_budget_is_the_smaller_of_batch_and_per_event_budgets() -> None:
    scorer = BudgetedScorer(SlowModel(0.03), FALLBACK, batch_budget_s=0.5, per_event_budget_s=0.001,
                            chunk_rows=10_000)
    assert scorer.budget_for(10) == pytest.approx(0.01)
    assert scorer.budget_for(10_000) == pytest.approx(0.5)
    assert scorer.score(rows(10), events(10)).reason == "budget_exceeded"  # 10 ms < 30 ms
    time.sleep(0.05)  # let the overrun finish
    assert scorer.score(rows(200), events(200)).reason == "ok"  # 200 ms > 30 ms


def test_an_overrun_is_cancelled_between_chunks_and_frees_the_model_for_the_next_batch() -> None:
    slow = SlowModel(0.03)
    scorer = BudgetedScorer(slow, FALLBACK, batch_budget_s=0.05, per_event_budget_s=1.0, chunk_rows=10)
    first = scorer.score(rows(200), events(200))  # 20 chunks x 30 ms = 600 ms uncancelled
    assert first.reason == "budget_exceeded"
    slow.delay = 0.0
    second = scorer.score(rows(50), events(50))
    assert second.reason == "ok", "the cancelled run should have stopped within one chunk"
    np.testing.assert_array_equal(second.scores, model(rows(50)))
    assert slow.calls <= 4 + 5  # 1-3 chunks of the cancelled run, 5 of the second
    assert scorer.counters.cancelled_runs == 1


def test_a_batch_finding_the_model_still_busy_is_degraded_without_waiting_past_its_budget() -> None:
    slow = SlowModel(0.5)
    scorer = BudgetedScorer(slow, FALLBACK, batch_budget_s=0.05, per_event_budget_s=1.0, chunk_rows=1_000)
    assert scorer.score(rows(20), events(20)).reason == "budget_exceeded"
    start = time.perf_counter()
    second = scorer.score(rows(20), events(20))
    assert second.reason == "budget_exceeded" and second.degraded.all()
    assert time.perf_counter() - start < 0.05 + 0.25
    assert scorer.counters.busy_waits == 1
    assert slow.calls == 1  # the second batch was never queued behind the stuck call


def test_a_raising_model_gives_model_error_and_the_next_batch_still_scores() -> None:
    state = {"fail": True}

    def flaky(X: np.ndarray) -> np.ndarray:
        if state["fail"]:
            raise RuntimeError("onnxruntime exploded")
        return model(X)

    scorer = BudgetedScorer(flaky, FALLBACK, batch_budget_s=1.0, per_event_budget_s=1.0)
    X, ev = rows(30), events(30)
    bad = scorer.score(X, ev)
    assert bad.reason == "model_error" and bad.degraded.all()
    np.testing.assert_array_equal(bad.scores, FALLBACK.score(ev))
    assert bad.model_latency_s is not None
    state["fail"] = False
    good = scorer.score(X, ev)
    assert good.reason == "ok"
    np.testing.assert_array_equal(good.scores, model(X))


def test_no_model_gives_model_unavailable() -> None:
    scorer = BudgetedScorer(None, FALLBACK, batch_budget_s=1.0, per_event_budget_s=1.0)
    ev = events(8)
    result = scorer.score(rows(8), ev)
    assert not scorer.model_available
    assert result.reason == "model_unavailable" and result.degraded.all() and result.model_latency_s is None
    np.testing.assert_array_equal(result.scores, FALLBACK.score(ev))


def test_nan_or_out_of_range_rows_alone_fall_back() -> None:
    def partly_broken(X: np.ndarray) -> np.ndarray:
        s = model(X)
        s[[2, 5]] = [np.nan, 1.5]
        return s

    X, ev = rows(10), events(10)
    result = BudgetedScorer(partly_broken, FALLBACK, 1.0, 1.0).score(X, ev)
    assert result.reason == "model_error"
    assert np.flatnonzero(result.degraded).tolist() == [2, 5]
    expected = model(X)
    expected[[2, 5]] = FALLBACK.score([ev[2], ev[5]])
    np.testing.assert_array_equal(result.scores, expected)


def test_a_wrong_number_of_scores_is_a_model_error() -> None:
    result = BudgetedScorer(lambda X: model(X)[:-1], FALLBACK, 1.0, 1.0).score(rows(6), events(6))
    assert result.reason == "model_error" and result.degraded.all()


def test_a_score_function_taking_run_options_is_told_to_terminate_on_overrun() -> None:
    terminated = threading.Event()

    def cooperative(X: np.ndarray, run_options: Any = None) -> np.ndarray:
        for _ in range(200):  # up to 1 s, like a multi-node graph checking the flag between nodes
            if run_options.terminate:
                terminated.set()
                raise RuntimeError("Exiting due to terminate flag being set to true.")
            time.sleep(0.005)
        return model(X)

    scorer = BudgetedScorer(cooperative, FALLBACK, batch_budget_s=0.03, per_event_budget_s=1.0)
    assert scorer.score(rows(5), events(5)).reason == "budget_exceeded"
    assert terminated.wait(0.5)


def test_empty_batch_and_mismatched_events() -> None:
    scorer = BudgetedScorer(model, FALLBACK, 1.0, 1.0)
    empty = scorer.score(np.empty((0, 5), dtype=np.float32), [])
    assert empty.reason == "ok" and empty.scores.shape == (0,)
    with pytest.raises(ValueError, match="one event per row"):
        scorer.score(rows(3), events(2))


def test_with_the_real_onnx_session_the_scores_are_the_sessions(tmp_path: Path) -> None:
    names = [f"f{i}" for i in range(5)]
    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(2_000, 5)).astype(np.float32)
    y = (X_train[:, 0] - X_train[:, 1] + rng.logistic(size=2_000) > 1.0).astype(int)
    params = {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": 0, "num_threads": 1}
    booster = lightgbm.train(params, lightgbm.Dataset(X_train, y, feature_name=names), 30)
    onnx_bytes, report = export_with_gate(booster, names, n_rows=500)
    card = ModelCard.create("b1", names, "2024-01-01T00:00:00+00:00", "2024-06-30T00:00:00+00:00",
                            parity=report.to_dict())
    save_artifact(tmp_path / "b1", booster, onnx_bytes, card)
    session = ScoringSession.load(tmp_path / "b1", names)
    X = rows(1_000, seed=4)
    X[::7, 2] = np.nan
    scorer = BudgetedScorer(session.score_batch, FALLBACK, batch_budget_s=5.0, per_event_budget_s=1.0, chunk_rows=128)
    result = scorer.score(X, events(1_000))
    assert result.reason == "ok"
    np.testing.assert_array_equal(result.scores, session.score_batch(X))
