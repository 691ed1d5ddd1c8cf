"""Liveness, readiness and metrics.

``/healthz`` needs no key: it says only that the process answers, and an orchestrator must be able to ask
even when the keys file is broken. ``/readyz`` and ``/metrics`` describe the deployment (lag, volumes per
port) and need an operator or admin key.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import OperatorKey
from api.kafka_io import KafkaUnavailable
from api.schemas import Health, Readiness, error_responses
from api.services import Services

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness",
            description="200 while the process serves requests. No key needed; says nothing about dependencies.")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


def readiness(services: Services) -> dict[str, Any]:
    """Each dependency's status: Kafka reachable, model loaded, read model caught up, keys loaded."""
    checks: dict[str, dict[str, Any]] = {}
    ends: dict[tuple[str, int], int] | None = None
    try:
        ends = services.kafka.end_offsets(services.read_model.topics)
        checks["kafka"] = {"status": "ok"}
    except KafkaUnavailable as exc:
        checks["kafka"] = {"status": "fail", "detail": str(exc)}
    loaded, detail = services.model.status()
    checks["model"] = {"status": "ok" if loaded else "fail", "detail": detail}
    rm = services.read_model
    if ends is None:
        checks["read_model"] = {"status": "fail", "detail": f"lag unknown while Kafka is unreachable ({rm.status})"}
    else:
        lag = rm.lag(ends)
        services.metrics.read_model_lag.set(lag)
        if not rm.running:
            checks["read_model"] = {"status": "fail", "detail": f"not running ({rm.status})", "lag": lag}
        elif lag > services.max_ready_lag:
            checks["read_model"] = {"status": "fail", "detail": f"catching up: {lag} records behind", "lag": lag}
        else:
            checks["read_model"] = {"status": "ok", "detail": rm.status, "lag": lag}
    keys_problem = services.keys.status()
    checks["api_keys"] = {"status": "fail", "detail": keys_problem} if keys_problem else {"status": "ok"}
    return {"ready": all(c["status"] == "ok" for c in checks.values()), "checks": checks}


@router.get("/readyz", response_model=Readiness, summary="Readiness",
            description="200 when Kafka is reachable, the model is loaded, the read model has caught up and the "
                        "keys file is loaded; otherwise 503 with the same body. Roles: operator, admin.",
            responses={503: {"model": Readiness, "description": "not ready; `checks` says why"},
                       **error_responses(401, 403)})
def readyz(request: Request, key: OperatorKey) -> JSONResponse:
    """Readiness with one status per dependency."""
    body = Readiness.model_validate(readiness(request.app.state.services)).model_dump()
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            description="Request counts and latency by route template and status, audit records written, read "
                        "model lag. Roles: operator, admin.",
            responses={200: {"content": {"text/plain": {"example": "portrisk_api_requests_total{...} 3.0\n"}},
                             "description": "Prometheus text format"}, **error_responses(401, 403)})
def metrics(request: Request, key: OperatorKey) -> Response:
    """The registry in Prometheus text format."""
    services: Services = request.app.state.services
    # Refresh the lag gauge at scrape time, so it is current without a polling loop of its own.
    with contextlib.suppress(KafkaUnavailable):
        services.metrics.read_model_lag.set(services.read_model.lag(
            services.kafka.end_offsets(services.read_model.topics)))
    return Response(generate_latest(services.registry), media_type=CONTENT_TYPE_LATEST)
