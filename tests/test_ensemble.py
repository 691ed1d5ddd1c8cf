"""Adding one model's trees to another's: the sum scores as the two did, and exports through the gate."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest

from models.ensemble import add_trees, intercept, platt, rescale
from models.export import export_with_gate

NAMES = ["a", "b", "code"]


def _data(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n), rng.integers(0, 12, n)]).astype(np.float64)
    numeric = X[:, :2]
    numeric[rng.random((n, 2)) < 0.1] = np.nan  # missing values take their own branch
    logit = np.nan_to_num(X[:, 0]) - 0.5 * np.nan_to_num(X[:, 1]) + (X[:, 2] % 3 == 0)
    return X, rng.random(n) < 1 / (1 + np.exp(-logit))


def _model(seed: int, rounds: int) -> lightgbm.Booster:
    X, y = _data(seed)
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": seed, "min_data_per_group": 20,
              "cat_smooth": 1.0}
    return lightgbm.train(params, lightgbm.Dataset(X, y, feature_name=NAMES, categorical_feature=[2]), rounds)


def test_the_sum_scores_main_plus_the_weighted_centred_extra() -> None:
    main, extra = _model(0, 30), _model(1, 20)
    merged = add_trees(main, extra, weight=0.7, offset=-1.3)
    X, _ = _data(2)
    expected = main.predict(X, raw_score=True) + 0.7 * (extra.predict(X, raw_score=True) + 1.3)
    assert merged.num_trees() == 50
    assert np.abs(merged.predict(X, raw_score=True) - expected).max() < 1e-9
    # Reasons come from SHAP values, which must still add up to the merged raw score.
    contributions = merged.predict(X[:200], pred_contrib=True)
    assert np.abs(contributions.sum(axis=1) - expected[:200]).max() < 1e-9
    # The main model is untouched, and a zero weight leaves its scores as they were.
    assert main.num_trees() == 30
    assert np.abs(add_trees(main, extra, 0.0).predict(X, raw_score=True) - main.predict(X, raw_score=True)).max() < 1e-9


def test_the_sum_survives_a_save_and_passes_the_onnx_parity_gate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    merged = add_trees(_model(0, 30), _model(1, 20), weight=1.0, offset=0.5)
    path = tmp_path / "model.lgb.txt"
    merged.save_model(str(path))
    loaded = lightgbm.Booster(model_file=str(path))
    X, _ = _data(3)
    assert np.array_equal(loaded.predict(X, raw_score=True), merged.predict(X, raw_score=True))
    _, report = export_with_gate(loaded, NAMES, X, threshold=0.5)
    assert report.passed and report.max_abs_delta <= 1e-5


def test_models_over_other_features_cannot_be_added() -> None:
    X, y = _data(0)
    other = lightgbm.train({"objective": "binary", "verbose": -1},
                           lightgbm.Dataset(X, y, feature_name=["a", "c", "code"]), 5)
    with pytest.raises(ValueError, match="same features"):
        add_trees(_model(0, 5), other, 1.0)


def test_a_rescaled_model_scores_the_affine_map_of_the_raw_score() -> None:
    model = _model(0, 30)
    X, _ = _data(4)
    raw = model.predict(X, raw_score=True)
    assert np.abs(rescale(model, 0.4, -2.0).predict(X, raw_score=True) - (0.4 * raw - 2.0)).max() < 1e-9
    with pytest.raises(ValueError, match="positive"):
        rescale(model, 0.0, 1.0)


def test_platt_recovers_the_scale_and_shift_of_a_logistic_outcome() -> None:
    rng = np.random.default_rng(5)
    raw = rng.normal(0.0, 2.0, 200_000)
    y = (rng.random(raw.size) < 1 / (1 + np.exp(-(0.5 * raw - 3.0)))).astype(float)
    scale, shift = platt(raw, y, np.ones_like(raw))
    assert abs(scale - 0.5) < 0.03 and abs(shift + 3.0) < 0.06
    # Weights count as repeated rows: doubling half of them equals duplicating that half.
    w = np.where(np.arange(raw.size) % 2 == 0, 2.0, 1.0)
    even = np.arange(raw.size) % 2 == 0
    repeated = platt(np.r_[raw, raw[even]], np.r_[y, y[even]], np.ones(raw.size + even.sum()))
    assert np.allclose(platt(raw, y, w), repeated, atol=1e-8)


def test_intercept_recovers_the_constant_beside_a_prior() -> None:
    rng = np.random.default_rng(6)
    raw = rng.normal(0.0, 2.0, 200_000)
    y = (rng.random(raw.size) < 1 / (1 + np.exp(-(raw - 3.0)))).astype(float)
    assert abs(intercept(raw, y, np.ones_like(raw)) + 3.0) < 0.05
    # Up-weighting the positives k-fold (LightGBM's scale_pos_weight) moves it by about log k, rare as they are.
    weighted = intercept(raw, y, np.where(y > 0, 4.0, 1.0))
    assert abs(weighted - intercept(raw, y, np.ones_like(raw)) - np.log(4.0)) < 0.02
