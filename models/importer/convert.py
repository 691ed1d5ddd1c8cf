"""Rows of an administration's file → v1 manifest-event columns and inspection outcomes.

Column by column, vectorised over a chunk (:mod:`models.importer.parse`). A field the mapping does not
provide is left out of the events altogether — replay reads it as missing and the features that need
it are NaN — and an empty cell is missing too: nothing is invented. Mapped extra attributes and parties
without a contract field go into ``extras`` (JSON text, as in a simulated world). Labels become
outcomes: one per inspected row, ``result`` ``"drugs"`` for a finding — the contract's name for the
positive class the model learns — or ``"other_irregularity"`` for a finding whose severity the mapping
lists as minor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from models.importer import parse
from models.importer.mapping import FIELD_KINDS, Mapping
from models.importer.reader import BadRow, Chunk
from models.importer.seen import SeenIds, id_hashes
from models.importer.writer import event_schema, outcome_schema

_PORT_ID = r"^[a-z][a-z0-9_]{1,31}$"
_MODES = pa.array(["sea", "air"])
MAX_EXTRA_TEXT = 256  # the contract's limit on a string extra
_UPPER_CODES = ("port_of_loading", "container_id", "container_type")


@dataclass
class Converted:
    """One chunk's events and outcomes (good rows only), its bad rows, and rows carrying each extra."""

    events: pa.Table
    outcomes: pa.Table
    bad: list[BadRow]
    extras_filled: dict[str, int]


class _Checks:
    """Collects, per row, the first reason it is bad."""

    def __init__(self, raw: pa.RecordBatch, lines: np.ndarray) -> None:
        self.raw = raw
        self.lines = lines
        self.reason = np.full(raw.num_rows, None, dtype=object)

    def flag(self, rows: np.ndarray, key: str, column: str | None, problem: str) -> None:
        for i in np.flatnonzero(rows & (self.reason == None)):  # noqa: E711 (elementwise); only bad rows loop
            shown = f" {str(self.raw.column(column)[int(i)].as_py())[:60]!r}" if column is not None else ""
            self.reason[i] = f"{key}:{shown} {problem}"

    @property
    def good(self) -> np.ndarray:
        return self.reason == None  # noqa: E711


class Converter:
    """Converts chunks for one mapping; keeps what spans chunks (date formats, ids seen, time order)."""

    def __init__(self, mapping: Mapping) -> None:
        """Prepare the parsers of every mapped time column."""
        self.mapping = mapping
        src = mapping.source
        times = [f for f in mapping.columns if FIELD_KINDS[f] == "time"]
        if mapping.labels.inspected_at:
            times.append("inspected_at")
        self.times = {f: parse.TimeParser(f, mapping.date_format(f), src.timezone) for f in times}
        self.schemas = (event_schema(mapping), outcome_schema(mapping))
        self.seen = SeenIds()
        self.last_time: int | None = None
        self.in_time_order = True

    def describe(self) -> dict[str, object]:
        """Date formats detected or given, per time column."""
        return {name: parser.describe() for name, parser in self.times.items()}

    def convert(self, chunk: Chunk) -> Converted:
        """The events and outcomes of the chunk's good rows, and its bad rows (with line numbers)."""
        m, raw = self.mapping, chunk.batch
        n = raw.num_rows
        checks = _Checks(raw, chunk.lines)
        # A blank line (every cell empty) is no declaration and no error: it is passed over silently.
        checks.reason[_blank(raw)] = ""
        events: dict[str, pa.Array] = {}
        for name, column in m.columns.items():
            events[name] = self._field(name, raw.column(column), checks, column)
        for name, value in m.constants.items():
            events[name] = pa.array([value] * n, pa.string())
        extras: dict[str, pa.Array] = {}
        for column, target in m.parties.values():
            ids = parse.text(raw.column(column))
            if target.startswith("extras."):
                extras[target[7:]] = ids
            else:
                events[target] = ids
        for key, (column, kind) in m.extras.items():
            extras[key] = self._extra(key, kind, raw.column(column), checks, column)
        if "is_amendment" not in events and "amends_event_id" in events:
            events["is_amendment"] = pc.is_valid(events["amends_event_id"])
        self._require(events, checks)
        self._codes(events, checks)
        outcome, inspected = self._labels(raw, events, checks)
        self._unique(events["event_id"], checks)

        good = checks.good
        keep = pa.array(good)
        events["schema_version"] = pa.array(np.ones(n, dtype=np.int64))
        events["extras"] = parse.extras_json(extras, n)
        table = pa.table({f.name: events[f.name] for f in self.schemas[0]}, schema=self.schemas[0]).filter(keep)
        outcomes = outcome.filter(pa.array(good & inspected))
        self._track_order(table.column("event_time"))
        bad = sorted(chunk.bad + [BadRow(int(chunk.lines[i]), str(checks.reason[i]))
                                  for i in np.flatnonzero(~good) if checks.reason[i]], key=lambda b: b.line)
        filled = {f"extras.{k}": int(good.sum()) - v.filter(keep).null_count for k, v in extras.items()}
        return Converted(table, outcomes, bad, filled)

    # -- fields --------------------------------------------------------------------------------------
    def _field(self, name: str, values: pa.Array, checks: _Checks, column: str) -> pa.Array:
        kind, src = FIELD_KINDS[name], self.mapping.source
        recode = self.mapping.values.get(name)
        if kind == "time":
            parsed, failed = self.times[name](values)
            checks.flag(failed, name, column, f"is not a date/time ({self.times[name].format})")
            return parsed
        if kind == "number":
            numbers, failed = parse.number(values, src.decimal, src.thousands)
            checks.flag(failed, name, column, "is not a number")
            checks.flag(parse.mask(pc.less(numbers, 0)), name, column, "is negative")
            return numbers
        if kind == "bool":
            flags, failed = parse.boolean(values, src.true_values, src.false_values)
            checks.flag(failed, name, column, "is not a yes/no value ([source] true_values, false_values)")
            return flags
        if kind == "list":
            return parse.lists(values, src.list_separator)
        if kind == "hs":
            return parse.hs_code(values)
        if name in _UPPER_CODES:
            return parse.upper_code(values, recode)
        ids = parse.text(values, recode)
        # Port ids and modes are lower-case words: 'Rotterdam' means 'rotterdam'.
        return pc.utf8_lower(ids) if kind == "code" else ids

    def _extra(self, key: str, kind: str, values: pa.Array, checks: _Checks, column: str) -> pa.Array:
        if kind == "numeric":
            numbers, failed = parse.number(values, self.mapping.source.decimal, self.mapping.source.thousands)
            checks.flag(failed, f"extras.{key}", column, "is not a number")
            return numbers
        labels = parse.text(values)
        checks.flag(parse.mask(pc.greater(pc.utf8_length(labels), MAX_EXTRA_TEXT)), f"extras.{key}", None,
                    f"is longer than {MAX_EXTRA_TEXT} characters")
        return labels

    def _require(self, events: dict[str, pa.Array], checks: _Checks) -> None:
        sources = self.mapping.columns | {t: c for c, t in self.mapping.parties.values()}
        for name in ("event_id", "event_time", "shipper_id", "mainport"):
            checks.flag(parse.mask(pc.is_null(events[name])), name, None,
                        f"is empty (column {sources.get(name, '[constants]')!r}); it is required")

    def _codes(self, events: dict[str, pa.Array], checks: _Checks) -> None:
        bad_port = pc.invert(pc.match_substring_regex(events["mainport"], _PORT_ID))
        checks.flag(parse.mask(bad_port), "mainport", self.mapping.columns.get("mainport"),
                    "is not a port id such as 'rotterdam'; recode it in [values.mainport]")
        if "transport_mode" in events:
            bad_mode = pc.invert(pc.is_in(events["transport_mode"], value_set=_MODES))
            checks.flag(parse.mask(pc.and_(bad_mode, pc.is_valid(events["transport_mode"]))), "transport_mode",
                        self.mapping.columns.get("transport_mode"),
                        "is neither 'sea' nor 'air'; recode it in [values.transport_mode]")

    def _labels(self, raw: pa.RecordBatch, events: dict[str, pa.Array], checks: _Checks
                ) -> tuple[pa.Table, np.ndarray]:
        """Every row's would-be outcome, and which rows were inspected."""
        lab, src = self.mapping.labels, self.mapping.source
        finding, bad_finding = parse.boolean(raw.column(lab.finding), src.true_values, src.false_values)
        checks.flag(bad_finding, "finding", lab.finding, "is not a yes/no value")
        if lab.inspected is not None:
            inspected, bad_inspected = parse.boolean(raw.column(lab.inspected), src.true_values, src.false_values)
            checks.flag(bad_inspected, "inspected", lab.inspected, "is not a yes/no value")
            was_inspected = parse.mask(inspected)  # empty: not inspected
        else:
            was_inspected = parse.mask(pc.is_valid(finding))
        checks.flag(was_inspected & parse.mask(pc.is_null(finding)), "finding", lab.finding,
                    "is empty for an inspected row")
        filed = events["event_time"]
        assumed = pc.add(filed, pa.scalar(int(lab.delay_days * 86_400e6), pa.duration("us")))
        if lab.inspected_at is not None:
            parser = self.times["inspected_at"]
            at, failed = parser(raw.column(lab.inspected_at))
            checks.flag(failed & was_inspected, "inspected_at", lab.inspected_at,
                        f"is not a date/time ({parser.format})")
            if parser.date_only:  # a date says the result was known by the end of that day
                at = pc.add(at, pa.scalar(86_399_000_000, pa.duration("us")))
            early = parse.mask(pc.less_equal(at, filed)) & was_inspected
            checks.flag(early, "inspected_at", lab.inspected_at, "is not after the declaration was filed")
            at = pc.coalesce(at, assumed)
        else:
            at = assumed
        result = pc.if_else(pc.fill_null(finding, False), "drugs", "no_finding")
        columns: dict[str, pa.Array] = {}
        if lab.severity is not None:
            columns["severity"] = parse.text(raw.column(lab.severity))
            minor = pc.is_in(pc.utf8_lower(columns["severity"]), value_set=pa.array(lab.minor_severities, pa.string()))
            result = pc.if_else(pc.and_(pc.equal(result, "drugs"), minor), "other_irregularity", result)
        selection = pa.nulls(raw.num_rows, pa.string())
        if lab.selection is not None and lab.selection_values:
            chosen = pc.utf8_lower(parse.text(raw.column(lab.selection)))
            keys = pa.array(list(lab.selection_values), pa.string())
            selection = pc.take(pa.array(list(lab.selection_values.values()), pa.string()),
                                pc.index_in(chosen, value_set=keys))
        columns |= {"schema_version": pa.array(np.ones(raw.num_rows, dtype=np.int64)),
                    "outcome_id": pc.binary_join_element_wise(events["event_id"], "outcome", "-"),
                    "inspected_at": at, "result": result, "selection": selection}
        columns |= {k: events[k] for k in ("event_id", "container_id", "shipper_id", "mainport") if k in events}
        schema = self.schemas[1]
        return pa.table({f.name: columns[f.name] for f in schema}, schema=schema), was_inspected

    def _unique(self, ids: pa.Array, checks: _Checks) -> None:
        candidates = checks.good
        hashes = id_hashes(ids.filter(pa.array(candidates)))
        repeated = _duplicated(hashes) | self.seen.contains(hashes)
        again = np.zeros(len(ids), dtype=bool)
        again[np.flatnonzero(candidates)[repeated]] = True
        checks.flag(again, "event_id", self.mapping.columns["event_id"], "appears more than once")
        self.seen.add(hashes[~repeated])

    def _track_order(self, times: pa.ChunkedArray) -> None:
        if not len(times):
            return
        values = times.cast(pa.int64()).to_numpy()
        if np.any(np.diff(values) < 0) or (self.last_time is not None and values[0] < self.last_time):
            self.in_time_order = False
        self.last_time = int(values.max()) if self.last_time is None else max(self.last_time, int(values.max()))


def _blank(raw: pa.RecordBatch) -> np.ndarray:
    """Rows whose every cell is empty."""
    blank = np.ones(raw.num_rows, dtype=bool)
    for column in raw.columns:
        blank &= parse.mask(pc.is_null(column))
    return blank


def _duplicated(hashes: np.ndarray) -> np.ndarray:
    """Per hash: does it occur earlier in the array?"""
    _, first = np.unique(hashes, return_index=True)
    repeated = np.ones(hashes.size, dtype=bool)
    repeated[first] = False
    return repeated
