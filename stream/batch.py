"""One micro-batch of input records → the output messages, without any Kafka I/O.

Kept apart from the consumer loop so the whole decision path (decode, DLQ, features, budgeted scoring,
policy, reasons, records) is testable on plain records and reusable by benchmarks.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from features.contract import decode_manifest, decode_outcome
from portrisk.errors import EventRejected
from stream.records import decision_record, dlq_record, feature_dicts
from stream.state_store import PartitionedStore
from stream.topics import TopicNames

log = logging.getLogger(__name__)


@dataclass
class BatchOutput:
    """Messages to publish (topic, key, value) and the input timestamps of the decided events."""

    messages: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)
    source_timestamps_ms: list[int] = field(default_factory=list)
    decided: int = 0


@dataclass
class _Pending:
    record: Any
    event: Any
    port: str
    vector: np.ndarray


class BatchProcessor:
    """Turns records of the input topics into decision, recommendation and DLQ messages."""

    def __init__(self, *, topics: TopicNames, known_ports: Collection[str], pipeline: Any, scorer: Any,
                 policy: Any, explainer: Any | None, model_version: str, metrics: Any, reasons_k: int = 3) -> None:
        self.topics = topics
        self.known_ports = frozenset(known_ports)
        self.pipeline = pipeline
        self.scorer = scorer
        self.policy = policy
        self.explainer = explainer
        self.model_version = model_version
        self.metrics = metrics
        self.reasons_k = reasons_k
        self.feature_names: tuple[str, ...] = tuple(pipeline.names)
        self._over_capacity_seen: dict[str, int] = {}
        self._consumed: Counter[str] = Counter()

    def maintain(self) -> None:
        """Periodic work between batches (hot reload of analyst rules)."""
        maybe_reload = getattr(self.policy, "maybe_reload", None)
        if maybe_reload is not None:
            maybe_reload()

    def set_traffic_share(self, share: float) -> None:
        """The share of every port's traffic this worker decides (its partitions of all), for the policy."""
        set_share = getattr(self.policy, "set_traffic_share", None)
        if set_share is not None:
            set_share(share)

    def policy_state(self) -> dict[str, Any] | None:
        """The policy's state (for ``policy-state``), or None for a policy that keeps none."""
        state = getattr(self.policy, "state", None)
        return state() if state is not None else None

    def restore_policy_state(self, record: dict[str, Any]) -> str | None:
        """Load a ``policy-state`` record; the reason it was not loaded, or None when it was."""
        if record.get("model_version") != self.model_version:
            return f"written with model {record.get('model_version')}, this worker runs {self.model_version}"
        load_state = getattr(self.policy, "load_state", None)
        if load_state is None:
            return "this policy keeps no state"
        load_state(record["policy"])
        return None

    def process(self, items: Sequence[tuple[Any, Any]], store: PartitionedStore) -> BatchOutput:
        """Decide on ``items`` — (TopicPartition, record) pairs in the order state must see them."""
        out = BatchOutput()
        pending: list[_Pending] = []
        self._consumed = Counter()
        for tp, record in items:
            if tp.topic == self.topics.outcomes:
                self._fold_outcome(record, tp, store, out)
            else:
                self._featurise(record, tp, self.topics.port_of_manifest_topic(tp.topic), store, out, pending)
        if pending:
            self._decide(pending, out)
        # Metric updates per batch, not per event: label look-ups cost more than the increments.
        for port, n in self._consumed.items():
            self.metrics.events_consumed.labels(port).inc(n)
        return out

    # -- stages -------------------------------------------------------------------------------------
    def _featurise(self, record: Any, tp: Any, port: str | None, store: PartitionedStore, out: BatchOutput,
                   pending: list[_Pending]) -> None:
        if port is not None:
            self._consumed[port] += 1
        try:
            event = decode_manifest(record.value if record.value is not None else b"", self.known_ports)
            if port is not None and event.mainport != port:
                raise EventRejected("invalid_field", f"mainport {event.mainport!r} arrived on topic {tp.topic}")
        except EventRejected as exc:
            self._dead_letter(record, tp, exc.reason, exc.detail, "decode", out)
            return
        if store.already_applied(event.shipper_id, tp.topic, record.offset):
            self.metrics.duplicates_skipped.inc()
            return
        vector = self.pipeline.process(event, store)
        store.mark_applied(event.shipper_id, tp.topic, record.offset, tp.partition)
        pending.append(_Pending(record, event, event.mainport, vector))

    def _fold_outcome(self, record: Any, tp: Any, store: PartitionedStore, out: BatchOutput) -> None:
        try:
            outcome = decode_outcome(record.value if record.value is not None else b"", self.known_ports)
        except EventRejected as exc:
            self._dead_letter(record, tp, exc.reason, exc.detail, "decode_outcome", out)
            return
        if store.already_applied(outcome.shipper_id, tp.topic, record.offset):
            self.metrics.duplicates_skipped.inc()
            return
        self.pipeline.apply_outcome(outcome, store)
        store.mark_applied(outcome.shipper_id, tp.topic, record.offset, tp.partition)
        self.metrics.outcomes.labels(outcome.mainport, outcome.result, outcome.selection or "unknown").inc()

    def _decide(self, pending: list[_Pending], out: BatchOutput) -> None:
        vectors = np.vstack([p.vector for p in pending])
        X = vectors.astype(np.float32, copy=False)
        events = [p.event for p in pending]
        result = self.scorer.score(X, events)
        self.metrics.batch_size.observe(len(pending))
        if result.model_latency_s is not None:
            self.metrics.scoring_latency.observe(result.model_latency_s)
            self.metrics.scoring_row_latency.observe(result.model_latency_s / len(pending))
        if result.reason == "budget_exceeded":
            self.metrics.budget_overruns.inc()
        # The policy keeps apart the thresholds of model and fallback scores: they are on different scales.
        decisions = self.policy.decide_batch([p.port for p in pending], result.scores, events,
                                             degraded=np.asarray(result.degraded, dtype=bool))
        reasons = self._reasons(X, result, decisions)
        features = feature_dicts(self.feature_names, vectors)
        decided_at = datetime.now(UTC).isoformat()
        decided: Counter[tuple[str, str, str]] = Counter()
        degraded_count = 0
        for i, (p, decision) in enumerate(zip(pending, decisions, strict=True)):
            degraded = bool(result.degraded[i])
            degraded_count += degraded
            decided[(p.port, decision.decision, decision.selection or "none")] += 1
            value = decision_record(
                p.event, score=float(result.scores[i]), decision=decision.decision, selection=decision.selection,
                reasons=reasons[i], rule_hits=[_hit_dict(h) for h in decision.rule_hits],
                model_version=self.model_version, features=features[i],
                degraded=degraded, degraded_reason=result.reason if degraded else None,
                threshold=decision.threshold, decided_at=decided_at,
                source=(p.record.topic, p.record.partition, p.record.offset, p.record.timestamp))
            key = p.event.container_id.encode()
            out.messages.append((self.topics.risk_scores, key, value))
            if decision.decision == "scan":
                out.messages.append((self.topics.recommendations(p.port), key, value))
            out.source_timestamps_ms.append(p.record.timestamp)
            out.decided += 1
        if degraded_count:
            self.metrics.degraded.labels(result.reason).inc(degraded_count)
        for labels, n in decided.items():
            self.metrics.decisions.labels(*labels).inc(n)
        by_port: dict[str, list[int]] = {}
        for i, p in enumerate(pending):
            by_port.setdefault(p.port, []).append(i)
        for port, rows in by_port.items():
            scores_histogram = self.metrics.scores.labels(port)
            for i in rows:
                scores_histogram.observe(float(result.scores[i]))
            self.metrics.last_event_time.labels(port).set(max(pending[i].event.event_time for i in rows).timestamp())
        for port in {p.port for p in pending}:
            self.metrics.threshold.labels(port).set(self.policy.threshold(port))
            over = self.policy.counters[port].over_capacity_flags
            if over > self._over_capacity_seen.get(port, 0):
                self.metrics.over_capacity.labels(port).inc(over - self._over_capacity_seen.get(port, 0))
                self._over_capacity_seen[port] = over

    def _reasons(self, X: np.ndarray, result: Any, decisions: Sequence[Any]) -> list[list[dict[str, Any]]]:
        """Reasons for flagged containers (model SHAP, or the fallback's indicators when degraded)."""
        reasons: list[list[dict[str, Any]]] = [[] for _ in decisions]
        flagged = [i for i, d in enumerate(decisions) if d.decision == "scan"]
        model_rows = [i for i in flagged if not result.degraded[i]]
        if model_rows and self.explainer is not None:
            for i, row in zip(model_rows, self.explainer.top_reasons(X[model_rows], k=self.reasons_k), strict=True):
                reasons[i] = [{"feature": r.feature, "value": _num(r.value), "contribution": round(r.contribution, 4),
                               "text": r.text} for r in row]
        fallback_reasons = getattr(result, "fallback_reasons", None)
        if fallback_reasons is not None:
            for i in flagged:
                if result.degraded[i]:
                    reasons[i] = [{"feature": None, "value": None, "contribution": None, "text": t}
                                  for t in fallback_reasons[i]]
        return reasons

    def _dead_letter(self, record: Any, tp: Any, reason: str, detail: str, stage: str, out: BatchOutput) -> None:
        self.metrics.dlq.labels(reason).inc()
        value = dlq_record(record.value, reason=reason, detail=detail, stage=stage, topic=tp.topic,
                           partition=tp.partition, offset=record.offset, key=record.key,
                           failed_at=datetime.now(UTC).isoformat())
        out.messages.append((self.topics.dlq, record.key, value))


def _hit_dict(hit: Any) -> dict[str, Any]:
    return {"rule_id": hit.rule_id, "action": hit.action, "reason": hit.reason}


def _num(value: float) -> float | None:
    return None if value != value else round(float(value), 6)  # NaN → null
