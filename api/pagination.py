"""Opaque keyset cursors and time filters shared by the list endpoints."""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import UTC, datetime

from api.errors import ApiError

MAX_LIMIT = 500


def encode_cursor(number: float, text: str) -> str:
    """An opaque cursor for the keyset (number, text) of the last item on a page."""
    return base64.urlsafe_b64encode(json.dumps([number, text]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    """The keyset of a cursor this API issued; 400 for anything else."""
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        number, text = value
        if isinstance(number, bool) or not isinstance(number, int | float) or not isinstance(text, str):
            raise ValueError("wrong types")
        if not math.isfinite(number):
            raise ValueError("not finite")
        return float(number), text
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor is not a cursor this endpoint issued") from exc


def as_utc(value: datetime | None) -> datetime | None:
    """Time filters without a zone are read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_window(since: datetime | None, until: datetime | None) -> tuple[float | None, float | None]:
    """POSIX seconds of a [since, until) window; 422 when it is empty by construction."""
    try:
        s, u = as_utc(since), as_utc(until)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00 has no UTC equivalent
        raise ApiError(422, "invalid_request", "since/until outside the supported range") from exc
    if s is not None and u is not None and s >= u:
        raise ApiError(422, "invalid_request", "since must be earlier than until")
    return (s.timestamp() if s else None), (u.timestamp() if u else None)
