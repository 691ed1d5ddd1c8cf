"""What happens around every request: request id, body limit, the 500 net, audit, metrics.

The order matters and is kept in one place (:class:`RequestPipeline`):

1. a request id (the caller's ``X-Request-ID`` when it is well-formed, else a new one);
2. the route handler, whose unexpected exceptions become a logged 500 carrying the request id;
3. for ``/v1`` routes, the audit record, written *before* the response leaves: when Kafka does not
   acknowledge it the caller gets 503 instead of the data. The one exception is an accepted inspection
   outcome: it is already in Kafka when the audit is attempted, and answering 503 would make the client
   post it again, so the 202 stands and the failure is logged and counted;
4. metrics by route template, method and status.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit import AuditContext, audit_record
from api.auth import presented_key
from api.errors import BodyTooLarge, error_response
from api.kafka_io import KafkaUnavailable
from api.keys import parse_key

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 64 * 1024


class BodyLimit:
    """Refuse bodies above ``limit`` bytes: by Content-Length up front, or while a chunked body streams in."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            response = error_response(Request(scope), 413, "body_too_large",
                                      f"request body larger than {self.limit} bytes")
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)  # raised inside the handler: its exception handler answers
            return message

        await self.app(scope, limited, send)


class RequestPipeline(BaseHTTPMiddleware):
    """Request id, the 500 net, audit for /v1, metrics (see the module docstring for the order)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        services = request.app.state.services
        header_id = request.headers.get("x-request-id", "")
        request_id = header_id if _REQUEST_ID.match(header_id) else uuid.uuid4().hex
        request.state.request_id = request_id
        request.state.audit = AuditContext()
        request.state.api_key = None
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.url.path,
                          extra={"request_id": request_id})
            response = error_response(request, 500, "internal_error",
                                      "unexpected server error; quote the request id when reporting it")
        route = _route_template(request)
        if request.url.path.startswith("/v1/"):
            response = await self._audit(request, response, route)
        response.headers["X-Request-ID"] = request_id
        method = request.method if request.method in _METHODS else "OTHER"
        services.metrics.requests.labels(route, method, str(response.status_code)).inc()
        services.metrics.latency.labels(route, method).observe(time.perf_counter() - started)
        if response.status_code in (401, 403):
            services.metrics.auth_failures.labels(str(response.status_code)).inc()
        return response

    async def _audit(self, request: Request, response: Response, route: str) -> Response:
        services = request.app.state.services
        context: AuditContext = request.state.audit
        presented = presented_key(request)
        parsed = parse_key(presented) if presented else None
        client = request.client.host if request.client else None
        record = audit_record(
            request_id=request.state.request_id, key=request.state.api_key,
            presented_key_id=parsed[0] if parsed else None, method=request.method[:16], route=route,
            path=request.url.path[:512], query=request.url.query[:1024], context=context,
            status=response.status_code, client=client,
            forwarded_for=(request.headers.get("x-forwarded-for") or "")[:256] or None)
        try:
            await run_in_threadpool(services.audit.write, record)
        except KafkaUnavailable as exc:
            if context.action == "post_inspection" and response.status_code == 202:
                log.error("audit record for accepted outcome %s not written: %s",
                          context.resources.get("outcome_id"), exc, extra={"request_id": request.state.request_id})
                return response
            log.error("audit log unavailable, refusing %s %s: %s", request.method, route, exc,
                      extra={"request_id": request.state.request_id})
            return error_response(request, 503, "audit_unavailable",
                                  "the request could not be recorded in the audit log; try again shortly",
                                  headers={"Retry-After": "5"})
        return response


def _route_template(request: Request) -> str:
    route: Any = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
