"""Reads of stored decisions: one container, a port's open scan queue, a shipper's history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.auth import InspectorOrSecurity, SecurityKey, check_port, sees_port
from api.errors import ApiError
from api.pagination import MAX_LIMIT, decode_cursor, encode_cursor, time_window
from api.schemas import (
    CONTAINER_EXAMPLE,
    SHIPPER_EXAMPLE,
    Decision,
    RecommendationPage,
    ShipperDecisions,
    error_responses,
)
from features.identifiers import EORI_PATTERN, ULD_ID_RE, is_valid_container_id

router = APIRouter(prefix="/v1", tags=["decisions"])

# Shape only; the ISO 6346 check digit is verified in the handler so the message can say so.
CONTAINER_PATTERN = r"^(?:[A-Z]{3}[UJZ][0-9]{7}|[A-Z]{3}[0-9]{4,5}[A-Z0-9]{2})$"
PORT_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"
NOT_FOUND = "no decision for this container"

ContainerId = Annotated[str, Path(pattern=CONTAINER_PATTERN, description="ISO 6346 container number or IATA ULD id",
                                  examples=[CONTAINER_EXAMPLE])]
PortId = Annotated[str, Path(pattern=PORT_PATTERN, description="mainport id", examples=["rotterdam"])]
ShipperId = Annotated[str, Path(pattern=EORI_PATTERN, description="EORI-like shipper id",
                                examples=[SHIPPER_EXAMPLE])]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")]


@router.get("/containers/{container_id}", response_model=Decision,
            summary="Latest decision for a container",
            description="Score, decision, selection, reasons, rule hits, model version and time of the latest "
                        "decision (an amendment replaces the original). Roles: security, admin; inspectors for "
                        "containers of their own ports. A container of another port answers exactly like one "
                        "that does not exist (404). Audited.",
            responses=error_responses(401, 403, 404, 422, 503))
def get_container(request: Request, key: InspectorOrSecurity, container_id: ContainerId) -> dict[str, Any]:
    """The latest decision for one container."""
    audit = request.state.audit
    audit.action, audit.resources = "read_container", {"container_id": container_id}
    if not (is_valid_container_id(container_id) or ULD_ID_RE.match(container_id)):
        raise ApiError(422, "invalid_request", "container_id: ISO 6346 check digit does not match")
    row = request.app.state.services.read_model.store.container(container_id)
    if row is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    if not sees_port(key, row["port"]):
        audit.resources["hidden_port"] = row["port"]  # for investigators; the caller sees a plain 404
        raise ApiError(404, "not_found", NOT_FOUND)
    audit.resources["port"], audit.result_count = row["port"], 1
    return row


@router.get("/ports/{port}/recommendations", response_model=RecommendationPage,
            summary="Open scan queue of a port",
            description="Flagged containers with no inspection outcome yet, highest score first, paginated with "
                        "an opaque cursor and filterable by decision time [since, until) (times without a zone "
                        "are UTC). Roles: security, admin; inspectors for their own ports. Audited, with the "
                        "container ids returned.",
            responses=error_responses(400, 401, 403, 404, 422, 503))
def get_recommendations(request: Request, key: InspectorOrSecurity, port: PortId, limit: Limit = 50,
                        cursor: Cursor = None,
                        since: Annotated[datetime | None, Query(description="decided at or after",
                                                                examples=["2026-11-30T00:00:00Z"])] = None,
                        until: Annotated[datetime | None, Query(description="decided before",
                                                                examples=["2026-12-01T00:00:00Z"])] = None,
                        ) -> dict[str, Any]:
    """One page of the open scan queue."""
    services = request.app.state.services
    audit = request.state.audit
    audit.action = "read_queue"
    audit.resources = {"port": port, "since": since and since.isoformat(), "until": until and until.isoformat(),
                       "cursor": cursor}
    if port not in services.settings.port_ids:
        raise ApiError(404, "unknown_port", f"unknown port {port!r}; ports: {', '.join(services.settings.port_ids)}")
    check_port(key, port)
    after = decode_cursor(cursor)
    since_ts, until_ts = time_window(since, until)
    rows = services.read_model.store.open_queue(port, limit=limit + 1, after=after, since_ts=since_ts,
                                                until_ts=until_ts)
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1]["score"], items[-1]["container_id"]) if len(rows) > limit else None
    audit.resources["container_ids"] = [r["container_id"] for r in items]
    audit.result_count = len(items)
    return {"port": port, "count": len(items), "items": items, "next_cursor": next_cursor}


@router.get("/shippers/{shipper_id}/decisions", response_model=ShipperDecisions,
            summary="Recent decisions for a shipper",
            description="Every decision recorded for the shipper's containers, newest first, paginated with an "
                        "opaque cursor. Roles: security, admin. Audited.",
            responses=error_responses(400, 401, 403, 422, 503))
def get_shipper_decisions(request: Request, key: SecurityKey, shipper_id: ShipperId, limit: Limit = 50,
                          cursor: Cursor = None) -> dict[str, Any]:
    """A shipper's decisions, newest first."""
    audit = request.state.audit
    audit.action, audit.resources = "read_shipper_decisions", {"shipper_id": shipper_id, "cursor": cursor}
    before = decode_cursor(cursor)
    rows = request.app.state.services.read_model.store.shipper_history(shipper_id, limit=limit + 1, before=before)
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1]["decided_ts"], items[-1]["event_id"]) if len(rows) > limit else None
    audit.resources["container_ids"] = [r["container_id"] for r in items]
    audit.result_count = len(items)
    return {"shipper_id": shipper_id, "count": len(items), "items": items, "next_cursor": next_cursor}
