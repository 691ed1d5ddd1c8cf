"""Response bodies of the HTTP API, with the examples the OpenAPI documentation shows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTAINER_EXAMPLE = "CSQU3054383"
SHIPPER_EXAMPLE = "EC0990012345001"
REASON_EXAMPLE: dict[str, Any] = {"feature": "origin_cocaine_risk", "value": 0.82, "contribution": 1.31,
                  "text": "loaded in a high-risk origin for cocaine"}
RULE_HIT_EXAMPLE: dict[str, Any] = {"rule_id": "reefer-ecuador", "action": "review", "reason": "reefer from Guayaquil"}
DECISION_EXAMPLE: dict[str, Any] = {
    "container_id": CONTAINER_EXAMPLE, "event_id": "evt-20261130-000123", "port": "rotterdam",
    "shipper_id": SHIPPER_EXAMPLE, "consignee_id": "NL800123456", "score": 0.734, "decision": "scan",
    "selection": "model", "threshold": 0.41, "reasons": [REASON_EXAMPLE], "rule_hits": [RULE_HIT_EXAMPLE],
    "model_version": "2026.11.1", "degraded": False, "degraded_reason": None,
    "event_time": "2026-11-30T06:12:00+00:00", "eta": "2026-12-02T14:00:00+00:00", "is_amendment": False,
    "decided_at": "2026-11-30T06:12:00.041+00:00", "inspection": None,
}


class _Open(BaseModel):
    # Reasons and rule hits come from the worker's records: tolerate fields added there later.
    model_config = ConfigDict(extra="allow")


class Reason(_Open):
    feature: str | None = Field(default=None, description="model feature (null for a fallback indicator)")
    value: float | None = None
    contribution: float | None = Field(default=None, description="SHAP contribution to the log-odds")
    text: str | None = Field(default=None, description="the reason in words")


class RuleHit(_Open):
    rule_id: str | None = None
    action: str | None = None
    reason: str | None = None


class Inspection(BaseModel):
    outcome_id: str
    result: str = Field(description="no_finding, drugs or other_irregularity")
    inspected_at: str


class Decision(BaseModel):
    """The latest decision for one container."""

    model_config = ConfigDict(json_schema_extra={"examples": [DECISION_EXAMPLE]})

    container_id: str
    event_id: str = Field(description="the manifest event decided (an amendment replaces the original)")
    port: str
    shipper_id: str
    consignee_id: str | None = None
    score: float = Field(description="risk score in [0, 1]")
    decision: str = Field(description="'scan' when flagged for a customs scan")
    selection: str | None = Field(default=None, description="why flagged: model, rule or random")
    threshold: float | None = None
    reasons: list[Reason]
    rule_hits: list[RuleHit]
    model_version: str
    degraded: bool = Field(description="scored by the rules-only fallback")
    degraded_reason: str | None = None
    event_time: str | None = None
    eta: str | None = None
    is_amendment: bool
    decided_at: str
    inspection: Inspection | None = Field(default=None, description="the posted outcome, once inspected")


class RecommendationPage(BaseModel):
    """One page of a port's open scan queue, highest score first."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"port": "rotterdam", "count": 1, "items": [DECISION_EXAMPLE], "next_cursor": "WzAuNzM0LCJDU1FVMzA1NDM4MyJd"}]})

    port: str
    count: int
    items: list[Decision]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class ShipperDecision(BaseModel):
    event_id: str
    container_id: str
    port: str
    score: float
    decision: str
    selection: str | None = None
    model_version: str
    degraded: bool
    is_amendment: bool
    decided_at: str


class ShipperDecisions(BaseModel):
    """A shipper's decisions, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "shipper_id": SHIPPER_EXAMPLE, "count": 1, "next_cursor": None,
        "items": [{k: DECISION_EXAMPLE[k] for k in ("event_id", "container_id", "port", "score", "decision",
                                                     "selection", "model_version", "degraded", "is_amendment",
                                                     "decided_at")}]}]})

    shipper_id: str
    count: int
    items: list[ShipperDecision]
    next_cursor: str | None


class OutcomeAccepted(BaseModel):
    """The outcome is in the inspection-outcomes topic (acknowledged by Kafka)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "accepted", "outcome_id": "out-rtm-2026-11-30-0042", "container_id": CONTAINER_EXAMPLE,
        "topic": "inspection-outcomes", "partition": 2, "offset": 1834}]})

    status: Literal["accepted"] = "accepted"
    outcome_id: str
    container_id: str
    topic: str
    partition: int
    offset: int


class WhatIf(BaseModel):
    """What the decision path would say about a manifest, for a shipper with no history. Published nowhere."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "container_id": CONTAINER_EXAMPLE, "port": "rotterdam", "score": 0.734, "decision": "scan",
        "selection": "model", "threshold": 0.41, "reasons": [REASON_EXAMPLE], "rule_hits": [],
        "model_version": "2026.11.1", "degraded": False, "degraded_reason": None,
        "features": {"origin_cocaine_risk": 0.82, "shipper_age_days": None}}]})

    container_id: str
    port: str
    score: float
    decision: str
    selection: str | None = None
    threshold: float | None = None
    reasons: list[Reason]
    rule_hits: list[RuleHit]
    model_version: str
    degraded: bool
    degraded_reason: str | None = None
    features: dict[str, float | None]


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class Check(BaseModel):
    status: Literal["ok", "fail"]
    detail: str | None = None
    lag: int | None = Field(default=None, description="read model only: records behind the end of its topics")


class Readiness(BaseModel):
    """Each dependency's own status; ready only when all are ok."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "ready": False, "checks": {
            "kafka": {"status": "ok", "detail": None, "lag": None},
            "model": {"status": "ok", "detail": "2026.11.1", "lag": None},
            "read_model": {"status": "fail", "detail": "catching up: 1520 records behind", "lag": 1520},
            "api_keys": {"status": "ok", "detail": None, "lag": None}}}]})

    ready: bool
    checks: dict[str, Check]


class KeyInfo(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "key_id": "3f9a0c1b2d4e", "name": "Rotterdam scan team", "role": "inspector", "ports": ["rotterdam"],
        "created_at": "2026-11-30T08:00:00+00:00", "revoked_at": None}]})

    key_id: str
    name: str
    role: str
    ports: list[str]
    created_at: str
    revoked_at: str | None = None


class ErrorBody(BaseModel):
    """Every error has this shape."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": "forbidden", "detail": "the operator role may not use this endpoint",
         "request_id": "9b2f6c1e0d8a4e57b1f0a3c2d4e5f607"}]})

    error: str = Field(description="stable machine-readable code")
    detail: str
    request_id: str | None = None
    problems: list[dict[str, Any]] | None = Field(default=None, description="validation problems (422 only)")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses, each with an example."""
    texts = {
        400: ("bad_request", "cursor is not a cursor this endpoint issued"),
        401: ("unauthorized", "a valid API key is required in the X-API-Key header"),
        403: ("forbidden", "the operator role may not use this endpoint"),
        404: ("not_found", "no decision for this container"),
        413: ("body_too_large", "request body larger than 65536 bytes"),
        422: ("invalid_request", "container_id: not an ISO 6346 container number or IATA ULD id"),
        503: ("audit_unavailable", "the request could not be recorded in the audit log; try again shortly"),
    }
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        code, detail = texts[status]
        out[status] = {"model": ErrorBody, "description": detail, "content": {"application/json": {
            "example": {"error": code, "detail": detail, "request_id": "9b2f6c1e0d8a4e57b1f0a3c2d4e5f607"}}}}
    return out
