"""Reasons: the features that pushed a container's score up, ranked, with readable texts."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pytest

from models.artifact import LGB_FILE, ModelCard, save_artifact
from portrisk.errors import ConfigError, ModelError
from scoring.reasons import Reason, ReasonExplainer, readable

NAMES = ["route_transshipment_rarity", "shipper_age_days", "weight_value_mismatch", "noise_a", "noise_b"]
TEXTS = {
    "route_transshipment_rarity": "route passes through a transshipment hub uncommon for this lane ({value:.2f})",
    "shipper_age_days": "shipper first seen {value:.0f} days ago",
}


@pytest.fixture(scope="module")
def booster() -> lightgbm.Booster:
    """Risk driven mostly by route rarity, a little by weight/value mismatch; young shippers riskier."""
    rng = np.random.default_rng(0)
    n = 4000
    X = rng.normal(size=(n, len(NAMES))).astype(np.float32)
    X[:, 1] = rng.uniform(0, 2000, size=n)
    X[rng.random(n) < 0.1, 2] = np.nan
    logit = 3.0 * X[:, 0] - X[:, 1] / 1000 + 0.7 * np.nan_to_num(X[:, 2]) - 2.0
    y = (logit + rng.logistic(size=n) > 0).astype(int)
    params = {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": 0, "num_threads": 1}
    return lightgbm.train(params, lightgbm.Dataset(X, y, feature_name=NAMES), 80)


def row(**values: float) -> np.ndarray:
    x = np.array([0.0, 1000.0, 0.0, 0.0, 0.0], dtype=np.float32)
    for name, value in values.items():
        x[NAMES.index(name)] = value
    return x


def test_the_feature_driving_the_score_comes_first(booster: lightgbm.Booster) -> None:
    explainer = ReasonExplainer(booster, TEXTS)
    X = np.stack([
        row(route_transshipment_rarity=2.5),
        row(route_transshipment_rarity=2.0, weight_value_mismatch=1.5),
    ])

    reasons = explainer.top_reasons(X, k=3)

    assert [r[0].feature for r in reasons] == ["route_transshipment_rarity"] * 2
    assert reasons[0][0].text == "route passes through a transshipment hub uncommon for this lane (2.50)"
    assert reasons[0][0].value == pytest.approx(2.5)
    assert "weight_value_mismatch" in [r.feature for r in reasons[1]]


def test_only_positive_contributions_in_descending_order(booster: lightgbm.Booster) -> None:
    explainer = ReasonExplainer(booster, TEXTS)
    X = np.random.default_rng(1).normal(size=(200, len(NAMES))).astype(np.float32)
    X[:, 1] = np.random.default_rng(2).uniform(0, 2000, size=200)
    contributions = explainer.contributions(X)

    for i, reasons in enumerate(explainer.top_reasons(X, k=2)):
        assert len(reasons) <= 2
        assert all(r.contribution > 0 for r in reasons)
        assert [r.contribution for r in reasons] == sorted((r.contribution for r in reasons), reverse=True)
        positive = np.sort(contributions[i][contributions[i] > 0])[::-1][:2]
        assert [r.contribution for r in reasons] == pytest.approx(positive.tolist())


def test_a_container_where_nothing_raises_the_risk_has_no_reasons(booster: lightgbm.Booster) -> None:
    explainer = ReasonExplainer(booster, TEXTS)
    rng = np.random.default_rng(3)
    X = np.stack([row(route_transshipment_rarity=-3.0, shipper_age_days=1990.0, weight_value_mismatch=-2.0,
                      noise_a=a, noise_b=b) for a, b in rng.normal(size=(100, 2))])
    all_negative = (explainer.contributions(X) <= 0).all(axis=1)
    assert all_negative.any()  # the premise: some of these safe rows have no positive contribution

    reasons = explainer.top_reasons(X)
    assert [len(r) == 0 for r in reasons] == all_negative.tolist()


def test_contributions_add_up_to_the_raw_score(booster: lightgbm.Booster) -> None:
    X = np.stack([row(route_transshipment_rarity=1.0), row(weight_value_mismatch=np.nan)])
    full = np.asarray(booster.predict(X, pred_contrib=True))
    explainer = ReasonExplainer(booster)
    np.testing.assert_allclose(explainer.contributions(X).sum(axis=1) + full[:, -1],
                               booster.predict(X, raw_score=True), rtol=1e-9)


def test_texts_for_missing_values_unknown_features_and_callables(booster: lightgbm.Booster) -> None:
    explainer = ReasonExplainer(booster, {"weight_value_mismatch": "weight does not fit value ({value:.1f})"})
    assert explainer.text("weight_value_mismatch", float("nan")) == "weight does not fit value (missing)"
    assert explainer.text("shipper_age_days", 12.0) == "shipper age days: 12"
    assert readable("noise_a", float("nan")) == "noise a: missing"

    by_callable = ReasonExplainer(booster, lambda feature, value: f"{feature}={value:.1f}")
    (reasons,) = by_callable.top_reasons(row(route_transshipment_rarity=2.5)[None], k=1)
    assert reasons == [Reason("route_transshipment_rarity", 2.5, reasons[0].contribution,
                              "route_transshipment_rarity=2.5")]


def test_a_broken_template_is_refused_at_start_up(booster: lightgbm.Booster) -> None:
    with pytest.raises(ConfigError, match="shipper_age_days"):
        ReasonExplainer(booster, {"shipper_age_days": "first seen {days} ago"})


def test_loads_the_text_model_from_an_artifact(booster: lightgbm.Booster, tmp_path: Path) -> None:
    card = ModelCard.create("r1", NAMES, "2024-01-01", "2024-03-01")
    save_artifact(tmp_path / "r1", booster, b"onnx", card)
    explainer = ReasonExplainer(tmp_path / "r1", TEXTS)
    X = np.stack([row(route_transshipment_rarity=2.5)])
    np.testing.assert_allclose(explainer.contributions(X), ReasonExplainer(booster).contributions(X))

    (tmp_path / "r1" / LGB_FILE).write_text(booster.model_to_string(num_iteration=5))
    with pytest.raises(ModelError, match="checksum expected"):
        ReasonExplainer(tmp_path / "r1")


def test_rows_of_the_wrong_width_are_refused(booster: lightgbm.Booster) -> None:
    with pytest.raises(ValueError, match=r"\[n, 5\]"):
        ReasonExplainer(booster).top_reasons(np.zeros((1, 4), dtype=np.float32))
