"""Model artifacts on disk: the card round-trips, files are checksummed, published models are immutable."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm
import numpy as np
import pytest

from models.artifact import CARD_FILE, LGB_FILE, ONNX_FILE, ModelCard, load_card, save_artifact, verify_files
from portrisk.errors import ModelError
from scoring.feature_hash import describe_difference, feature_hash

NAMES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def booster() -> lightgbm.Booster:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1}
    return lightgbm.train(params, lightgbm.Dataset(X, y, feature_name=NAMES), 3)


def card(**fields: object) -> ModelCard:
    base: dict[str, object] = {
        "data_summary": {"rows": 300, "positives": 150},
        "metrics": {"precision_at_1pct": 0.4},
        "selection_bias": "labels only for inspected containers",
        "extra": {"tables": {"file": "tables.json"}},
    }
    return ModelCard.create("2024.06.1", NAMES, "2024-01-01T00:00:00+00:00", "2024-06-30T00:00:00+00:00",
                            **{**base, **fields})


def test_feature_hash_depends_on_order_and_is_documented_length() -> None:
    assert feature_hash(["a", "b"]) != feature_hash(["b", "a"])
    assert feature_hash(["a", "b"]) == feature_hash(("a", "b"))
    assert len(feature_hash(NAMES)) == 16
    with pytest.raises(ValueError):
        feature_hash(["a\nb"])


def test_describe_difference() -> None:
    assert describe_difference(NAMES, NAMES) is None
    text = describe_difference(["a", "b", "c"], ["a", "x", "c", "d"])
    assert text is not None
    assert "expected 3 features, got 4" in text
    assert "position 1: expected 'b', got 'x'" in text
    assert "missing 'b'" in text and "extra 'x', 'd'" in text


def test_card_round_trips_through_json() -> None:
    original = card(parity={"passed": True, "max_abs_delta": 2e-7})
    text = original.to_json()
    assert json.loads(text)["training_window"] == {
        "start": "2024-01-01T00:00:00+00:00", "end": "2024-06-30T00:00:00+00:00"
    }
    assert ModelCard.from_json(text) == original


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_hash": "0" * 16}, "does not match its feature names"),
        ({"created_at": "yesterday"}, "not ISO 8601"),
        ({"training_start": "2025-01-01", "training_end": "2024-01-01"}, "starts .* after it ends"),
    ],
)
def test_inconsistent_cards_are_refused(change: dict[str, str], message: str) -> None:
    data = card().to_dict()
    if "training_start" in change:
        data["training_window"] = {"start": change["training_start"], "end": change["training_end"]}
    else:
        data.update(change)
    with pytest.raises(ModelError, match=message):
        ModelCard.from_dict(data)


def test_malformed_card_json_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelCard.from_json("{")
    with pytest.raises(ModelError, match="expected format 1"):
        ModelCard.from_json("{}")
    data = card().to_dict()
    del data["version"]
    with pytest.raises(ModelError, match="malformed"):
        ModelCard.from_dict(data)


def test_save_writes_every_file_with_checksums(booster: lightgbm.Booster, tmp_path: Path) -> None:
    stored = save_artifact(tmp_path / "m", booster, b"onnx-bytes", card(), {"tables.json": b'{"t": 1}'})

    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(
        [ONNX_FILE, LGB_FILE, CARD_FILE, "tables.json"]
    )
    assert load_card(tmp_path / "m") == stored
    assert set(stored.files) == {ONNX_FILE, LGB_FILE, "tables.json"}
    verify_files(tmp_path / "m", stored)
    reloaded = lightgbm.Booster(model_file=str(tmp_path / "m" / LGB_FILE))
    X = np.random.default_rng(1).normal(size=(20, 3))
    np.testing.assert_array_equal(reloaded.predict(X), booster.predict(X))
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no staging directory left behind

    (tmp_path / "m" / "tables.json").write_bytes(b"{}")
    with pytest.raises(ModelError, match=r"tables\.json checksum expected"):
        verify_files(tmp_path / "m", stored)


def test_published_artifact_is_never_overwritten(booster: lightgbm.Booster, tmp_path: Path) -> None:
    save_artifact(tmp_path / "m", booster, b"first", card())
    with pytest.raises(ModelError, match="already exists"):
        save_artifact(tmp_path / "m", booster, b"second", card())
    assert (tmp_path / "m" / ONNX_FILE).read_bytes() == b"first"


@pytest.mark.parametrize("name", [ONNX_FILE, CARD_FILE, "../escape.json", "sub/dir.json", ""])
def test_extra_file_names_are_plain_and_not_reserved(booster: lightgbm.Booster, tmp_path: Path,
                                                     name: str) -> None:
    with pytest.raises(ModelError, match="reserved or not a plain file name"):
        save_artifact(tmp_path / "m", booster, b"x", card(), {name: b"{}"})
    assert not (tmp_path / "m").exists()


def test_booster_must_match_the_card(booster: lightgbm.Booster, tmp_path: Path) -> None:
    other = ModelCard.create("v", ["a", "b", "z"], "2024-01-01", "2024-02-01")
    with pytest.raises(ModelError, match="position 2: expected 'z', got 'c'"):
        save_artifact(tmp_path / "m", booster, b"x", other)
