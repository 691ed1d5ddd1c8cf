"""One import: file + mapping → a history directory that ``portrisk train`` and ``evaluate`` read as they are.

Read a chunk, convert it, count it, write it; fail as soon as the bad rows exceed the limit (there is no
point in reading ten million rows to report that the first million were misread), and leave nothing
behind on failure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from models.importer.convert import Converter
from models.importer.mapping import Mapping
from models.importer.progress import Progress
from models.importer.reader import BLOCK_BYTES, CHUNK_ROWS, SourceFile
from models.importer.summary import ImportSummary
from models.importer.writer import HistoryWriter
from portrisk.errors import DataError


@dataclass(frozen=True)
class ImportResult:
    """Where the history went, the record written to its ``import.json``, and the time taken."""

    out_dir: Path
    record: dict[str, Any]
    seconds: float

    @property
    def summary(self) -> dict[str, Any]:
        """The data summary."""
        summary: dict[str, Any] = self.record["summary"]
        return summary


def import_history(source: str | Path, mapping: Mapping, out_dir: str | Path,
                   kind: Literal["csv", "parquet"] | None = None, max_bad_rows: int | None = None,
                   progress: Progress | None = None, block_bytes: int = BLOCK_BYTES,
                   chunk_rows: int = CHUNK_ROWS) -> ImportResult:
    """Import ``source`` (CSV or Parquet; by extension when ``kind`` is None) into ``out_dir``.

    ``max_bad_rows`` overrides the mapping's limit; ``block_bytes`` and ``chunk_rows`` size the reading
    (see :mod:`models.importer.reader`). Raises ConfigError for a mapping that does not fit
    the file (naming the columns), DataError for an unreadable file, too many bad rows (with the first
    ones and their line numbers) or no importable row at all.
    """
    began = time.perf_counter()
    path = Path(source)
    kind = kind or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    reader = SourceFile(path, kind, mapping, block_bytes=block_bytes, chunk_rows=chunk_rows)
    limit = mapping.source.max_bad_rows if max_bad_rows is None else max_bad_rows
    converter = Converter(mapping)
    summary = ImportSummary(limit)
    with HistoryWriter(out_dir, mapping) as writer:
        for chunk in reader.chunks():
            converted = converter.convert(chunk)
            summary.add(converted.events, converted.outcomes, converted.bad, converted.extras_filled)
            if summary.over_limit:
                raise DataError(_too_many(summary, path))
            writer.write(converted.events, converted.outcomes)
            if progress is not None:
                progress.update(summary.rows_read, reader.consumed, summary.bad_count)
        if progress is not None:
            progress.update(summary.rows_read, 1.0, summary.bad_count, force=True)
            progress.close()
        if not summary.rows_imported:
            raise DataError(f"{path}: no row could be imported ({summary.bad_count} bad rows); "
                            + _first_bad(summary))
        if not sum(summary.results.values()):
            column = mapping.labels.inspected or mapping.labels.finding
            raise DataError(f"{path}: no row was inspected (column {column!r}); a history without inspection "
                            "results cannot train a model")
        record = {
            "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": reader.describe(),
            "time_formats": converter.describe(),
            "in_time_order": converter.in_time_order,
            "mapping": mapping.document,
            "feature_config": mapping.feature_config().to_dict(),
            "extras": list(mapping.extra_keys()),
            "summary": summary.to_dict(),
        }
        writer.finish(record, mapping.feature_config())
    return ImportResult(Path(out_dir), record, time.perf_counter() - began)


def _first_bad(summary: ImportSummary, n: int = 5) -> str:
    return "first: " + "; ".join(f"line {b.line}: {b.reason}" for b in summary.bad_examples[:n])


def _too_many(summary: ImportSummary, path: Path) -> str:
    fields = ", ".join(f"{k} {v}" for k, v in summary.bad_by_field.most_common(5))
    return (f"{path}: {summary.bad_count} bad rows after {summary.rows_read:,} read, above the limit of "
            f"{summary.max_bad_rows} ([source] max_bad_rows or --max-bad-rows); by field: {fields}; "
            + _first_bad(summary))
