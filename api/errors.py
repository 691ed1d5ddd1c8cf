"""Error responses: one JSON shape for every 4xx and 5xx, and the handlers that produce it.

``{"error": "<code>", "detail": "<message>", "request_id": "...", "problems": [...]}`` — ``problems`` only
for request validation. Messages name the field and the rule; they never echo an internal exception.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from portrisk.errors import PortriskError

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "body_too_large", 415: "unsupported_media_type",
               422: "invalid_request", 503: "unavailable"}


class ApiError(PortriskError):
    """An error the API reports on purpose, with its HTTP status and a stable error code."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


class BodyTooLarge(ApiError):
    """The request body exceeds the limit (raised while the body is being received)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "body_too_large", f"request body larger than {limit} bytes")


def error_response(request: Request | None, status: int, code: str, detail: str,
                   problems: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error body, carrying the request id so a caller can quote it."""
    body: dict[str, Any] = {"error": code, "detail": detail,
                            "request_id": getattr(request.state, "request_id", None) if request else None}
    if problems is not None:
        body["problems"] = problems
    return JSONResponse(body, status_code=status, headers=headers)


def _problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only location and message: pydantic's "input" would echo whatever the caller sent (and its size).
    return [{"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))} for err in exc.errors()]


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = _problems(exc)
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    detail = f"{'.'.join(first['loc'][1:] or first['loc'])}: {first['msg']}"
    return error_response(request, 422, "invalid_request", detail, problems)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status, exc.code, exc.detail, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else code
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such endpoint; see /docs"
    return error_response(request, exc.status_code, code, detail, headers=getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the same JSON shape."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
