"""The selection policy's state in a compacted topic, so that a restarted worker carries on warm.

A worker's policy learns each port's score distribution, arrivals and flags as it goes (see
:mod:`scoring.capacity`). Started cold it flags the top score seen until a window fills: at a port with
450 arrivals a day that is most of a day of over-selection after every restart or deploy. So the worker
writes its policy state to ``policy-state`` (compacted, keyed by consumer group and model version) every
``policy_state_interval_s`` and when it stops, and a worker joining the group restores the latest one
before it decides anything. Every worker of a group holds statistically the same state, scaled to its
share of the traffic (recorded in the state), so any member's record will do: the restoring worker
rescales it to its own share. A record written with another model version is not restored — the score
windows of another model are on another scale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from portrisk.errors import DataError
from stream.changelog import read_to_end

RECORD_VERSION = 1


def record_key(group_id: str, model_version: str) -> str:
    """One record per consumer group and model version: during a rolling deploy the old and the new
    model's workers keep their own states (and a worker of either restores its own model's)."""
    return f"{group_id}|{model_version}"


def encode_record(policy: dict[str, Any], model_version: str, writer: str) -> bytes:
    return orjson.dumps({"version": RECORD_VERSION, "model_version": model_version, "writer": writer,
                         "written_at": datetime.now(UTC).isoformat(), "policy": policy})


def decode_record(value: bytes) -> dict[str, Any]:
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise DataError(f"corrupt policy-state record: {exc}") from exc
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION or "policy" not in record:
        raise DataError(f"policy-state record of an unknown version: {str(record)[:80]!r}")
    return record


def latest_record(bootstrap: str, topic: str, key: str, timeout_s: float = 30.0) -> dict[str, Any] | None:
    """The newest record of ``key`` in the topic (read to its end), or None when there is none.

    DataError when the topic cannot be read to its end in time: what was read so far may be days old."""
    wanted = key.encode()
    latest: list[bytes | None] = [None]

    def keep(record: Any) -> None:
        if record.key == wanted:
            latest[0] = record.value  # a tombstone (None) deletes what came before

    try:
        read_to_end(bootstrap, topic, None, keep, client_id="portrisk-policy-restore", timeout_s=timeout_s)
    except TimeoutError as exc:
        raise DataError(str(exc)) from exc
    return decode_record(latest[0]) if latest[0] is not None else None
