"""One tree ensemble from two: the trees of a second LightGBM model added to the first's, scaled.

A LightGBM model's raw score is the sum of its trees' leaf values, so a model whose trees are those of
``main`` followed by those of ``extra`` with every leaf value multiplied by ``weight`` (and the constant
``offset`` taken off its first tree) scores ``main + weight * (extra - offset)`` in raw (log-odds)
units. The result is an ordinary LightGBM model: the ONNX export, its parity gate and the per-decision
reasons (SHAP values add up tree by tree) work on it unchanged, and the worker scores it in one session.
"""

from __future__ import annotations

import re

import lightgbm
import numpy as np

_TREE = re.compile(r"^Tree=\d+$", re.MULTILINE)
_VALUES = ("leaf_value=", "internal_value=")


def add_trees(main: lightgbm.Booster, extra: lightgbm.Booster, weight: float, offset: float = 0.0
              ) -> lightgbm.Booster:
    """A model scoring ``main + weight * (extra - offset)`` in raw units (see the module docstring).

    Both must be single-output models over the same features in the same order (ValueError otherwise).
    """
    if main.feature_name() != extra.feature_name():
        raise ValueError("the two models do not have the same features in the same order")
    head, main_trees, tail = _split(main.model_to_string())
    _, extra_trees, _ = _split(extra.model_to_string())
    scaled = [_scale(tree, weight, -weight * offset if i == 0 else 0.0) for i, tree in enumerate(extra_trees)]
    return _join(head, [_renumber(tree, i) for i, tree in enumerate([*main_trees, *scaled])], tail)


def _join(head: str, trees: list[str], tail: str) -> lightgbm.Booster:
    # Without ``tree_sizes`` LightGBM parses the trees one after another instead of by offsets.
    head = "\n".join(line for line in head.split("\n") if not line.startswith("tree_sizes="))
    return lightgbm.Booster(model_str=head + "\n" + "".join(trees) + "end of trees" + tail)


def _split(text: str) -> tuple[str, list[str], str]:
    """Header, tree blocks (each from ``Tree=i`` up to the next) and what follows the trees."""
    body, marker, tail = text.partition("end of trees")
    if not marker:
        raise ValueError("not a LightGBM text model: no 'end of trees'")
    starts = [m.start() for m in _TREE.finditer(body)]
    if not starts:
        raise ValueError("the model has no trees")
    if "num_tree_per_iteration=1\n" not in body[:starts[0]]:
        raise ValueError("only single-output (binary or regression) models can be added")
    blocks = [body[a:b] for a, b in zip(starts, [*starts[1:], len(body)], strict=True)]
    return body[:starts[0]].rstrip("\n"), blocks, tail


def _scale(tree: str, weight: float, shift: float) -> str:
    """A tree block with its leaf (and internal) values times ``weight``, leaves plus ``shift``."""
    lines = tree.split("\n")
    for i, line in enumerate(lines):
        for key in _VALUES:
            if line.startswith(key):
                values = [float(v) * weight + shift for v in line[len(key):].split()]
                lines[i] = key + " ".join(repr(v) for v in values)
    return "\n".join(lines)


def _renumber(tree: str, index: int) -> str:
    return _TREE.sub(f"Tree={index}", tree, count=1)


def rescale(booster: lightgbm.Booster, scale: float, shift: float) -> lightgbm.Booster:
    """A model scoring ``scale * raw + shift`` (``scale`` > 0 keeps the ranking): a calibration folded into
    the trees, so the served model needs no separate step."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, not {scale}")
    head, trees, tail = _split(booster.model_to_string())
    return _join(head, [_scale(tree, scale, shift if i == 0 else 0.0) for i, tree in enumerate(trees)], tail)


def platt(raw: np.ndarray, y: np.ndarray, weight: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """``(scale, shift)`` of the weighted logistic fit P(y) = sigmoid(scale * raw + shift)."""
    scale, shift = _logistic(np.column_stack([raw, np.ones_like(raw)]), np.zeros_like(raw), y, weight, iterations)
    return float(scale), float(shift)


def intercept(raw: np.ndarray, y: np.ndarray, weight: np.ndarray, iterations: int = 100) -> float:
    """The constant ``c`` of the weighted logistic fit P(y) = sigmoid(raw + c): where boosting that starts
    from the scores ``raw`` (a prior) starts, as LightGBM would start from the labels' average without one."""
    (c,) = _logistic(np.ones((raw.size, 1)), raw, y, weight, iterations)
    return float(c)


def _logistic(X: np.ndarray, offset: np.ndarray, y: np.ndarray, weight: np.ndarray, iterations: int) -> np.ndarray:
    """Coefficients of P(y) = sigmoid(X @ b + offset) (X's last column the constant) by Newton's method from
    the base rate, each step halved until the likelihood does not fall."""
    rate = float(np.clip(np.average(y, weights=weight), 1e-12, 1 - 1e-12))
    beta = np.zeros(X.shape[1])
    beta[-1] = np.log(rate / (1.0 - rate)) - float(np.average(offset, weights=weight))

    def loglik(b: np.ndarray) -> float:
        z = X @ b + offset
        return float(np.sum(weight * (y * z - np.logaddexp(0.0, z))))

    current = loglik(beta)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(X @ beta + offset)))
        gradient = X.T @ (weight * (y - p))
        hessian = (X * (weight * p * (1.0 - p))[:, None]).T @ X
        step = np.linalg.solve(hessian + 1e-9 * np.eye(X.shape[1]), gradient)
        while loglik(beta + step) < current and np.abs(step).max() > 1e-12:
            step = step / 2.0
        beta = beta + step
        previous, current = current, loglik(beta)
        if abs(current - previous) <= 1e-12 * max(abs(current), 1.0):
            break
    return beta
