"""Model scoring under a latency budget, with the rules-only fallback when the model cannot answer.

The model runs on one daemon thread owned by :class:`BudgetedScorer`; the caller waits for it at most
``min(batch_budget_s, per_event_budget_s * n)`` and otherwise scores the batch with the fallback, marked
degraded. onnxruntime releases the GIL while it runs, so waiting costs the stream nothing.

Cancelling an overrun. ``RunOptions.terminate`` makes onnxruntime stop *between graph nodes*, and a
LightGBM model exported to ONNX is essentially one ``TreeEnsemble`` node: setting the flag mid-run does
not shorten it (measured: a 3.8 s run on 200k rows ended after 3.8 s with "Exiting due to terminate
flag"). So the thread scores the batch in chunks of ``chunk_rows`` and checks a cancel flag between
chunks: an overrun frees the thread within one chunk's time. If ``score_fn`` accepts a ``run_options``
keyword, it also gets a fresh ``onnxruntime.RunOptions`` whose ``terminate`` is set on overrun, which
helps multi-node models.

Failures never raise: a raising model gives ``model_error``, a missing one (``score_fn=None``, the model
failed to load) gives ``model_unavailable``; bugs in the fallback itself still raise (they are ours).
"""

from __future__ import annotations

import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from features.contract import ManifestEvent
from scoring.fallback import FallbackScorer

log = logging.getLogger(__name__)

ScoreReason = Literal["ok", "budget_exceeded", "model_error", "model_unavailable"]
ScoreFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class ScoreResult:
    """Scores of one batch; ``degraded[i]`` marks rows scored by the fallback, ``reason`` says why.

    ``model_latency_s`` is the model's own time when it finished (also when it raised), None when it
    did not run or did not finish within the budget. ``fallback_reasons[i]`` holds the fallback's reason
    texts for degraded rows (empty lists elsewhere); None when nothing was degraded.
    """

    scores: np.ndarray
    degraded: np.ndarray
    model_latency_s: float | None
    reason: ScoreReason
    budget_s: float
    elapsed_s: float
    fallback_reasons: list[list[str]] | None = None


@dataclass
class BudgetCounters:
    """Monotonic counts, for the caller to export (e.g. as Prometheus counters)."""

    batches: int = 0
    events: int = 0
    by_reason: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("ok", "budget_exceeded", "model_error", "model_unavailable"), 0))
    degraded_events: int = 0
    cancelled_runs: int = 0  # overruns whose model call was told to stop
    busy_waits: int = 0  # batches that found the previous overrun still running


class _ModelThread:
    """One daemon thread running model calls in order; daemon so a hung model cannot block exit."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], np.ndarray], Future[np.ndarray]] | None] = (
            queue.SimpleQueue())
        self._thread = threading.Thread(target=self._loop, name="portrisk-model", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], np.ndarray]) -> Future[np.ndarray]:
        future: Future[np.ndarray] = Future()
        self._jobs.put((job, future))
        return future

    def close(self) -> None:
        self._jobs.put(None)

    def _loop(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # delivered to the waiting caller, who decides
                future.set_exception(exc)


class _Cancelled(Exception):
    """Raised inside the model thread when the caller gave up on the batch."""


class BudgetedScorer:
    """``score(X, events)``: model scores within the budget, fallback scores otherwise; never raises for the model.

    Call ``score`` from one thread (the worker loop). After an overrun the model thread may still read
    the overrun batch's ``X`` for up to one chunk: pass a fresh array per batch, not a reused buffer.
    """

    def __init__(
        self,
        score_fn: ScoreFn | None,
        fallback: FallbackScorer,
        batch_budget_s: float,
        per_event_budget_s: float,
        *,
        chunk_rows: int = 256,
        fallback_reasons_k: int = 3,
        on_result: Callable[[ScoreResult], None] | None = None,
    ) -> None:
        """``score_fn`` maps float32 [n, f] to scores [n] (e.g. ``ScoringSession.score_batch``), or is None
        when the model failed to load. It must score rows independently: batches are cut into chunks of
        ``chunk_rows``. ``on_result`` is called after every batch (metrics hook)."""
        if batch_budget_s <= 0 or per_event_budget_s <= 0 or chunk_rows < 1:
            raise ValueError("budgets must be positive and chunk_rows >= 1")
        self._score_fn = score_fn
        self._fallback = fallback
        self.batch_budget_s = batch_budget_s
        self.per_event_budget_s = per_event_budget_s
        self._chunk_rows = chunk_rows
        self._k = fallback_reasons_k
        self._on_result = on_result
        self._takes_run_options = score_fn is not None and _accepts_run_options(score_fn)
        self._thread = _ModelThread() if score_fn is not None else None
        self._pending: Future[np.ndarray] | None = None  # an overrun call that may still be running
        self.counters = BudgetCounters()

    @property
    def model_available(self) -> bool:
        """False when constructed without a model."""
        return self._score_fn is not None

    def budget_for(self, n: int) -> float:
        """The effective budget of a batch of ``n`` events."""
        return min(self.batch_budget_s, self.per_event_budget_s * max(n, 1))

    def score(self, X: np.ndarray, events: Sequence[ManifestEvent]) -> ScoreResult:
        """Scores for the rows of ``X`` (float32 [n, f]); ``events[i]`` is the event of row i."""
        n = X.shape[0]
        if len(events) != n:
            raise ValueError(f"expected one event per row, got {len(events)} events for {n} rows")
        start = time.perf_counter()
        budget = self.budget_for(n)
        if n == 0:
            return self._count(ScoreResult(np.empty(0, dtype=np.float32), np.zeros(0, dtype=bool), 0.0, "ok",
                                           budget, 0.0))
        if self._thread is None or self._score_fn is None:
            return self._degraded(events, np.ones(n, dtype=bool), "model_unavailable", None, budget, start)
        deadline = start + budget
        if self._pending is not None and not self._pending.done():
            # The previous overrun is still on the thread: give it this batch's budget to finish.
            self.counters.busy_waits += 1
            if not _wait(self._pending, deadline - time.perf_counter()):
                return self._degraded(events, np.ones(n, dtype=bool), "budget_exceeded", None, budget, start)
        self._pending = None
        cancel = threading.Event()
        run_options = _new_run_options() if self._takes_run_options else None
        timing: list[float] = []
        future = self._thread.submit(lambda: self._run_chunks(X, cancel, run_options, timing))
        try:
            scores = future.result(timeout=max(deadline - time.perf_counter(), 0.0))
        except FutureTimeout:
            cancel.set()
            if run_options is not None:
                run_options.terminate = True
            self.counters.cancelled_runs += 1
            self._pending = future
            return self._degraded(events, np.ones(n, dtype=bool), "budget_exceeded", None, budget, start)
        except Exception as exc:  # any model failure is a degraded batch, never a stopped stream
            log.warning("model scoring failed, batch of %d scored by the fallback: %r", n, exc)
            latency = timing[0] if timing else None
            return self._degraded(events, np.ones(n, dtype=bool), "model_error", latency, budget, start)
        latency = timing[0]
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        if scores.shape[0] != n:
            log.warning("model returned %d scores for %d rows; batch scored by the fallback", scores.shape[0], n)
            return self._degraded(events, np.ones(n, dtype=bool), "model_error", latency, budget, start)
        bad = ~np.isfinite(scores) | (scores < 0.0) | (scores > 1.0)
        if bad.any():
            # A NaN or out-of-range score is a model fault for that row only.
            return self._degraded(events, bad, "model_error", latency, budget, start, model_scores=scores)
        result = ScoreResult(scores, np.zeros(n, dtype=bool), latency, "ok", budget, time.perf_counter() - start)
        return self._count(result)

    def close(self) -> None:
        """Stop the model thread after the call it is running (if any); later batches get ``model_unavailable``."""
        if self._thread is not None:
            self._thread.close()
            self._thread = None

    # -- internals ----------------------------------------------------------------------------------
    def _run_chunks(self, X: np.ndarray, cancel: threading.Event, run_options: Any, timing: list[float]) -> np.ndarray:
        assert self._score_fn is not None  # submitted only with a model
        t0 = time.perf_counter()
        try:
            parts = []
            for lo in range(0, X.shape[0], self._chunk_rows):
                if cancel.is_set():
                    raise _Cancelled
                chunk = X[lo: lo + self._chunk_rows]
                if run_options is not None:
                    parts.append(np.asarray(self._score_fn(chunk, run_options=run_options)).reshape(-1))
                else:
                    parts.append(np.asarray(self._score_fn(chunk)).reshape(-1))
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        finally:
            timing.append(time.perf_counter() - t0)

    def _degraded(self, events: Sequence[ManifestEvent], mask: np.ndarray, reason: ScoreReason,
                  latency: float | None, budget: float, start: float,
                  model_scores: np.ndarray | None = None) -> ScoreResult:
        idx = np.flatnonzero(mask).tolist()
        fb_scores, fb_texts = self._fallback.score_with_reasons([events[i] for i in idx], k=self._k)
        scores = np.zeros(len(events), dtype=np.float32) if model_scores is None else model_scores.copy()
        scores[idx] = fb_scores
        reasons: list[list[str]] = [[] for _ in events]
        for i, texts in zip(idx, fb_texts, strict=True):
            reasons[i] = texts
        result = ScoreResult(scores, mask.copy(), latency, reason, budget, time.perf_counter() - start, reasons)
        return self._count(result)

    def _count(self, result: ScoreResult) -> ScoreResult:
        c = self.counters
        c.batches += 1
        c.events += len(result.scores)
        c.by_reason[result.reason] += 1
        c.degraded_events += int(result.degraded.sum())
        if self._on_result is not None:
            self._on_result(result)
        return result


def _wait(future: Future[np.ndarray], timeout: float) -> bool:
    try:
        future.exception(timeout=max(timeout, 0.0))
    except FutureTimeout:
        return False
    return True


def _accepts_run_options(fn: Callable[..., Any]) -> bool:
    try:
        return "run_options" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def _new_run_options() -> Any:
    import onnxruntime as ort  # only when the score function can use it

    return ort.RunOptions()
