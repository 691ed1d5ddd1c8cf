"""Writing a world to disk and reading it back.

Layout of a world directory::

    events.parquet        ManifestEvent fields, event-time order (what the stream sees)
    outcomes.parquet      InspectionOutcome fields, inspection-time order (labels, biased by selection)
    truth/truth.parquet   event_id, illicit, typology, p_illicit, p_declared, irregular (evaluation only)
    world.json            the config and the summary

Truth sits in its own folder so that a training job can be given the directory without it. ``extras``
is stored as JSON text (Parquet has no column type for a dict of floats and strings); the readers
turn it back into dicts. Files are written deterministically: same world, same bytes.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.world.generator import World
from portrisk.errors import DataError

EVENTS_FILE, OUTCOMES_FILE, TRUTH_FILE, WORLD_FILE = (
    "events.parquet", "outcomes.parquet", "truth/truth.parquet", "world.json",
)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` (zstd), through a temporary file: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial, compression="zstd")
    partial.replace(path)


def stored_events(events: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``events`` as ``events.parquet`` stores them: extras as JSON text, hubs as lists (Parquet has
    no column type for a dict of floats and strings; :func:`read_events` turns both back)."""
    stored = events.copy()
    stored["extras"] = [orjson.dumps(e or {}).decode() for e in stored["extras"]]
    stored["transshipment_ports"] = pd.Series([None if r is None else list(r) for r in stored["transshipment_ports"]],
                                              index=stored.index, dtype=object)
    return stored


def write_world(world: World, out_dir: Path) -> list[Path]:
    """Write the world's files into ``out_dir`` (created if missing); returns the paths written."""
    out_dir = Path(out_dir)
    events = stored_events(world.events)
    paths = [out_dir / EVENTS_FILE, out_dir / OUTCOMES_FILE, out_dir / TRUTH_FILE, out_dir / WORLD_FILE]
    write_parquet(events, paths[0])
    write_parquet(world.outcomes, paths[1])
    write_parquet(world.truth, paths[2])
    meta = {"config": world.config.model_dump(mode="json"), "summary": world.summary.model_dump(mode="json")}
    paths[3].write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    return paths


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path} is missing: not a world directory (run `portrisk simulate --out DIR`)")
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc


def read_events(world_dir: Path) -> pd.DataFrame:
    """The events of a world directory, with tuples of hub codes and dict extras as generated."""
    frame = _read(Path(world_dir) / EVENTS_FILE)
    # An imported history (models.importer) leaves out the fields its mapping does not provide.
    if "transshipment_ports" in frame:
        hubs = frame["transshipment_ports"]
        frame["transshipment_ports"] = pd.Series([None if r is None else tuple(r) for r in hubs], dtype=object)
    if "extras" in frame:
        frame["extras"] = pd.Series([orjson.loads(e) if e else {} for e in frame["extras"]], dtype=object)
    for name in ("notify_party_id", "declarant_id", "vessel_imo", "amends_event_id"):
        if name in frame:
            column = frame[name].astype(object)
            frame[name] = column.where(column.notna(), None)  # Parquet nulls come back as NaN
    return frame


def read_outcomes(world_dir: Path) -> pd.DataFrame:
    """The inspection outcomes of a world directory."""
    return _read(Path(world_dir) / OUTCOMES_FILE)


def read_truth(world_dir: Path) -> pd.DataFrame:
    """The hidden truth of a world directory (evaluation only)."""
    return _read(Path(world_dir) / TRUTH_FILE)
