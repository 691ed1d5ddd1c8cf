"""Audit records: who looked at which score or queue, when, from where, and what they were told.

Insiders who learn which containers are selected are part of the threat, so every ``/v1`` request —
reads, writes, and refusals (401/403/404) alike — produces one record on the ``audit-log`` topic (one
partition, kept forever), keyed by the caller's key id. The record is written through the service's
shared idempotent producer and the response waits for Kafka's acknowledgement: if the look-up cannot be
recorded, the caller gets 503 and not the data (see :mod:`api.middleware` for the one exception).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from api.kafka_io import KafkaGateway
from api.keys import ApiKey


@dataclass
class AuditContext:
    """What a request handler adds to its audit record (kept on ``request.state.audit``)."""

    action: str = "request"
    resources: dict[str, Any] = field(default_factory=dict)
    result_count: int | None = None


def audit_record(*, request_id: str, key: ApiKey | None, presented_key_id: str | None, method: str, route: str,
                 path: str, query: str, context: AuditContext, status: int, client: str | None,
                 forwarded_for: str | None, at: datetime | None = None) -> dict[str, Any]:
    """The audit document for one request."""
    return {
        "audit_id": uuid.uuid4().hex,
        "at": (at or datetime.now(UTC)).isoformat(),
        "request_id": request_id,
        "actor": None if key is None else {"key_id": key.key_id, "name": key.name, "role": key.role,
                                           "ports": list(key.ports)},
        # The id part of a key that did not authenticate: who is probing, or whose key is being misused.
        "presented_key_id": presented_key_id if key is None else None,
        "action": context.action,
        "method": method,
        "route": route,
        "path": path,
        "query": query,
        "resources": context.resources,
        "result_count": context.result_count,
        "status": status,
        "client": client,
        # Client-supplied and unverified; recorded because a proxy in front of us may be the only witness.
        "forwarded_for": forwarded_for,
    }


class AuditLog:
    """Writes audit records to the audit-log topic and waits for the acknowledgement."""

    def __init__(self, kafka: KafkaGateway, topic: str, metrics: Any | None = None) -> None:
        self.kafka = kafka
        self.topic = topic
        self.metrics = metrics

    def write(self, record: dict[str, Any]) -> None:
        """Produce and wait (acks=all); raises :class:`api.kafka_io.KafkaUnavailable` when not acknowledged."""
        actor = record.get("actor")
        key = (actor["key_id"] if actor else record.get("presented_key_id") or "anonymous").encode()
        try:
            self.kafka.send(self.topic, key, orjson.dumps(record))
        except Exception:
            if self.metrics is not None:
                self.metrics.audit_records.labels("failed").inc()
            raise
        if self.metrics is not None:
            self.metrics.audit_records.labels("written").inc()
