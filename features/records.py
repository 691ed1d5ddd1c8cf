"""Columnar events → contract-shaped records, for encoding with :func:`features.contract.encode_event`.

Simulated or imported history lives in data frames (one column per contract field). Sending it to Kafka
or checking it against the contract needs one plain dict per row with JSON-friendly values: ISO 8601
UTC strings for timestamps, ``None`` for missing values (Parquet round trips turn them into NaN), lists
for sequences and dicts for ``extras`` (stored as JSON text in Parquet).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd


def _column(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        values = series.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ms]")
        whole_seconds = bool((values.astype(np.int64) % 1000 == 0).all())
        text = np.datetime_as_string(values, unit="s" if whole_seconds else "ms")
        return [None if t == "NaT" else t + "Z" for t in text.tolist()]
    if series.dtype.kind in "biuf":
        return series.to_numpy().tolist()
    out = []
    for value in series.tolist():
        if isinstance(value, str):
            out.append(orjson.loads(value) if series.name == "extras" else value)
        elif isinstance(value, np.ndarray | tuple):
            out.append(list(value))
        elif value is None or (isinstance(value, float) and value != value):  # NaN from Parquet
            out.append(None)
        else:
            out.append(value)
    return out


def frame_records(frame: pd.DataFrame, fields: Sequence[str] | None = None,
                  chunk_rows: int = 50_000) -> Iterator[dict[str, Any]]:
    """Yield one dict per row of ``frame`` holding ``fields`` (default: all columns), in row order.

    Columns are converted ``chunk_rows`` rows at a time, so a million-row frame never exists twice in
    Python objects.
    """
    names = list(fields) if fields is not None else [str(c) for c in frame.columns]
    for start in range(0, len(frame), chunk_rows):
        chunk = frame.iloc[start:start + chunk_rows]
        columns = [_column(chunk[name]) for name in names]
        for row in zip(*columns, strict=True):
            yield dict(zip(names, row, strict=True))
