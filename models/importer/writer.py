"""The history directory an import produces — the layout of a simulated world, minus the truth.

::

    events.parquet        v1 contract columns the mapping provides (others absent), extras as JSON text
    outcomes.parquet      one inspection outcome per inspected row (InspectionOutcome columns + severity)
    feature_config.json   party roles and extras the history supports (``portrisk train`` reads it)
    import.json           the source, the mapping, what was detected, and the data summary

Parquet is written a row group per chunk, so memory stays bounded. Everything goes to a temporary
sibling directory that is renamed into place only when the import succeeded: a failed import never
leaves a half history for training to pick up.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from features.config import FeatureConfig
from models.importer.mapping import FIELD_KINDS, Mapping
from portrisk.errors import DataError

EVENTS_FILE, OUTCOMES_FILE = "events.parquet", "outcomes.parquet"
FEATURE_CONFIG_FILE, IMPORT_FILE = "feature_config.json", "import.json"
IMPORT_FORMAT = 1
_TIME = pa.timestamp("us", tz="UTC")
_ARROW = {"time": _TIME, "number": pa.float64(), "bool": pa.bool_(), "list": pa.list_(pa.string())}


def event_schema(mapping: Mapping) -> pa.Schema:
    """Columns of the events file for ``mapping``, in contract order."""
    present = set(mapping.columns) | set(mapping.constants)
    present |= {t for _, t in mapping.parties.values() if not t.startswith("extras.")}
    if "amends_event_id" in present:
        present.add("is_amendment")
    fields = [pa.field("schema_version", pa.int64())]
    for name, kind in FIELD_KINDS.items():
        if name in present:
            fields.append(pa.field(name, _ARROW.get(kind, pa.string())))
        if name == "bill_of_lading":  # parties come after it in the contract
            fields += [pa.field(p, pa.string()) for p in
                       ("shipper_id", "consignee_id", "notify_party_id", "declarant_id") if p in present]
    fields.append(pa.field("extras", pa.string()))
    return pa.schema(fields)


def outcome_schema(mapping: Mapping) -> pa.Schema:
    """Columns of the outcomes file for ``mapping``."""
    fields = [pa.field("schema_version", pa.int64()), pa.field("outcome_id", pa.string()),
              pa.field("event_id", pa.string())]
    if "container_id" in mapping.columns:
        fields.append(pa.field("container_id", pa.string()))
    fields += [pa.field("shipper_id", pa.string()), pa.field("mainport", pa.string()),
               pa.field("inspected_at", _TIME), pa.field("result", pa.string()), pa.field("selection", pa.string())]
    if mapping.labels.severity is not None:
        fields.append(pa.field("severity", pa.string()))
    return pa.schema(fields)


class HistoryWriter:
    """Writes one history directory; use as a context manager (commits on success, cleans up on error)."""

    def __init__(self, out_dir: str | Path, mapping: Mapping) -> None:
        """``out_dir`` must not exist yet (an imported history, like a model, is written once)."""
        self.out_dir = Path(out_dir)
        if self.out_dir.exists():
            raise DataError(f"{self.out_dir} already exists; choose a new directory for the imported history")
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.", dir=self.out_dir.parent))
        self.mapping = mapping
        self._schemas = (event_schema(mapping), outcome_schema(mapping))
        self._events = pq.ParquetWriter(self.staging / EVENTS_FILE, self._schemas[0], compression="zstd")
        self._outcomes = pq.ParquetWriter(self.staging / OUTCOMES_FILE, self._schemas[1], compression="zstd")

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._events.close()
        self._outcomes.close()
        if kind is not None or not (self.staging / IMPORT_FILE).is_file():
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        self.staging.rename(self.out_dir)

    def write(self, events: pa.Table, outcomes: pa.Table) -> None:
        """Append one chunk's events and outcomes (a row group each; tables in :func:`event_schema` and
        :func:`outcome_schema`)."""
        if events.num_rows:
            self._events.write_table(events)
        if outcomes.num_rows:
            self._outcomes.write_table(outcomes)

    def finish(self, record: dict[str, Any], config: FeatureConfig) -> None:
        """Write ``feature_config.json`` and ``import.json``; the directory is committed on exit."""
        _json(self.staging / FEATURE_CONFIG_FILE, config.to_dict())
        _json(self.staging / IMPORT_FILE, {"format": IMPORT_FORMAT, **record})


def _json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")


def read_import_record(history_dir: str | Path) -> dict[str, Any] | None:
    """The ``import.json`` of a history directory, or None for a simulated world."""
    path = Path(history_dir) / IMPORT_FILE
    if not path.is_file():
        return None
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    return document
