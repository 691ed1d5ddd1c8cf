"""The data summary of an import, accumulated chunk by chunk (it goes to ``import.json`` and the model card).

It says what a model trained on the history has seen: how many rows were read, imported and skipped
(and why, with the first line numbers), the time span, ports and modes, labels, and — per mapped field
and extra — the share of rows that carried a value, since a field that is mostly empty gives features
that are mostly missing.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from models.importer.reader import BadRow

MAX_EXAMPLES = 100  # bad rows listed by line; the count covers them all


class ImportSummary:
    """Counts over every chunk (see the module docstring)."""

    def __init__(self, max_bad_rows: int) -> None:
        """An empty summary; ``max_bad_rows`` is the limit above which the import fails."""
        self.max_bad_rows = max_bad_rows
        self.rows_read = self.rows_imported = self.bad_count = 0
        self.bad_by_field: Counter[str] = Counter()
        self.bad_examples: list[BadRow] = []
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.ports: Counter[str] = Counter()
        self.modes: Counter[str] = Counter()
        self.results: Counter[str] = Counter()
        self.selections: Counter[str] = Counter()
        self.filled: Counter[str] = Counter()
        self.shippers: set[str] = set()  # bounded by the number of shippers, not of rows

    def add(self, events: pa.Table, outcomes: pa.Table, bad: list[BadRow], extras_filled: dict[str, int]) -> None:
        """Count one converted chunk (``extras_filled``: rows carrying each extra attribute)."""
        self.rows_read += events.num_rows + len(bad)
        self.rows_imported += events.num_rows
        self.bad_count += len(bad)
        for row in bad:
            self.bad_by_field[row.reason.split(":", 1)[0] if ":" in row.reason else "fields"] += 1
            if len(self.bad_examples) < MAX_EXAMPLES:
                self.bad_examples.append(row)
        if not events.num_rows:
            return
        span = pc.min_max(events.column("event_time"))
        first, last = span["min"].as_py(), span["max"].as_py()
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)
        _count(self.ports, events.column("mainport"))
        if "transport_mode" in events.column_names:
            _count(self.modes, events.column("transport_mode"))
        _count(self.results, outcomes.column("result"))
        _count(self.selections, pc.fill_null(outcomes.column("selection"), "unknown"))
        self.shippers.update(pc.unique(events.column("shipper_id")).to_pylist())
        for name in events.column_names:
            if name not in ("schema_version", "extras"):
                self.filled[name] += events.num_rows - events.column(name).null_count
        self.filled.update(extras_filled)

    @property
    def over_limit(self) -> bool:
        """True once more rows were bad than the limit allows."""
        return self.bad_count > self.max_bad_rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        n = max(self.rows_imported, 1)
        inspected = sum(self.results.values())
        return {
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "bad_rows": {"count": self.bad_count, "limit": self.max_bad_rows,
                         "by_field": dict(self.bad_by_field.most_common()),
                         "examples": [b.to_dict() for b in self.bad_examples]},
            "first_event": self.first.isoformat() if self.first is not None else None,
            "last_event": self.last.isoformat() if self.last is not None else None,
            "ports": dict(self.ports.most_common()),
            "transport_modes": dict(self.modes.most_common()),
            "shippers": len(self.shippers),
            "inspected": inspected,
            "inspected_share": inspected / n,
            "results": dict(self.results.most_common()),
            "selections": dict(self.selections.most_common()),
            "filled_share": {k: round(v / n, 6) for k, v in sorted(self.filled.items())},
        }


def _count(counter: Counter[str], values: pa.ChunkedArray) -> None:
    for item in pc.value_counts(values.drop_null()).to_pylist():
        counter[item["values"]] += item["counts"]
