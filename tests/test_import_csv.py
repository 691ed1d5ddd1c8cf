"""Importing an administration's CSV: its own column names, ';', Latin-1, dd-mm-yyyy local dates, bad rows."""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from import_support import EXAMPLE_MAPPING, admin_frame, line_of, original_events, write_admin_csv
from models_support import small_world

from features.config import FeatureConfig
from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore
from models.dataset import load_history
from models.importer import import_history, load_mapping, parse_mapping
from models.importer.progress import Progress
from models.tables import build_tables
from models.world.writer import read_events, read_outcomes
from portrisk.cli import main
from portrisk.errors import DataError

ROWS = 3000  # enough for every code path, small enough to run in a second


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return admin_frame(small_world()).head(ROWS).copy()


def _undetected() -> dict[str, Any]:
    """The example mapping without the hints detection can find by itself."""
    doc = tomllib.loads(EXAMPLE_MAPPING.read_text(encoding="utf-8"))
    for key in ("encoding", "delimiter", "date_formats"):
        doc["source"].pop(key)
    return doc


def _with_bad_rows(frame: pd.DataFrame, path: Path) -> tuple[list[str], dict[int, str]]:
    """Write ``frame`` with a known set of broken rows; returns the lines and the expected reasons by line."""
    broken = frame.copy()
    broken.loc[10, "DATUM_AANGIFTE"] = "31-02-2024 10:00:00"
    broken.loc[20, "BRUTOMASSA"] = "veel"
    broken.loc[30, "AFZENDER"] = ""
    broken.loc[40, "VERVOERSWIJZE"] = "Spoor"
    broken.loc[50, "AANGIFTENUMMER"] = broken.loc[49, "AANGIFTENUMMER"]
    broken.loc[60, "BEVINDING"] = "misschien"
    broken.loc[70, ["GECONTROLEERD", "BEVINDING", "CONTROLEDATUM"]] = ["J", "N", "01-01-2020"]
    lines = write_admin_csv(broken, path, extra_lines={100: "kapot;regel", 200: ";".join(["x"] * 30), 300: ""})
    expected = {
        line_of(lines, broken.loc[10, "AANGIFTENUMMER"]): "event_time: '31-02-2024 10:00:00' is not a date/time",
        line_of(lines, broken.loc[20, "AANGIFTENUMMER"]): "gross_weight_kg: 'veel' is not a number",
        line_of(lines, broken.loc[30, "AANGIFTENUMMER"]): "shipper_id: is empty (column 'AFZENDER')",
        line_of(lines, broken.loc[40, "AANGIFTENUMMER"]): "transport_mode: 'Spoor' is neither 'sea' nor 'air'",
        line_of(lines, broken.loc[50, "AANGIFTENUMMER"]) + 1: "event_id: '000000000049' appears more than once",
        line_of(lines, broken.loc[60, "AANGIFTENUMMER"]): "finding: 'misschien' is not a yes/no value",
        line_of(lines, broken.loc[70, "AANGIFTENUMMER"]): "inspected_at: '01-01-2020' is not after the declaration",
        102: "2 field(s), expected 23",
        203: "30 field(s), expected 23",
    }
    return lines, expected


def test_bad_rows_are_reported_with_line_numbers_skipped_and_counted(frame: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "aangiften.csv"
    _, expected = _with_bad_rows(frame, csv)
    result = import_history(csv, parse_mapping(_undetected()), tmp_path / "history")

    bad = result.summary["bad_rows"]
    reported = {row["line"]: row["reason"] for row in bad["examples"]}
    assert sorted(reported) == sorted(expected), reported
    for line, reason in expected.items():
        assert reported[line].startswith(reason), (line, reported[line])
    assert bad["count"] == len(expected) and bad["limit"] == 1000
    assert bad["by_field"]["fields"] == 2 and bad["by_field"]["event_time"] == 1
    assert result.summary["rows_imported"] == ROWS - 7 and result.summary["rows_read"] == ROWS + 2
    events = pd.read_parquet(tmp_path / "history" / "events.parquet")
    assert len(events) == ROWS - 7 and events["event_id"].is_unique
    # Detected, and recorded: the encoding, the delimiter and each date column's format.
    source = result.record["source"]
    assert source["delimiter"] == ";" and source["encoding"] in ("cp1252", "latin-1")
    assert result.record["time_formats"]["event_time"]["format"] == "%d-%m-%Y %H:%M:%S"
    assert result.record["time_formats"]["inspected_at"]["date_only"] is True


def test_too_many_bad_rows_fail_the_import_and_leave_nothing(frame: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "aangiften.csv"
    _with_bad_rows(frame, csv)
    with pytest.raises(DataError) as caught:
        import_history(csv, parse_mapping(_undetected()), tmp_path / "history", max_bad_rows=5)
    message = str(caught.value)
    assert "above the limit of 5" in message and "line 12: event_time" in message
    assert list(tmp_path.iterdir()) == [csv]  # no history, no staging directory


def test_values_are_converted_to_the_contract_not_invented(frame: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "aangiften.csv"
    write_admin_csv(frame, csv)
    result = import_history(csv, load_mapping(EXAMPLE_MAPPING), tmp_path / "history")
    assert result.summary["bad_rows"]["count"] == 0
    world = original_events(small_world()).head(ROWS)
    events = read_events(tmp_path / "history")  # the same reader training uses

    assert events["event_id"].iloc[7] == "000000000007"  # ids stay text, leading zeros and all
    assert (events["event_time"].to_numpy() == world["event_time"].to_numpy()).all()  # local time → UTC
    assert (events["hs_code"] == world["hs_code"]).all()  # dotted, zero-less and CN codes → HS6
    assert (events["mainport"] == world["mainport"]).all()  # "North Sea Port" → vlissingen
    assert (events["transport_mode"] == world["transport_mode"]).all()
    assert np.allclose(events["gross_weight_kg"], world["gross_weight_kg"], atol=0.05)
    assert np.allclose(events["declared_value_eur"], world["declared_value_eur"], atol=0.005)
    assert list(events["transshipment_ports"]) == list(world["transshipment_ports"])
    accented = world["goods_description"].iloc[0].replace("e", "é", 1)  # admin_frame accents every tenth row
    assert "é" in accented and events["goods_description"].iloc[0] == accented  # Latin-1 decoded
    # Not mapped: absent, so replay reads them as missing.
    for absent in ("eta", "vessel_imo", "is_amendment", "amends_event_id", "notify_party_id", "bill_of_lading"):
        assert absent not in events.columns
    # A forwarder without a contract field, and the extras, travel in extras; empty cells stay absent.
    notify = world["notify_party_id"].tolist()
    assert [e.get("forwarder") for e in events["extras"]] == notify
    assert all(isinstance(e["aantal_colli"], int | float) and e["douanekantoor"] for e in events["extras"])

    outcomes = read_outcomes(tmp_path / "history")
    inspected = frame["GECONTROLEERD"] == "J"
    assert len(outcomes) == int(inspected.sum())
    assert set(outcomes["result"]) <= {"no_finding", "drugs", "other_irregularity"}
    assert set(outcomes["selection"].dropna()) == {"random", "legacy", "tip"}  # "melding": a tip-off
    assert (outcomes["inspected_at"].dt.tz_convert("Europe/Amsterdam").dt.strftime("%H:%M:%S") == "23:59:59").all()
    config = FeatureConfig.from_dict(json.loads((tmp_path / "history" / "feature_config.json").read_text()))
    assert config == load_mapping(EXAMPLE_MAPPING).feature_config()
    record = json.loads((tmp_path / "history" / "import.json").read_text())
    assert record["mapping"]["columns"]["event_id"] == "AANGIFTENUMMER" and record["summary"]["rows_imported"] == ROWS


def test_missing_optional_columns_give_missing_features(frame: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "aangiften.csv"
    write_admin_csv(frame.drop(columns=["BRUTOMASSA", "OVERSLAGHAVENS", "CONTAINERTYPE", "DOUANEKANTOOR"]), csv)
    doc = tomllib.loads(EXAMPLE_MAPPING.read_text(encoding="utf-8"))
    for key in ("gross_weight_kg", "transshipment_ports", "container_type"):
        doc["columns"].pop(key)
    doc["extras"].pop("douanekantoor")
    import_history(csv, parse_mapping(doc), tmp_path / "history")
    history = load_history(tmp_path / "history")
    config = FeatureConfig.from_dict(json.loads((tmp_path / "history" / "feature_config.json").read_text()))
    end = (history.outcomes["inspected_at"].max() + pd.Timedelta(seconds=1)).to_pydatetime()
    tables = build_tables(history.events, history.outcomes, config, history.start, end)
    pipeline = FeaturePipeline(tables)
    X = replay(pipeline, event_rows(history.events), outcome_rows(history.outcomes), InMemoryStore())
    column = {name: X[:, i] for i, name in enumerate(pipeline.names)}
    for missing in ("weight_z", "value_per_kg_log", "transship_count", "route_risk", "is_reefer", "container_feet",
                    "reefer_mismatch"):
        assert np.isnan(column[missing]).all(), missing
    assert "extra_douanekantoor_risk" not in pipeline.names and "extra_aantal_colli" in pipeline.names
    for present in ("origin_country_risk", "hs_chapter_risk", "lane_commodity_risk", "shipper_shipments",
                    "forwarder_novel", "extra_aantal_colli"):
        assert not np.isnan(column[present]).all(), present


def test_parquet_input_gives_the_same_history(frame: pd.DataFrame, tmp_path: Path) -> None:
    csv, parquet = tmp_path / "aangiften.csv", tmp_path / "aangiften.parquet"
    write_admin_csv(frame, csv)
    typed = frame.copy()
    typed["AANTAL_COLLI"] = typed["AANTAL_COLLI"].astype(int)  # Parquet keeps numbers as numbers
    typed["DATUM_AANGIFTE"] = pd.to_datetime(typed["DATUM_AANGIFTE"], format="%d-%m-%Y %H:%M:%S")  # local, no zone
    typed.to_parquet(parquet, index=False)
    import_history(csv, load_mapping(EXAMPLE_MAPPING), tmp_path / "from-csv")
    import_history(parquet, load_mapping(EXAMPLE_MAPPING), tmp_path / "from-parquet")
    for name in ("events.parquet", "outcomes.parquet"):
        a, b = pd.read_parquet(tmp_path / "from-csv" / name), pd.read_parquet(tmp_path / "from-parquet" / name)
        pd.testing.assert_frame_equal(a, b)


def test_import_command_and_progress(frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "aangiften.csv"
    write_admin_csv(frame, csv)
    assert main(["import", "--csv", str(csv), "--mapping", str(EXAMPLE_MAPPING), "--out", str(tmp_path / "h"),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"imported {ROWS:,} of {ROWS:,} rows" in out and "inspected" in out
    assert main(["import", "--csv", str(csv), "--mapping", str(EXAMPLE_MAPPING), "--out", str(tmp_path / "h")]) == 1
    assert "already exists" in capsys.readouterr().err

    stream = io.StringIO()
    progress = Progress(stream, log_interval_s=0.0)
    import_history(csv, load_mapping(EXAMPLE_MAPPING), tmp_path / "h2", progress=progress, block_bytes=64 << 10,
                   chunk_rows=500)
    lines = stream.getvalue().splitlines()
    assert len(lines) > 2 and lines[-1].startswith(f"import: {ROWS:,} rows (100% of the file)")


def test_small_blocks_keep_line_numbers_and_results(frame: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "aangiften.csv"
    _, expected = _with_bad_rows(frame, csv)
    result = import_history(csv, parse_mapping(_undetected()), tmp_path / "history", block_bytes=16 << 10,
                            chunk_rows=700)
    assert {row["line"] for row in result.summary["bad_rows"]["examples"]} == set(expected)
    extras = pd.read_parquet(tmp_path / "history" / "events.parquet")["extras"].map(orjson.loads)
    assert extras.map(len).min() >= 2
