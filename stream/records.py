"""The JSON records the worker publishes: decisions (risk-scores, scan recommendations) and DLQ entries."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson


def decision_record(event: Any, *, score: float, decision: str, selection: str | None,
                    reasons: Sequence[dict[str, Any]], rule_hits: Sequence[dict[str, Any]], model_version: str,
                    features: dict[str, float], degraded: bool,
                    degraded_reason: str | None, threshold: float | None, decided_at: str,
                    source: tuple[str, int, int, int]) -> bytes:
    """One decision as UTF-8 JSON; ``features`` as made by :func:`feature_dicts` (missing values are ``null``).

    ``source`` is (topic, partition, offset, Kafka timestamp in ms) of the manifest record decided on: the
    offset identifies the input exactly, the timestamp gives end-to-end latency against ``decided_at``.
    """
    doc = {
        "event_id": event.event_id,
        "container_id": event.container_id,
        "shipper_id": event.shipper_id,
        "consignee_id": event.consignee_id,
        "port": event.mainport,
        "event_time": event.event_time.isoformat(),
        "eta": event.eta.isoformat(),
        "is_amendment": event.is_amendment,
        "score": round(float(score), 6),
        "decision": decision,
        "selection": selection,
        "threshold": None if threshold is None else round(float(threshold), 6),
        "reasons": list(reasons),
        "rule_hits": list(rule_hits),
        "model_version": model_version,
        "features": features,
        "degraded": degraded,
        "degraded_reason": degraded_reason,
        "decided_at": decided_at,
        "source": {"topic": source[0], "partition": source[1], "offset": source[2], "timestamp_ms": source[3]},
    }
    return orjson.dumps(doc)


def feature_dicts(feature_names: Sequence[str], vectors: Any) -> list[dict[str, float]]:
    """{name: value rounded to 6 decimals} for each row of ``vectors``; orjson writes NaN (missing) as null.

    One rounding and one conversion to Python floats for a whole batch: per row they cost more than the
    JSON encoding itself.
    """
    rows = np.round(np.asarray(vectors, dtype=np.float64).reshape(-1, len(feature_names)), 6).tolist()
    return [dict(zip(feature_names, row, strict=True)) for row in rows]


def dlq_record(raw: bytes | None, *, reason: str, detail: str, stage: str, topic: str, partition: int,
               offset: int, key: bytes | None, failed_at: str) -> bytes:
    """A dead-letter record: why, where from, and the original bytes (base64) so nothing is lost."""
    return orjson.dumps({
        "reason": reason,
        "detail": detail,
        "stage": stage,
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "source_key": None if key is None else key.decode("utf-8", errors="replace"),
        "original": base64.b64encode(raw or b"").decode("ascii"),
        "failed_at": failed_at,
    })
