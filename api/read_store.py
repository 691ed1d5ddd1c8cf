"""The read model's SQLite database: schema, idempotent writes, and the queries the API answers from.

One row per container holds its latest decision (an amendment, or the next arrival of the same box,
replaces it); ``history`` keeps every decision per event id for the shipper's record; ``positions`` holds
the next Kafka offset per partition and is written in the same transaction as the rows, so a restart
resumes exactly where the database stands — no record lost or applied twice.

"Open" scan recommendation: the latest decision is ``scan`` and no inspection outcome names an event of
the same *visit* (the original declaration and its amendments share a visit id). Outcomes are matched by
event id, never by time, so the answer does not depend on the order the two topics are read in.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from portrisk.errors import ConfigError

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS decisions (
    container_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, visit_id TEXT NOT NULL, port TEXT NOT NULL,
    shipper_id TEXT NOT NULL, consignee_id TEXT, score REAL NOT NULL, decision TEXT NOT NULL, selection TEXT,
    threshold REAL, reasons TEXT NOT NULL, rule_hits TEXT NOT NULL, model_version TEXT NOT NULL,
    degraded INTEGER NOT NULL, degraded_reason TEXT, event_time TEXT, eta TEXT, is_amendment INTEGER NOT NULL,
    decided_at TEXT NOT NULL, decided_ts REAL NOT NULL,
    outcome_id TEXT, inspection_result TEXT, inspected_at TEXT);
CREATE INDEX IF NOT EXISTS decisions_queue ON decisions (port, decision, score DESC, container_id);
CREATE INDEX IF NOT EXISTS decisions_open ON decisions (port, score DESC, container_id)
    WHERE decision = 'scan' AND outcome_id IS NULL;
CREATE INDEX IF NOT EXISTS decisions_shipper ON decisions (shipper_id);
CREATE INDEX IF NOT EXISTS decisions_decided ON decisions (decided_ts);
CREATE INDEX IF NOT EXISTS decisions_visit ON decisions (visit_id);
CREATE TABLE IF NOT EXISTS history (
    event_id TEXT PRIMARY KEY, shipper_id TEXT NOT NULL, container_id TEXT NOT NULL, port TEXT NOT NULL,
    score REAL NOT NULL, decision TEXT NOT NULL, selection TEXT, model_version TEXT NOT NULL,
    degraded INTEGER NOT NULL, is_amendment INTEGER NOT NULL, decided_at TEXT NOT NULL, decided_ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS history_shipper ON history (shipper_id, decided_ts DESC, event_id DESC);
CREATE TABLE IF NOT EXISTS event_visits (event_id TEXT PRIMARY KEY, visit_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (
    outcome_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, container_id TEXT NOT NULL, port TEXT NOT NULL,
    result TEXT NOT NULL, inspected_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outcomes_event ON outcomes (event_id);
"""
_TABLES = ("positions", "decisions", "history", "event_visits", "outcomes")
_DECISION_COLUMNS = ("container_id", "event_id", "port", "shipper_id", "consignee_id", "score", "decision",
                     "selection", "threshold", "reasons", "rule_hits", "model_version", "degraded",
                     "degraded_reason", "event_time", "eta", "is_amendment", "decided_at", "outcome_id",
                     "inspection_result", "inspected_at")


def _ts(value: str) -> float:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"decided_at {value!r} has no time zone")
    return parsed.timestamp()


class ReadStore:
    """SQLite in WAL mode: one writer connection (under a lock), read-only connections per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # One process per database: two writers would interleave rows and positions of different streams.
        self._owner = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._owner.close()
            raise ConfigError(f"read model {path} is in use by another `portrisk serve`; give each server "
                              "its own PORTRISK_HOME") from exc
        self._write_lock = threading.Lock()
        try:
            self._writer = self._open_writer()
        except BaseException:
            self._owner.close()
            raise
        self._local = threading.local()

    def _open_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        conn.executescript(_SCHEMA)
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if version is None or version[0] != SCHEMA_VERSION:
            with _transaction(conn):
                for table in _TABLES:
                    conn.execute(f"DELETE FROM {table}")
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        return conn

    def close(self) -> None:
        """Close the writer (reader connections close with their threads)."""
        with self._write_lock:
            self._writer.close()
        self._owner.close()

    # -- writes (the consumer thread; the inspections endpoint for read-your-writes) ------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rows and positions written inside it commit together."""
        with self._write_lock, _transaction(self._writer):
            yield self._writer

    def reset(self, topics_key: str) -> None:
        """Forget everything (a rebuild from the start of the topics) and remember which topics we read."""
        with self.writing() as conn:
            for table in _TABLES:
                conn.execute(f"DELETE FROM {table}")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('topics', ?)", (topics_key,))

    def meta(self, key: str) -> str | None:
        row = self._writer_read("SELECT value FROM meta WHERE key=?", (key,))
        return None if row is None else str(row[0])

    def positions(self) -> dict[tuple[str, int], int]:
        """The next offset to read per (topic, partition), as committed with the rows."""
        with self._write_lock:
            rows = self._writer.execute("SELECT topic, partition, next_offset FROM positions").fetchall()
        return {(t, p): o for t, p, o in rows}

    @staticmethod
    def save_positions(conn: sqlite3.Connection, positions: Mapping[tuple[str, int], int]) -> None:
        conn.executemany("INSERT OR REPLACE INTO positions VALUES (?, ?, ?)",
                         [(t, p, o) for (t, p), o in positions.items()])

    @staticmethod
    def apply_decision(conn: sqlite3.Connection, doc: Mapping[str, Any]) -> None:
        """Upsert a decision record (``stream.records.decision_record``); KeyError/ValueError if malformed."""
        container_id, event_id = str(doc["container_id"]), str(doc["event_id"])
        decided_at = str(doc["decided_at"])
        decided_ts = _ts(decided_at)
        row = conn.execute("SELECT visit_id FROM event_visits WHERE event_id=?", (event_id,)).fetchone()
        if row is None and doc.get("is_amendment"):
            row = conn.execute("SELECT visit_id FROM decisions WHERE container_id=?", (container_id,)).fetchone()
        visit_id = row[0] if row is not None else event_id
        conn.execute("INSERT OR REPLACE INTO event_visits VALUES (?, ?)", (event_id, visit_id))
        outcome = conn.execute(
            "SELECT o.outcome_id, o.result, o.inspected_at FROM outcomes o JOIN event_visits v "
            "ON v.event_id = o.event_id WHERE v.visit_id=? AND o.container_id=? "
            "ORDER BY o.inspected_at DESC LIMIT 1", (visit_id, container_id)).fetchone()
        score = float(doc["score"])
        degraded, amendment = int(bool(doc.get("degraded"))), int(bool(doc.get("is_amendment")))
        conn.execute(
            "INSERT OR REPLACE INTO decisions VALUES (" + ",".join("?" * 23) + ")",
            (container_id, event_id, visit_id, str(doc["port"]), str(doc["shipper_id"]), doc.get("consignee_id"),
             score, str(doc["decision"]), doc.get("selection"), doc.get("threshold"),
             json.dumps(list(doc.get("reasons") or [])), json.dumps(list(doc.get("rule_hits") or [])),
             str(doc["model_version"]), degraded, doc.get("degraded_reason"), doc.get("event_time"),
             doc.get("eta"), amendment, decided_at, decided_ts, *(outcome or (None, None, None))))
        conn.execute(
            "INSERT OR REPLACE INTO history VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (event_id, str(doc["shipper_id"]), container_id, str(doc["port"]), score, str(doc["decision"]),
             doc.get("selection"), str(doc["model_version"]), degraded, amendment, decided_at, decided_ts))

    @staticmethod
    def delete_container(conn: sqlite3.Connection, container_id: str) -> None:
        """A tombstone on the compacted risk-scores topic: the container's latest decision is gone."""
        conn.execute("DELETE FROM decisions WHERE container_id=?", (container_id,))

    @staticmethod
    def apply_outcome(conn: sqlite3.Connection, outcome_id: str, event_id: str, container_id: str, port: str,
                      result: str, inspected_at: str) -> None:
        """Record an inspection outcome and close the matching visit's recommendation (idempotent)."""
        conn.execute("INSERT OR IGNORE INTO outcomes VALUES (?,?,?,?,?,?)",
                     (outcome_id, event_id, container_id, port, result, inspected_at))
        conn.execute(
            "UPDATE decisions SET outcome_id=?, inspection_result=?, inspected_at=? WHERE container_id=? "
            "AND visit_id = (SELECT visit_id FROM event_visits WHERE event_id=?) "
            "AND (inspected_at IS NULL OR inspected_at <= ?)",
            (outcome_id, result, inspected_at, container_id, event_id, inspected_at))

    # -- queries (request threads) -----------------------------------------------------------------
    def container(self, container_id: str) -> dict[str, Any] | None:
        """The latest decision for a container, or None."""
        cols = ", ".join(_DECISION_COLUMNS)
        rows = self._read(f"SELECT {cols} FROM decisions WHERE container_id=?", (container_id,))
        return _decision_dict(rows[0]) if rows else None

    def open_queue(self, port: str, *, limit: int, after: tuple[float, str] | None = None,
                   since_ts: float | None = None, until_ts: float | None = None) -> list[dict[str, Any]]:
        """Open scan recommendations of a port by score (highest first), after a keyset cursor."""
        sql = [f"SELECT {', '.join(_DECISION_COLUMNS)} FROM decisions "
               "WHERE port=? AND decision='scan' AND outcome_id IS NULL"]
        args: list[Any] = [port]
        if after is not None:
            sql.append("AND (score < ? OR (score = ? AND container_id > ?))")
            args += [after[0], after[0], after[1]]
        if since_ts is not None:
            sql.append("AND decided_ts >= ?")
            args.append(since_ts)
        if until_ts is not None:
            sql.append("AND decided_ts < ?")
            args.append(until_ts)
        sql.append("ORDER BY score DESC, container_id ASC LIMIT ?")
        args.append(limit)
        return [_decision_dict(r) for r in self._read(" ".join(sql), args)]

    def selection_of(self, event_id: str) -> str | None:
        """Why the decision on ``event_id`` flagged it (model, rule or random); None when released or unknown."""
        rows = self._read("SELECT selection FROM history WHERE event_id=?", (event_id,))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def shipper_history(self, shipper_id: str, *, limit: int,
                        before: tuple[float, str] | None = None) -> list[dict[str, Any]]:
        """A shipper's decisions, newest first, before a keyset cursor (decided_ts, event_id)."""
        sql = ("SELECT event_id, container_id, port, score, decision, selection, model_version, degraded, "
               "is_amendment, decided_at, decided_ts FROM history WHERE shipper_id=?")
        args: list[Any] = [shipper_id]
        if before is not None:
            sql += " AND (decided_ts < ? OR (decided_ts = ? AND event_id < ?))"
            args += [before[0], before[0], before[1]]
        sql += " ORDER BY decided_ts DESC, event_id DESC LIMIT ?"
        args.append(limit)
        keys = ("event_id", "container_id", "port", "score", "decision", "selection", "model_version",
                "degraded", "is_amendment", "decided_at", "decided_ts")
        out = []
        for row in self._read(sql, args):
            item = dict(zip(keys, row, strict=True))
            item["degraded"], item["is_amendment"] = bool(item["degraded"]), bool(item["is_amendment"])
            out.append(item)
        return out

    def _read(self, sql: str, args: Any) -> list[tuple[Any, ...]]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
            self._local.conn = conn
        return conn.execute(sql, args).fetchall()

    def _writer_read(self, sql: str, args: Any) -> tuple[Any, ...] | None:
        with self._write_lock:
            row: tuple[Any, ...] | None = self._writer.execute(sql, args).fetchone()
            return row


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _decision_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(_DECISION_COLUMNS, row, strict=True))
    item["reasons"], item["rule_hits"] = json.loads(item["reasons"]), json.loads(item["rule_hits"])
    item["degraded"], item["is_amendment"] = bool(item["degraded"]), bool(item["is_amendment"])
    outcome_id = item.pop("outcome_id")
    result, inspected_at = item.pop("inspection_result"), item.pop("inspected_at")
    item["inspection"] = None if outcome_id is None else {
        "outcome_id": outcome_id, "result": result, "inspected_at": inspected_at}
    return item
