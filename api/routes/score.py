"""``POST /v1/score``: what-if scoring of a submitted manifest, with reasons. Published nowhere.

The manifest is scored as if its shipper had no history (features from an empty in-memory store), by the
same decision path the worker uses. The policy is copied per request, so what-if traffic never moves
this process's thresholds. Only security and admin may use it: probing which manifests get flagged is
exactly what someone smuggling through the port would like to do, and every probe is audited.
"""

from __future__ import annotations

import copy
import math
import threading
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.auth import SecurityKey
from api.errors import ApiError
from api.schemas import CONTAINER_EXAMPLE, SHIPPER_EXAMPLE, WhatIf, error_responses
from features.contract import ManifestEvent, decode_manifest
from features.state import InMemoryStore
from portrisk.errors import EventRejected

router = APIRouter(prefix="/v1", tags=["what-if"])
_lock = threading.Lock()  # the scorer and the policy copy are not meant for concurrent use

MANIFEST_EXAMPLE = {
    "schema_version": 1, "event_id": "whatif-0001", "event_time": "2026-11-30T06:12:00Z", "mainport": "rotterdam",
    "transport_mode": "sea", "container_id": CONTAINER_EXAMPLE, "container_type": "45R1",
    "bill_of_lading": "GYE123456789", "shipper_id": SHIPPER_EXAMPLE, "consignee_id": "NL800123456",
    "hs_code": "080390", "goods_description": "fresh bananas", "gross_weight_kg": 21500.0,
    "declared_value_eur": 18000.0, "port_of_loading": "ECGYE", "transshipment_ports": ["PAMIT"],
    "vessel_imo": "9074729", "voyage": "412E", "eta": "2026-12-02T14:00:00Z",
}
_REQUEST_BODY = {
    "required": True,
    "description": "A ManifestEvent v1 (features/schema/manifest_event.v1.json).",
    "content": {"application/json": {"schema": ManifestEvent.model_json_schema(mode="validation"),
                                     "examples": {"reefer from Guayaquil": {"value": MANIFEST_EXAMPLE}}}},
}


@router.post("/score", response_model=WhatIf, summary="What-if scoring of a manifest",
             description="Score a ManifestEvent with the live model and policy, with reasons, for a shipper with "
                         "no history. Nothing is published or stored. Roles: security, admin. Audited. 503 while "
                         "the model is loading.",
             responses=error_responses(401, 403, 413, 422, 503), openapi_extra={"requestBody": _REQUEST_BODY})
async def post_score(request: Request, key: SecurityKey) -> dict[str, Any]:
    """Decide a submitted manifest without publishing anything."""
    services = request.app.state.services
    audit = request.state.audit
    audit.action = "what_if_score"
    raw = await request.body()
    try:
        event = decode_manifest(raw, frozenset(services.settings.port_ids))
    except EventRejected as exc:
        raise ApiError(422, "invalid_manifest", f"{exc.reason}: {exc.detail}") from exc
    audit.resources = {"event_id": event.event_id, "container_id": event.container_id, "port": event.mainport,
                       "shipper_id": event.shipper_id}
    path = services.model.path
    if path is None:
        raise ApiError(503, "model_unavailable", f"what-if scoring is not available: {services.model.status()[1]}",
                       headers={"Retry-After": "10"})
    result = await run_in_threadpool(_what_if, path, event, services.settings.reasons_per_decision)
    audit.result_count = 1
    return result


def _what_if(path: Any, event: ManifestEvent, reasons_k: int) -> dict[str, Any]:
    with _lock:
        vector = path.pipeline.features_only(event, InMemoryStore())
        X = np.atleast_2d(vector).astype(np.float32, copy=False)
        result = path.scorer.score(X, [event])
        degraded = bool(result.degraded[0])
        score = float(result.scores[0])
        # The copy shares the rule book (file watcher and all); only the adaptive port state is copied.
        policy = copy.deepcopy(path.policy, memo={id(path.policy.rulebook): path.policy.rulebook})
        decision = policy.decide(event.mainport, score, event, degraded=degraded)
        reasons: list[dict[str, Any]] = []
        if degraded and result.fallback_reasons is not None:
            reasons = [{"feature": None, "value": None, "contribution": None, "text": t}
                       for t in result.fallback_reasons[0]]
        elif not degraded and path.explainer is not None:
            reasons = [{"feature": r.feature, "value": _num(r.value), "contribution": round(float(r.contribution), 4),
                        "text": r.text} for r in path.explainer.top_reasons(X, k=reasons_k)[0]]
    return {
        "container_id": event.container_id, "port": event.mainport, "score": round(score, 6),
        "decision": decision.decision, "selection": decision.selection,
        "threshold": _num(decision.threshold), "reasons": reasons,
        "rule_hits": [{"rule_id": h.rule_id, "action": h.action, "reason": h.reason} for h in decision.rule_hits],
        "model_version": path.model_version, "degraded": degraded,
        "degraded_reason": result.reason if degraded else None,
        "features": {name: _num(v) for name, v in zip(path.pipeline.names, vector, strict=True)},
    }


def _num(value: Any) -> float | None:
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None
