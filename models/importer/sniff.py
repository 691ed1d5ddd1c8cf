"""Guessing what a file does not say: its text encoding, its delimiter, and the format of its dates.

Every guess can be overridden in the mapping's ``[source]`` section, and every guess made is recorded
in ``import.json``, so an import is reproducible and a wrong guess is visible.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from portrisk.errors import DataError

_SAMPLE_BYTES = 1 << 16
_DELIMITERS = ",;\t|"
# Tried in order; the first format that reads the most sample values wins, so day-first (European)
# readings come before the US month-first ones: "03/04/2024" is 3 April unless the data prove otherwise.
DATE_FORMATS = (
    "ISO8601",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%Y%m%d%H%M%S", "%Y%m%d",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y",
    "%d-%m-%y", "%d/%m/%y",
)
# A UTC offset after a time of day ("…10:15:00Z", "…10:15+01:00"); a date's own "-2024" is not one.
_OFFSET = re.compile(r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?)$")


def _samples(path: Path) -> list[bytes]:
    """Up to 64 KiB from the start, the middle and the end of the file (encodings fail anywhere)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(_SAMPLE_BYTES)
        parts = [head]
        for at in (size // 2, size - _SAMPLE_BYTES):
            if at > len(head):
                f.seek(at)
                parts.append(f.read(_SAMPLE_BYTES))
    return parts


def _decodes(data: bytes, encoding: str, partial: bool) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        # A sample cut mid-character fails within its last (or, for later samples, first) 3 bytes.
        return partial and (exc.start >= len(data) - 3 or exc.end <= 3)
    return True


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the samples decode as such; else Windows-1252, else Latin-1.

    Administration exports are UTF-8 or a Windows code page; cp1252 is a superset of Latin-1's printable
    characters, and Latin-1 decodes any byte, so the guess never fails — it may only be wrong, and then
    ``[source] encoding`` fixes it.
    """
    parts = _samples(path)
    if parts[0].startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if all(_decodes(p, "utf-8", partial=True) for p in parts):
        return "utf-8"
    if all(_decodes(p, "cp1252", partial=False) for p in parts):
        return "cp1252"
    return "latin-1"


def detect_delimiter(path: Path, encoding: str) -> str:
    """The delimiter among ``, ; TAB |`` that splits the first lines most consistently."""
    text = _samples(path)[0].decode(encoding, errors="replace")
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut short
    if not lines:
        raise DataError(f"{path} is empty")
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        pass
    # The sniffer gives up on quoted fields with embedded delimiters; count on the header instead.
    counts = {d: lines[0].count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise DataError(f"{path}: cannot tell the delimiter (none of , ; TAB | in the header); "
                        "set [source] delimiter in the mapping")
    return best


def has_offset(values: pd.Series) -> bool:
    """True when the sample's times carry a UTC offset or 'Z' (then no time zone is assumed)."""
    sample = values.dropna().astype(str).str.strip()
    sample = sample[sample != ""].head(200)
    return bool(len(sample)) and bool(sample.map(lambda v: bool(_OFFSET.search(v))).mean() > 0.5)


def detect_date_format(values: pd.Series, column: str) -> str:
    """The format in :data:`DATE_FORMATS` that parses most of the column's first non-empty values.

    DataError when none parses even half of them: the mapping must then give ``[source] date_format``.
    """
    sample = values.dropna().astype(str).str.strip()
    sample = sample[sample != ""].head(1000)
    if sample.empty:
        return "ISO8601"
    best, best_share = "", 0.0
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce", utc=fmt == "ISO8601")
        share = float(parsed.notna().mean())
        if share > best_share:
            best, best_share = fmt, share
        if share == 1.0:
            break
    if best_share < 0.5:
        raise DataError(f"column {column!r}: cannot tell the date format of values like {sample.iloc[0]!r}; "
                        "set [source] date_format (a strftime pattern such as '%d-%m-%Y %H:%M')")
    return best


def date_only(fmt: str) -> bool:
    """True for a format without a time of day (a date stands for its whole day)."""
    return fmt != "ISO8601" and "%H" not in fmt
