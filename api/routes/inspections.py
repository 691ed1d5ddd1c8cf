"""``POST /v1/inspections``: an inspection outcome into ``inspection-outcomes``, acknowledged by Kafka."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.auth import InspectorKey, check_port
from api.errors import ApiError
from api.kafka_io import KafkaUnavailable
from api.schemas import CONTAINER_EXAMPLE, SHIPPER_EXAMPLE, OutcomeAccepted, error_responses
from features.contract import InspectionOutcome, decode_outcome, encode_event
from portrisk.errors import EventRejected

router = APIRouter(prefix="/v1", tags=["inspections"])

OUTCOME_EXAMPLE = {
    "schema_version": 1, "outcome_id": "out-rtm-2026-11-30-0042", "event_id": "evt-20261130-000123",
    "container_id": CONTAINER_EXAMPLE, "shipper_id": SHIPPER_EXAMPLE, "mainport": "rotterdam",
    "inspected_at": "2026-12-02T16:40:00Z", "result": "drugs", "selection": "model",
    "inspector_id": "rtm-scan-07", "notes": "packages in the reefer's cooling engine",
}
_REQUEST_BODY = {
    "required": True,
    "description": "An InspectionOutcome v1 (features/schema/inspection_outcome.v1.json).",
    "content": {"application/json": {
        "schema": InspectionOutcome.model_json_schema(mode="validation"),
        "examples": {"drugs found": {"value": OUTCOME_EXAMPLE},
                     "nothing found": {"value": {**OUTCOME_EXAMPLE, "outcome_id": "out-rtm-2026-11-30-0043",
                                                 "result": "no_finding", "notes": None}}}}},
}


@router.post("/inspections", status_code=202, response_model=OutcomeAccepted,
             summary="Report an inspection outcome",
             description="Validated with the event contract, written to `inspection-outcomes` keyed by shipper id, "
                         "answered only after Kafka acknowledged it (acks=all). The container leaves its port's "
                         "open scan queue. Without a `selection`, the outcome gets the selection of portrisk's "
                         "decision on the event (model, rule or random), so that training weighs the random "
                         "share's results as the unbiased sample they are. Roles: inspector (own ports), admin. "
                         "`outcome_id` identifies the outcome: posting it again is harmless for the scan queue. "
                         "Audited.",
             responses=error_responses(401, 403, 413, 422, 503), openapi_extra={"requestBody": _REQUEST_BODY})
async def post_inspection(request: Request, key: InspectorKey) -> dict[str, Any]:
    """Accept one inspection outcome."""
    services = request.app.state.services
    audit = request.state.audit
    audit.action = "post_inspection"
    raw = await request.body()
    try:
        outcome = decode_outcome(raw, frozenset(services.settings.port_ids))
    except EventRejected as exc:
        raise ApiError(422, "invalid_outcome", f"{exc.reason}: {exc.detail}") from exc
    audit.resources = {"outcome_id": outcome.outcome_id, "event_id": outcome.event_id,
                       "container_id": outcome.container_id, "port": outcome.mainport}
    check_port(key, outcome.mainport)
    if outcome.selection is None:
        selection = await run_in_threadpool(services.read_model.store.selection_of, outcome.event_id)
        if selection in ("model", "rule", "random"):
            outcome = outcome.model_copy(update={"selection": selection})
    topic = services.topics.outcomes
    try:
        metadata = await run_in_threadpool(services.kafka.send, topic, outcome.shipper_id.encode(),
                                           encode_event(outcome))
    except KafkaUnavailable as exc:
        raise ApiError(503, "kafka_unavailable", "the outcome was not acknowledged by Kafka; post it again",
                       headers={"Retry-After": "5"}) from exc
    await run_in_threadpool(services.read_model.record_outcome, outcome)
    services.metrics.outcomes_posted.labels(outcome.mainport).inc()
    audit.result_count = 1
    return {"status": "accepted", "outcome_id": outcome.outcome_id, "container_id": outcome.container_id,
            "topic": topic, "partition": metadata.partition, "offset": metadata.offset}
