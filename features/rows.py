"""Cheap event objects for offline replay: named tuples straight from a DataFrame's columns.

Building a validated pydantic event per row would cost more than computing its features, so replay
reads columns once, converts times to POSIX seconds in one vectorised step, and zips the columns into
:class:`EventRow` tuples that satisfy :class:`features.event.EventLike`. A column the frame lacks (an
imported history without notify parties, say) becomes ``None`` in every row: missing, not zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import orjson
import pandas as pd


class EventRow(NamedTuple):
    """One manifest event as replay sees it (times in POSIX seconds)."""

    event_id: str
    event_time: float
    mainport: str
    transport_mode: str | None
    container_type: str | None
    shipper_id: str
    consignee_id: str | None
    notify_party_id: str | None
    declarant_id: str | None
    hs_code: str | None
    gross_weight_kg: float | None
    declared_value_eur: float | None
    port_of_loading: str | None
    transshipment_ports: Any
    vessel_imo: str | None
    eta: float | None
    is_amendment: bool | None
    amends_event_id: str | None
    extras: dict[str, float | str] | None


class OutcomeRow(NamedTuple):
    """One inspection outcome as replay sees it."""

    event_id: str
    shipper_id: str
    inspected_at: float
    result: str


_TIME_COLUMNS = frozenset({"event_time", "eta", "inspected_at"})
_NUMBER_COLUMNS = frozenset({"gross_weight_kg", "declared_value_eur"})
# Columns whose values feature code looks up in dicts (see _shared_strings); ids unique per row are not.
_LOOKED_UP = frozenset({"mainport", "transport_mode", "container_type", "shipper_id", "consignee_id",
                        "notify_party_id", "declarant_id", "hs_code", "port_of_loading", "vessel_imo"})


def epoch_column(values: pd.Series) -> list[float]:
    """POSIX seconds of a datetime column (NaN for NaT), rounded like ``datetime.timestamp()``.

    Goes through integer microseconds, as Python does, so a time read here equals the same time read
    from a ManifestEvent to the last bit (nanosecond integers do not fit a float64 exactly).
    """
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float).tolist()
    stamps = pd.to_datetime(values, utc=True).dt.as_unit("us").to_numpy(dtype="datetime64[us]")
    micros = stamps.view(np.int64).astype(np.float64)
    micros[np.isnat(stamps)] = np.nan
    return (micros / 1e6).tolist()


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    if name not in frame.columns:
        return [None] * len(frame)
    values = frame[name]
    if name in _TIME_COLUMNS:
        return epoch_column(values)
    if name in _NUMBER_COLUMNS:
        return pd.to_numeric(values, errors="coerce").astype(float).tolist()
    if name == "extras":
        return [_as_dict(v) for v in values.tolist()]
    if values.dtype == bool:
        return values.tolist()
    if name in _LOOKED_UP and (isinstance(values.dtype, pd.StringDtype)
                               or pd.api.types.infer_dtype(values, skipna=True) == "string"):
        return _shared_strings(values)
    as_object = values.astype(object)
    listed = as_object.where(as_object.notna(), None).tolist()  # NaN stands for a missing string in pandas
    if name == "transshipment_ports":
        return _shared_sequences(listed)
    return listed


def _shared_strings(values: pd.Series) -> list[str | None]:
    """A string column as a list in which equal strings are one object (missing values as None).

    Feature code looks most strings up in dicts (tables, shipper states, memoised parts); a key that *is*
    the stored key compares by identity instead of by its characters, which in big, cache-cold tables
    is most of a lookup's cost. Factorising is also cheaper than converting every row to an object.
    """
    codes, uniques = pd.factorize(values)
    objects = np.empty(len(uniques) + 1, dtype=object)
    objects[:-1] = uniques
    objects[-1] = None  # code -1: missing
    return objects.take(codes).tolist()


def _shared_sequences(values: list[Any]) -> list[tuple[str, ...] | None]:
    """Transshipment sequences as tuples, equal sequences being one object (see :func:`_shared_strings`)."""
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    out: list[tuple[str, ...] | None] = []
    for value in values:
        if value is None:
            out.append(None)
        else:
            key = tuple(value)
            out.append(shared.setdefault(key, key))
    return out


def _as_dict(value: Any) -> dict[str, float | str] | None:
    """Extras as a dict: stored as JSON text in the world's Parquet files, or as (key, value) pairs."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        parsed = orjson.loads(value) if value else None
        return parsed if isinstance(parsed, dict) else None
    if isinstance(value, list | tuple | np.ndarray):
        return dict(value)
    return None


def event_rows(frame: pd.DataFrame) -> Iterator[EventRow]:
    """The rows of an events frame as :class:`EventRow` tuples, in frame order."""
    columns = [_column(frame, name) for name in EventRow._fields]
    return map(EventRow._make, zip(*columns, strict=True))


def outcome_rows(frame: pd.DataFrame) -> Iterator[OutcomeRow]:
    """The rows of an outcomes frame as :class:`OutcomeRow` tuples, in frame order."""
    columns = [_column(frame, name) for name in OutcomeRow._fields]
    return map(OutcomeRow._make, zip(*columns, strict=True))
