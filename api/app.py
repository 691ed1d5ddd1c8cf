"""The FastAPI application: routers, error handlers, middleware, and the services' lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.errors import install_error_handlers
from api.middleware import BodyLimit, RequestPipeline
from api.routes import decisions, inspections, keys, ops, score
from api.services import Services
from portrisk import __version__

DESCRIPTION = """
Risk decisions for containers arriving at the Dutch mainports, for port security and inspectors.

Every request under `/v1` needs an API key in the `X-API-Key` header and is recorded in the `audit-log`
topic (who, what, when, from where, and the answer) before the response is sent; when the audit log cannot
be written the answer is 503.

| endpoint | inspector | security | operator | admin |
|---|---|---|---|---|
| `GET /v1/containers/{id}` | own ports (else 404) | yes | 403 | yes |
| `GET /v1/ports/{port}/recommendations` | own ports (else 403) | yes | 403 | yes |
| `GET /v1/shippers/{id}/decisions` | 403 | yes | 403 | yes |
| `POST /v1/inspections` | own ports (else 403) | 403 | 403 | yes |
| `POST /v1/score` | 403 | yes | 403 | yes |
| `GET /v1/admin/keys`, `DELETE /v1/admin/keys/{id}` | 403 | 403 | 403 | yes |
| `GET /readyz`, `GET /metrics` | 403 | 403 | yes | yes |
| `GET /healthz` | no key needed | | | |

A missing, malformed, unknown or revoked key gets 401. Errors share one JSON shape:
`{"error": code, "detail": message, "request_id": id}`.
"""

TAGS = [
    {"name": "decisions", "description": "Stored decisions, from the read model built from `risk-scores`."},
    {"name": "inspections", "description": "Inspection outcomes, written to `inspection-outcomes`."},
    {"name": "what-if", "description": "Scoring a manifest without publishing anything."},
    {"name": "key management", "description": "Admin: API keys."},
    {"name": "operations", "description": "Liveness, readiness, metrics."},
]


def create_app(services: Services, *, manage_services: bool = True) -> FastAPI:
    """The application over ``services``; with ``manage_services`` the app starts and closes them."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_services:
            services.start()
        try:
            yield
        finally:
            if manage_services:
                await run_in_threadpool(services.close)

    app = FastAPI(title="portrisk API", version=__version__, description=DESCRIPTION, openapi_tags=TAGS,
                  lifespan=lifespan)
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodyLimit)  # added first: innermost, next to the routes
    app.add_middleware(RequestPipeline)
    for module in (decisions, inspections, score, keys, ops):
        app.include_router(module.router)
    return app
