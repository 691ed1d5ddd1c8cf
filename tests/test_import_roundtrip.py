"""The simulated path and the import path compute the same features: a world exported to CSV and re-imported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from models_support import TRAIN, small_world

from features.config import FeatureConfig
from models.dataset import featurise, load_history
from models.importer import import_history
from models.importer.world_csv import LABEL_COLUMNS, export_world_csv, world_mapping
from models.train import cutoffs, feature_config_for, split


def test_a_world_exported_to_csv_and_reimported_gives_identical_feature_vectors(tmp_path: Path) -> None:
    csv = tmp_path / "world.csv"
    rows = export_world_csv(small_world(), csv)
    header = csv.open(encoding="utf-8").readline().strip().split(",")
    assert header[-len(LABEL_COLUMNS):] == list(LABEL_COLUMNS) and "event_time" in header
    result = import_history(csv, world_mapping(), tmp_path / "reimported")
    assert result.summary["rows_imported"] == rows and result.summary["bad_rows"]["count"] == 0

    simulated, imported = load_history(small_world()), load_history(tmp_path / "reimported")
    config = feature_config_for(tmp_path / "reimported")
    assert config == FeatureConfig()  # the world's parties map onto the default roles
    times = cutoffs(split(simulated, TRAIN), TRAIN.refresh_days)
    a, b = featurise(simulated, FeatureConfig(), times), featurise(imported, config, times)

    assert a.names == b.names and a.X.shape == b.X.shape == (rows, len(a.names))
    assert a.tables.digest == b.tables.digest  # every table version, hence the model's, is the same
    assert (a.version == b.version).all()
    sample = np.random.default_rng(0).choice(rows, size=2000, replace=False)
    np.testing.assert_array_equal(a.X[sample], b.X[sample])  # NaN where NaN, equal bits elsewhere
    np.testing.assert_array_equal(a.X, b.X)  # and the rest too

    outcomes = pd.read_parquet(tmp_path / "reimported" / "outcomes.parquet")
    world_outcomes = pd.read_parquet(small_world() / "outcomes.parquet")
    merged = world_outcomes.merge(outcomes, on="event_id", suffixes=("", "_imported"))
    assert len(merged) == len(world_outcomes) == len(outcomes)
    assert (merged["result"] == merged["result_imported"]).all()
    assert (merged["selection"] == merged["selection_imported"]).all()
    assert (merged["inspected_at"] == merged["inspected_at_imported"]).all()
    record = json.loads((tmp_path / "reimported" / "import.json").read_text())
    assert record["in_time_order"] is True and record["source"]["format"] == "csv"
