"""Why a container was flagged: the features that pushed its score up the most.

Contributions are LightGBM's TreeSHAP values (``predict(..., pred_contrib=True)``) on the text model
stored beside the ONNX model, in log-odds units: per row they sum, with the bias term, to the raw score.
They are computed only for flagged containers, so LightGBM's speed here is not on the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import lightgbm
import numpy as np

from portrisk.errors import ConfigError, ModelError
from scoring.card import LGB_FILE, load_card, verify_files
from scoring.feature_hash import describe_difference

ReasonTexts = Mapping[str, str] | Callable[[str, float], str]


class Reason(NamedTuple):
    """One feature that raised a container's risk: its value, SHAP contribution (log-odds) and text."""

    feature: str
    value: float
    contribution: float
    text: str


class _Missing:
    """Stands in for a NaN value in templates: ``{value:.1f}`` must not fail on a missing value."""

    def __format__(self, spec: str) -> str:
        return "missing"


def readable(feature: str, value: float) -> str:
    """Fallback text for a feature without a template: ``"shipper age days: 3"``."""
    shown = "missing" if math.isnan(value) else f"{value:g}"
    return f"{feature.replace('_', ' ').strip()}: {shown}"


class ReasonExplainer:
    """Top positive SHAP contributions per row, with human-readable texts."""

    def __init__(
        self,
        model: str | Path | lightgbm.Booster,
        reason_texts: ReasonTexts | None = None,
        *,
        num_threads: int = 1,
    ) -> None:
        """``model`` is a model artifact directory (its ``model.lgb.txt`` is checked against the card)
        or a booster. ``reason_texts`` maps feature names to templates using ``{value}`` (a float, or
        "missing" for NaN), or is a callable ``(feature, value) -> text``. Templates are checked here, so
        a broken one raises ConfigError at start-up rather than on the first flagged container.
        """
        if isinstance(model, lightgbm.Booster):
            self._booster = model
        else:
            self._booster = _load_booster(Path(model))
        self._names = tuple(self._booster.feature_name())
        self._texts = reason_texts if reason_texts is not None else {}
        self._num_threads = num_threads
        if not callable(self._texts):
            for feature, template in self._texts.items():
                for probe in (1.0, float("nan")):
                    try:
                        self._format(template, probe)
                    except (KeyError, IndexError, ValueError) as exc:
                        raise ConfigError(
                            f"reason text for {feature!r} is not a valid template: {exc!r}"
                        ) from exc

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The model's features, in column order."""
        return self._names

    def contributions(self, X_rows: np.ndarray) -> np.ndarray:
        """SHAP contributions, float64 [n, n_features] (log-odds; the bias column is dropped)."""
        rows = np.atleast_2d(np.asarray(X_rows, dtype=np.float32))
        if rows.shape[1] != len(self._names):
            raise ValueError(f"expected rows of shape [n, {len(self._names)}], got {rows.shape}")
        contrib = self._booster.predict(rows, pred_contrib=True, num_threads=self._num_threads)
        return np.asarray(contrib, dtype=np.float64)[:, : len(self._names)]

    def top_reasons(self, X_rows: np.ndarray, k: int = 3) -> list[list[Reason]]:
        """For each row, up to ``k`` features with a positive contribution, largest first."""
        rows = np.atleast_2d(np.asarray(X_rows, dtype=np.float32))
        if len(rows) == 0:
            return []
        contrib = self.contributions(rows)
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
        result = []
        for i, columns in enumerate(order):
            reasons = []
            for j in columns:
                c = float(contrib[i, j])
                if c <= 0.0:
                    break  # sorted: nothing further pushes the risk up
                value = float(rows[i, j])
                reasons.append(Reason(self._names[j], value, c, self.text(self._names[j], value)))
            result.append(reasons)
        return result

    def text(self, feature: str, value: float) -> str:
        """The reason text for one feature value."""
        if callable(self._texts):
            return self._texts(feature, value)
        template = self._texts.get(feature)
        if template is None:
            return readable(feature, value)
        return self._format(template, value)

    @staticmethod
    def _format(template: str, value: float) -> str:
        shown: object = _Missing() if math.isnan(value) else value
        return template.format(value=shown)


def _load_booster(model_dir: Path) -> lightgbm.Booster:
    card = load_card(model_dir)
    verify_files(model_dir, card, [LGB_FILE])
    try:
        booster = lightgbm.Booster(model_file=str(model_dir / LGB_FILE))
    except lightgbm.basic.LightGBMError as exc:
        raise ModelError(f"model {card.version}: cannot load {LGB_FILE}: {exc}") from exc
    difference = describe_difference(card.feature_names, booster.feature_name())
    if difference:
        raise ModelError(f"model {card.version}: {LGB_FILE} does not match its card: {difference}")
    return booster

