"""ONNX export and its parity gate, on small LightGBM models trained on seeded generated data."""

from __future__ import annotations

import json

import lightgbm
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import models.export as export
from models.export import export_onnx, export_with_gate, raise_unless_passed
from models.parity import (
    UNSEEN_CODES,
    ZERO_BAND,
    categorical_codes,
    float32_thresholds,
    parity_check,
    parity_rows,
    split_thresholds,
)
from portrisk.errors import ModelError, ParityError

NAMES = ["weight_ratio", "shipper_age_days", "route_rarity", "reefer", "value_per_kg", "late_amendments"]


def make_data(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Float32 rows with NaN in three columns, exact zeros, and signs on both sides of zero."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES))).astype(np.float32)
    X[:, 3] = rng.integers(0, 2, size=n)  # a 0/1 flag: splits land on LightGBM's zero band
    X[:, 5] = np.where(rng.random(n) < 0.6, 0.0, rng.exponential(2.0, size=n))
    for column in (0, 2, 4):
        X[rng.random(n) < 0.15, column] = np.nan
    logit = 1.5 * np.nan_to_num(X[:, 0], nan=1.0) - X[:, 1] + 0.8 * X[:, 3] + 0.3 * X[:, 5]
    y = (logit + rng.logistic(size=n) > 0.5).astype(int)
    return X, y


def train(seed: int = 0, rounds: int = 60, **params: object) -> lightgbm.Booster:
    X, y = make_data(seed)
    base = {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": seed, "num_threads": 1}
    return lightgbm.train({**base, **params}, lightgbm.Dataset(X, y, feature_name=NAMES), rounds)


@pytest.fixture(scope="module")
def booster() -> lightgbm.Booster:
    return train(seed=0)


def test_export_passes_the_gate_on_threshold_nan_extreme_and_eval_rows(booster: lightgbm.Booster) -> None:
    X_eval, _ = make_data(seed=7, n=2000)
    onnx_bytes, report = export_with_gate(booster, NAMES, X_eval, threshold=0.5)
    assert [o.name for o in onnx.load_from_string(onnx_bytes).graph.output] == ["p_illicit"]

    assert report.passed
    assert report.max_abs_delta <= 1e-5
    assert report.rows_checked >= 10_000 + 2000
    assert report.n_eval_rows == 2000
    assert report.n_nan_rows > 1000
    assert report.n_threshold_rows > 1000
    assert report.decision_flips == 0
    assert {"random", "nan", "thresholds_all", "thresholds_one", "extremes", "eval"} <= set(
        report.max_delta_by_kind
    )
    json.dumps(report.to_dict(), allow_nan=False)  # goes on the model card as it is


def test_onnx_output_is_one_float32_probability_per_row(booster: lightgbm.Booster) -> None:
    session = ort.InferenceSession(export_onnx(booster, NAMES), providers=["CPUExecutionProvider"])
    (output,) = session.get_outputs()
    X, _ = make_data(seed=3, n=500)

    scores = session.run([output.name], {session.get_inputs()[0].name: X})[0]

    assert scores.dtype == np.float32 and scores.shape == (500,)
    np.testing.assert_allclose(scores, booster.predict(X), atol=1e-5, rtol=0)
    assert json.loads(session.get_modelmeta().custom_metadata_map["feature_names"]) == NAMES


def test_stock_conversion_without_threshold_fix_fails_at_thresholds_only(
    booster: lightgbm.Booster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the float32 threshold rewrite the export is onnxmltools' stock conversion. Random rows
    # agree; rows sitting on the split thresholds do not. This is why the gate probes thresholds.
    monkeypatch.setattr(export, "float32_exact_model", lambda b: b)
    report = parity_check(booster, export_onnx(booster, NAMES))

    assert not report.passed
    assert report.max_delta_by_kind["random"] <= 1e-5
    assert max(report.max_delta_by_kind["thresholds_all"], report.max_delta_by_kind["thresholds_one"]) > 1e-3


def test_rounding_down_alone_misses_lightgbms_zero_band(
    booster: lightgbm.Booster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LightGBM reads |x| <= 1e-35 as 0.0; a plain float32 floor of a split at -1e-35 sends -1e-35 left.
    from models.parity import float32_floor

    monkeypatch.setattr(export, "float32_thresholds", float32_floor)
    report = parity_check(booster, export_onnx(booster, NAMES))

    assert not report.passed
    assert report.max_delta_by_kind["thresholds_all"] > 1e-3


def test_onnx_of_another_booster_fails_the_gate_with_parity_error(
    booster: lightgbm.Booster, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = export_onnx(train(seed=1), NAMES)
    monkeypatch.setattr(export, "export_onnx", lambda b, names: other)
    X_eval, _ = make_data(seed=7, n=2000)

    with pytest.raises(ParityError) as caught:
        export_with_gate(booster, NAMES, X_eval, threshold=0.5)

    message = str(caught.value)
    assert "tolerance 1e-05" in message and "max |delta|" in message
    assert "decision flips at threshold 0.5" in message
    report = parity_check(booster, other, X_eval, threshold=0.5)
    assert not report.passed and report.decision_flips > 0
    with pytest.raises(ParityError, match=f"{report.decision_flips} of 2000 evaluation rows"):
        raise_unless_passed(report)


def test_equivalent_float32_threshold_routes_like_lightgbm() -> None:
    rng = np.random.default_rng(5)
    band = float(ZERO_BAND)
    thresholds = np.concatenate([
        rng.normal(size=2000), rng.normal(scale=1e6, size=200), [0.0, -band, band, -band / 2, band / 2, 1e300],
    ])
    for t, T in zip(thresholds, float32_thresholds(thresholds), strict=True):
        with np.errstate(over="ignore"):  # 1e300 is beyond float32 on purpose
            x = np.array([T, np.nextafter(T, np.float32(-np.inf)), np.nextafter(T, np.float32(np.inf)),
                          np.float32(t), -ZERO_BAND, ZERO_BAND, 0.0], dtype=np.float32)
        as_lightgbm_reads_it = np.where(np.abs(x) <= ZERO_BAND, 0.0, x.astype(np.float64))
        np.testing.assert_array_equal(x <= T, as_lightgbm_reads_it <= t, err_msg=f"threshold {t!r}")


def test_thresholds_are_parsed_from_the_model(booster: lightgbm.Booster) -> None:
    thresholds = split_thresholds(booster)
    assert set(thresholds) <= set(range(len(NAMES)))
    assert 0 in thresholds and 1 in thresholds  # the features the label depends on are split on
    assert all(np.all(np.diff(t) > 0) for t in thresholds.values())


def test_zero_as_missing_models_are_refused() -> None:
    booster = train(seed=0, rounds=5, zero_as_missing=True)
    with pytest.raises(ModelError, match="zero_as_missing"):
        export_onnx(booster, NAMES)


def test_export_refuses_different_feature_names(booster: lightgbm.Booster) -> None:
    renamed = [*NAMES[:2], "route_rarity_v2", *NAMES[3:]]
    with pytest.raises(ModelError, match="position 2: expected 'route_rarity_v2', got 'route_rarity'"):
        export_onnx(booster, renamed)


def test_export_refuses_a_regression_model() -> None:
    X, y = make_data(seed=0, n=500)
    regressor = lightgbm.train({"objective": "regression", "verbose": -1, "num_threads": 1},
                               lightgbm.Dataset(X, y.astype(float), feature_name=NAMES), 3)
    with pytest.raises(ModelError, match="binary classifier"):
        export_onnx(regressor, NAMES)


def categorical_booster() -> tuple[lightgbm.Booster, np.ndarray]:
    """A model with a categorical feature (codes 0-29, some missing) whose risk sits in a few categories,
    and evaluation rows of its kind."""
    rng = np.random.default_rng(11)
    X, _ = make_data(seed=11, n=4000)
    codes = rng.integers(0, 30, size=len(X)).astype(np.float32)
    codes[rng.random(len(X)) < 0.1] = np.nan
    X[:, 2] = codes
    logit = np.nan_to_num(X[:, 0], nan=1.0) + 2.5 * np.isin(codes, [3, 7, 11, 20]) - 1.5
    y = (logit + rng.logistic(size=len(X)) > 0).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 0, "num_threads": 1,
              "min_data_per_group": 20, "cat_smooth": 5.0}
    data = lightgbm.Dataset(X[:3000], y[:3000], feature_name=NAMES, categorical_feature=[2])
    return lightgbm.train(params, data, 60), X[3000:]


def test_a_model_with_categorical_splits_passes_the_gate() -> None:
    booster, X_eval = categorical_booster()
    splits = [node for tree in booster.dump_model()["tree_info"] for node in _nodes(tree["tree_structure"])]
    assert any(node["decision_type"] == "==" for node in splits)  # the model does split on categories

    _, report = export_with_gate(booster, NAMES, X_eval, threshold=0.5)

    assert report.passed and report.max_abs_delta <= 1e-5 and report.decision_flips == 0



def test_categorical_splits_are_exported_as_one_set_membership_node_each() -> None:
    # TreeEnsembleClassifier (opset 3) has no set membership: onnxmltools turns "code in {a, b, c}" into a
    # chain of equality nodes with a copy of the subtree per code. The opset-5 TreeEnsemble keeps LightGBM's
    # trees as they are: one node per split, the category sets in membership_values.
    booster, _ = categorical_booster()
    splits = [node for tree in booster.dump_model()["tree_info"] for node in _nodes(tree["tree_structure"])]
    category_sets = [str(node["threshold"]).split("||") for node in splits if node["decision_type"] == "=="]

    model = onnx.load_from_string(export_onnx(booster, NAMES))

    (ensemble,) = [node for node in model.graph.node if node.op_type.startswith("TreeEnsemble")]
    assert (ensemble.op_type, ensemble.domain) == ("TreeEnsemble", "ai.onnx.ml")
    attributes = {a.name: a for a in ensemble.attribute}
    modes = onnx.numpy_helper.to_array(attributes["nodes_modes"].t)
    assert len(modes) == len(splits)
    assert (modes == 6).sum() == len(category_sets)  # BRANCH_MEMBER
    members = onnx.numpy_helper.to_array(attributes["membership_values"].t)
    assert np.isnan(members).sum() == len(category_sets)
    assert sorted(members[~np.isnan(members)].astype(int).tolist()) == sorted(
        int(c) for codes in category_sets for c in codes)
    assert json.loads(dict((p.key, p.value) for p in model.metadata_props)["feature_names"]) == NAMES


def test_numerical_models_keep_the_onnxmltools_conversion(booster: lightgbm.Booster) -> None:
    model = onnx.load_from_string(export_onnx(booster, NAMES))

    assert [node.op_type for node in model.graph.node] == ["TreeEnsembleClassifier", "Gather"]


def test_a_tree_of_one_leaf_adds_its_value_to_every_row() -> None:
    # LightGBM writes a tree of one leaf when no split is worth it (here: every round after the first
    # few, since the data allow none); the opset-5 graph must still add that leaf's value to each row.
    from models.onnx_trees import tree_ensemble_graph, tree_ensemble_model

    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, len(NAMES))).astype(np.float32)
    y = (rng.random(400) < 0.3).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 300}
    booster = lightgbm.train(params, lightgbm.Dataset(X, y, feature_name=NAMES), 5)
    assert all("leaf_value" in tree["tree_structure"] for tree in booster.dump_model()["tree_info"])

    model = tree_ensemble_model(tree_ensemble_graph(booster, len(NAMES), "features", "p"))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

    (p,) = session.run(None, {"features": X[:50]})
    assert p.shape == (50,)
    np.testing.assert_allclose(p, booster.predict(X[:50]), atol=1e-6)

def test_generated_rows_carry_only_codes_or_nan_in_categorical_columns() -> None:
    # LightGBM truncates 3.7 to category 3 where ONNX compares it exactly: fractional values are outside
    # a categorical feature's domain, so the gate must not feed them (nor infinities) to either runtime.
    booster, _ = categorical_booster()
    codes = categorical_codes(booster)
    assert list(codes) == [2]
    assert set(range(30 + UNSEEN_CODES)) == set(codes[2].astype(int).tolist())

    rows, kinds = parity_rows(booster, 10_000, np.random.default_rng(0))

    column = rows[:, 2]
    present = column[~np.isnan(column)]
    assert set(np.unique(present).astype(int).tolist()) <= set(codes[2].astype(int).tolist())
    assert np.array_equal(present, np.round(present)) and (present >= 0).all()
    assert (present >= 30).any() and np.isnan(column).any()  # unseen codes and missing ones are probed
    assert not np.isfinite(rows[kinds["extremes"]][:, [0, 1, 3, 4, 5]]).all()  # extremes still go elsewhere


def _nodes(node: dict) -> list[dict]:
    if "split_index" not in node:
        return []
    return [node, *_nodes(node["left_child"]), *_nodes(node["right_child"])]
