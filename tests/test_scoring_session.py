"""ScoringSession: loads one artifact, refuses models that do not fit our features, scores like LightGBM."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm
import numpy as np
import pytest

from models.artifact import CARD_FILE, ONNX_FILE, ModelCard, save_artifact
from models.export import export_onnx, export_with_gate
from portrisk.errors import ModelError
from scoring.session import ScoringSession

NAMES = [f"f{i:02d}" for i in range(12)]


def make_data(seed: int, n: int, names: list[str] = NAMES) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(names))).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) - np.nan_to_num(X[:, 1]) + rng.logistic(size=n) > 1.0).astype(int)
    return X, y


def train(seed: int, names: list[str] = NAMES) -> lightgbm.Booster:
    X, y = make_data(seed, 2000, names)
    params = {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": seed, "num_threads": 1}
    return lightgbm.train(params, lightgbm.Dataset(X, y, feature_name=names), 40)


def write_artifact(path: Path, booster: lightgbm.Booster, names: list[str], version: str = "m1") -> Path:
    onnx_bytes, report = export_with_gate(booster, names, n_rows=2000)
    card = ModelCard.create(version, names, "2024-01-01T00:00:00+00:00", "2024-06-30T00:00:00+00:00",
                            parity=report.to_dict())
    save_artifact(path, booster, onnx_bytes, card)
    return path


@pytest.fixture(scope="module")
def booster() -> lightgbm.Booster:
    return train(seed=0)


@pytest.fixture(scope="module")
def model_dir(booster: lightgbm.Booster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_artifact(tmp_path_factory.mktemp("models") / "m1", booster, NAMES)


def test_score_batch_matches_lightgbm(booster: lightgbm.Booster, model_dir: Path) -> None:
    session = ScoringSession.load(model_dir, NAMES)
    X, _ = make_data(seed=9, n=3000)

    scores = session.score_batch(X)

    assert scores.dtype == np.float32 and scores.shape == (3000,)
    np.testing.assert_allclose(scores, booster.predict(X), atol=1e-5, rtol=0)
    assert scores.std() > 0.05  # the model is not constant, so equality above means something


def test_score_one_and_other_input_layouts_agree_with_the_batch(model_dir: Path) -> None:
    session = ScoringSession.load(model_dir, NAMES)
    X, _ = make_data(seed=10, n=50)
    batch = session.score_batch(X)

    assert [session.score_one(row) for row in X] == pytest.approx(batch.tolist(), abs=1e-7)
    assert session.score_one(X[3].astype(np.float64).tolist()) == pytest.approx(float(batch[3]), abs=1e-7)
    np.testing.assert_array_equal(session.score_batch(X.astype(np.float64)), batch)
    np.testing.assert_array_equal(session.score_batch(np.asfortranarray(X)), batch)
    assert session.score_batch(np.empty((0, len(NAMES)), dtype=np.float32)).shape == (0,)


def test_wrong_row_width_is_a_value_error(model_dir: Path) -> None:
    session = ScoringSession.load(model_dir, NAMES)
    with pytest.raises(ValueError, match=r"\[n, 12\]"):
        session.score_batch(np.zeros((2, 11), dtype=np.float32))
    with pytest.raises(ValueError):
        session.score_one(np.zeros(13, dtype=np.float32))


def test_version_and_card(model_dir: Path) -> None:
    session = ScoringSession.load(model_dir, NAMES, intra_op_num_threads=2)
    assert session.version == "m1"
    assert session.feature_names == tuple(NAMES)
    assert session.card.parity["passed"] is True


@pytest.mark.parametrize(
    ("ours", "expected_in_message"),
    [
        ([*NAMES[:5], "f05_renamed", *NAMES[6:]], "position 5: expected 'f05_renamed', got 'f05'"),
        ([*NAMES, "f12"], "missing 'f12'"),
        (NAMES[:-1], "extra 'f11'"),
        ([NAMES[1], NAMES[0], *NAMES[2:]], "different order"),
    ],
    ids=["renamed", "we-have-more", "model-has-more", "reordered"],
)
def test_model_with_other_features_is_refused(model_dir: Path, ours: list[str], expected_in_message: str) -> None:
    with pytest.raises(ModelError) as caught:
        ScoringSession.load(model_dir, ours)
    message = str(caught.value)
    assert expected_in_message in message
    assert "feature hash expected" in message and "model m1" in message


def test_onnx_swapped_after_publishing_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "m1"
    copy.mkdir()
    for f in model_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    (copy / ONNX_FILE).write_bytes(export_onnx(train(seed=1), NAMES))

    with pytest.raises(ModelError, match="checksum expected"):
        ScoringSession.load(copy, NAMES)


def test_onnx_built_for_other_features_is_refused_even_with_a_fitting_card(tmp_path: Path) -> None:
    # The card and the LightGBM model say NAMES, but model.onnx was exported for other names.
    other_names = [f"g{i:02d}" for i in range(len(NAMES))]
    booster = train(seed=0)
    card = ModelCard.create("m2", NAMES, "2024-01-01", "2024-02-01")
    save_artifact(tmp_path / "m2", booster, export_onnx(train(0, other_names), other_names), card)

    with pytest.raises(ModelError, match=r"feature hash expected \w+ \(card\), got \w+ \(model.onnx metadata\)"):
        ScoringSession.load(tmp_path / "m2", NAMES)


def test_card_whose_hash_does_not_match_its_names_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "m1"
    copy.mkdir()
    for f in model_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    card = json.loads((copy / CARD_FILE).read_text())
    card["feature_names"][0] = "tampered"
    (copy / CARD_FILE).write_text(json.dumps(card))

    with pytest.raises(ModelError, match="does not match its feature names"):
        ScoringSession.load(copy, ["tampered", *NAMES[1:]])


def test_missing_artifact_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read model card"):
        ScoringSession.load(tmp_path / "nothing-here", NAMES)
