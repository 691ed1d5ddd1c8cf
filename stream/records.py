"""The JSON records the worker publishes: decisions (risk-scores, scan recommendations) and DLQ entries."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson


def decision_record(event: Any, *, score: float, decision: str, selection: str | None,
                    reasons: Sequence[dict[str, Any]], rule_hits: Sequence[dict[str, Any]], model_version: str,
                    feature_names: Sequence[str], vector: Any, degraded: bool,
                    degraded_reason: str | None, threshold: float | None, decided_at: str,
                    source: tuple[str, int, int, int]) -> bytes:
    """One decision as UTF-8 JSON; missing feature values are ``null``.

    ``source`` is (topic, partition, offset, Kafka timestamp in ms) of the manifest record decided on: the
    offset identifies the input exactly, the timestamp gives end-to-end latency against ``decided_at``.
    """
    # One vectorised rounding instead of a Python call per value; orjson writes NaN (missing) as null.
    features = dict(zip(feature_names, np.round(np.asarray(vector, dtype=np.float64), 6).tolist(), strict=True))
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
