"""Reading an administration's file in bounded chunks: CSV (any encoding and delimiter) or Parquet.

Only the mapped columns are read, as text (CSV) or as stored (Parquet), and handed on ``chunk_rows``
rows at a time, so memory does not grow with the file. The CSV parser works in small blocks: Arrow's
streaming reader buffers dozens of blocks ahead, so 8 MiB blocks would hold some 300 MB; small blocks
gathered into larger chunks keep both memory and per-chunk overhead low. Every row carries its line number —
the CSV record number, header = 1 (the physical line unless a quoted value spans lines), or the row
number of a Parquet file — so a bad row can be reported where the administration can find it. Rows
with the wrong number of fields never reach the converter; they are handed back as bad rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from models.importer.mapping import Mapping
from models.importer.sniff import detect_delimiter, detect_encoding
from portrisk.errors import DataError

BLOCK_BYTES = 1 << 20
CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class BadRow:
    """A row that was skipped: its line number and why."""

    line: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"line": self.line, "reason": self.reason}


@dataclass
class Chunk:
    """Rows of the mapped columns, their line numbers, and the rows skipped while parsing them."""

    batch: pa.RecordBatch
    lines: np.ndarray
    bad: list[BadRow] = field(default_factory=list)


class SourceFile:
    """An input file opened for chunked reading (:meth:`chunks`); ``describe`` says what was detected."""

    def __init__(self, path: str | Path, kind: Literal["csv", "parquet"], mapping: Mapping,
                 block_bytes: int = BLOCK_BYTES, chunk_rows: int = CHUNK_ROWS) -> None:
        """Open ``path`` and check the mapping's columns against its header (ConfigError naming them)."""
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such file")
        self.kind = kind
        self.mapping = mapping
        self.block_bytes = block_bytes
        self.chunk_rows = chunk_rows
        self.size = self.path.stat().st_size
        self.encoding: str | None = None
        self.delimiter: str | None = None
        if kind == "csv":
            self.encoding = mapping.source.encoding or detect_encoding(self.path)
            self.delimiter = mapping.source.delimiter or detect_delimiter(self.path, self.encoding)
            self.header = self._csv_header()
        else:
            try:
                self._parquet = pq.ParquetFile(self.path)
            except (OSError, pa.ArrowException) as exc:
                raise DataError(f"cannot read {self.path} as Parquet: {exc}") from exc
            self.header = list(self._parquet.schema_arrow.names)
        mapping.check_columns(self.header, str(self.path))
        self.columns = sorted(set(mapping.source_columns().values()))
        self.consumed = 0.0  # share of the file read so far (for progress)

    def describe(self) -> dict[str, Any]:
        """What was read and how (for ``import.json``)."""
        return {"path": str(self.path), "format": self.kind, "bytes": self.size, "encoding": self.encoding,
                "delimiter": self.delimiter, "columns": self.header}

    def chunks(self) -> Iterator[Chunk]:
        """The file's rows in file order, chunk by chunk."""
        return self._csv_chunks() if self.kind == "csv" else self._parquet_chunks()

    # -- CSV -----------------------------------------------------------------------------------------
    def _options(self, include: list[str] | None, handler: Any = None) -> dict[str, Any]:
        return {
            "read_options": pacsv.ReadOptions(encoding=self.encoding or "utf-8", block_size=self.block_bytes,
                                              use_threads=False),  # threads would lose the line numbers
            "parse_options": pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                                ignore_empty_lines=False, invalid_row_handler=handler),
            # Everything is text: ids keep their leading zeros, and "NA" stays Namibia, not a null.
            "convert_options": pacsv.ConvertOptions(
                include_columns=include, column_types=dict.fromkeys(include or [], pa.string()),
                strings_can_be_null=True, null_values=[""], quoted_strings_can_be_null=True),
        }

    def _csv_header(self) -> list[str]:
        try:
            with pacsv.open_csv(self.path, **self._options(None, lambda _row: "skip")) as reader:
                return list(reader.schema.names)
        except (pa.ArrowException, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the header of {self.path} ({self.encoding}, delimiter "
                            f"{self.delimiter!r}): {exc}") from exc

    def _csv_chunks(self) -> Iterator[Chunk]:
        skipped: list[int] = []  # record numbers the parser rejected, in file order
        bad: list[BadRow] = []

        def on_invalid(row: Any) -> str:
            number = int(row.number) if row.number is not None else -1
            skipped.append(number)
            if row.actual_columns > 1 or row.text.strip():  # a blank line is not a bad row
                bad.append(BadRow(number, f"{row.actual_columns} field(s), expected {row.expected_columns}"))
            return "skip"

        source = pa.OSFile(str(self.path))
        next_record = 2  # the header is record 1
        batches: list[pa.RecordBatch] = []
        numbers: list[np.ndarray] = []
        try:
            reader = pacsv.open_csv(source, **self._options(self.columns, on_invalid))
            for batch in reader:
                lines, next_record = _record_numbers(next_record, batch.num_rows, skipped)
                batches.append(batch)
                numbers.append(lines)
                if sum(b.num_rows for b in batches) >= self.chunk_rows:
                    self.consumed = min(source.tell() / max(self.size, 1), 1.0)
                    yield _gather(batches, numbers, bad, reader.schema)
            if batches or bad:
                self.consumed = 1.0
                yield _gather(batches, numbers, bad, reader.schema)
        except (pa.ArrowException, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read {self.path} near record {next_record} ({self.encoding}): {exc}; "
                            "set [source] encoding or delimiter in the mapping if they were guessed wrong") from exc
        finally:
            source.close()

    # -- Parquet -------------------------------------------------------------------------------------
    def _parquet_chunks(self) -> Iterator[Chunk]:
        total = max(self._parquet.metadata.num_rows, 1)
        done = 0
        try:
            for batch in self._parquet.iter_batches(batch_size=self.chunk_rows, columns=self.columns):
                lines = np.arange(done + 1, done + batch.num_rows + 1, dtype=np.int64)
                done += batch.num_rows
                self.consumed = done / total
                yield Chunk(batch, lines)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"cannot read {self.path} after row {done}: {exc}") from exc


def _gather(batches: list[pa.RecordBatch], numbers: list[np.ndarray], bad: list[BadRow], schema: pa.Schema
            ) -> Chunk:
    """One chunk of the gathered batches (which are then emptied, as is ``bad``)."""
    combined = pa.Table.from_batches(batches, schema=schema).combine_chunks().to_batches()
    batch = combined[0] if combined else pa.RecordBatch.from_pylist([], schema=schema)
    lines = np.concatenate(numbers) if numbers else np.empty(0, dtype=np.int64)
    chunk = Chunk(batch, lines, bad[:])
    batches.clear()
    numbers.clear()
    bad.clear()
    return chunk


def _record_numbers(first: int, n: int, skipped: list[int]) -> tuple[np.ndarray, int]:
    """Record numbers of ``n`` parsed rows from ``first`` on, passing over the rejected ones.

    Consumes the rejected numbers it passes from ``skipped``; returns the numbers and the next record.
    """
    end = first + n
    while True:  # each rejected record inside the window pushes the window's end one further
        inside = sum(1 for s in skipped if first <= s < end)
        if first + n + inside == end:
            break
        end = first + n + inside
    passed = [s for s in skipped if s < end]
    del skipped[:len(passed)]
    numbers = np.arange(first, end, dtype=np.int64)
    if passed:
        numbers = numbers[~np.isin(numbers, np.asarray(passed, dtype=np.int64))]
    return numbers, end
