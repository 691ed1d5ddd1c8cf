"""A simulated world written as the flat, labelled CSV an administration would export — and its mapping.

One row per declaration with every contract field, hubs joined by ``>``, times as ISO 8601 UTC, and the
inspection result of that declaration in label columns (``inspected``, ``finding``, ``severity``,
``inspected_at``, ``selection``). Importing it with :func:`world_mapping` must reproduce the world's
events and outcomes closely enough that replay gives identical feature vectors: the round trip that
shows the import path and the simulated path compute the same features.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.importer.mapping import FIELD_KINDS, Mapping, parse_mapping
from models.importer.sections import SELECTIONS

LABEL_COLUMNS = ("inspected", "finding", "severity", "inspected_at", "selection")
_PARTIES = {"shipper": "shipper_id", "consignee": "consignee_id", "notify_party": "notify_party_id",
            "declarant": "declarant_id"}


def _iso(values: pd.Series) -> np.ndarray:
    """ISO 8601 UTC text with milliseconds ('' for missing), vectorised."""
    stamps = values.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ms]")
    text = np.char.add(np.datetime_as_string(stamps, unit="ms"), "Z")
    return np.where(np.isnat(stamps), "", text)


def world_frame(world_dir: str | Path) -> pd.DataFrame:
    """The world's events with their labels, as the flat text columns of the CSV."""
    from models.world.writer import read_events, read_outcomes

    events = read_events(Path(world_dir))
    outcomes = read_outcomes(Path(world_dir)).drop_duplicates("event_id").set_index("event_id")
    out = pd.DataFrame(index=events.index)
    for name in FIELD_KINDS:
        if name not in events:
            continue
        column = events[name]
        if FIELD_KINDS[name] == "time":
            out[name] = _iso(column)
        elif name == "transshipment_ports":
            out[name] = [">".join(hubs) for hubs in column]
        elif name == "is_amendment":
            out[name] = np.where(column.to_numpy(dtype=bool), "true", "false")
        else:
            out[name] = column
        if name == "bill_of_lading":
            for field in _PARTIES.values():
                out[field] = events[field]
    labels = outcomes.reindex(events["event_id"].to_numpy())
    inspected = labels["result"].notna().to_numpy()
    out["inspected"] = np.where(inspected, "1", "0")
    out["finding"] = np.where(inspected, np.where(labels["result"].to_numpy() == "no_finding", "0", "1"), "")
    out["severity"] = labels["result"].fillna("").to_numpy()
    out["inspected_at"] = _iso(labels["inspected_at"].reset_index(drop=True))
    out["selection"] = labels["selection"].fillna("").to_numpy()
    return out


def export_world_csv(world_dir: str | Path, path: str | Path, delimiter: str = ",", encoding: str = "utf-8") -> int:
    """Write the world as a labelled CSV (see the module docstring); returns the number of rows."""
    frame = world_frame(world_dir)
    # Floats are written with repr's shortest round-trip digits, so a re-import reads the same numbers.
    frame.to_csv(path, sep=delimiter, encoding=encoding, index=False)
    return len(frame)


def world_mapping_document() -> dict[str, Any]:
    """The mapping of the CSV :func:`export_world_csv` writes (a TOML document as a dict)."""
    columns = {name: name for name in FIELD_KINDS}
    return {
        "source": {"delimiter": ",", "encoding": "utf-8", "max_bad_rows": 0},
        "columns": columns,
        "parties": dict(_PARTIES),
        "labels": {"inspected": "inspected", "finding": "finding", "severity": "severity",
                   "minor_severities": ["other_irregularity"], "inspected_at": "inspected_at",
                   "selection": "selection",
                   "selection_values": {s: [s] for s in SELECTIONS}},
    }


def world_mapping() -> Mapping:
    """:func:`world_mapping_document` validated."""
    return parse_mapping(world_mapping_document(), "world mapping")
