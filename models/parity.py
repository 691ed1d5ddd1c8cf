"""Parity of an ONNX export with its LightGBM model, on rows built to find disagreements.

Random rows rarely land on a split threshold, yet that is where float32/float64 conversion mistakes
live, so most generated rows probe the thresholds parsed from the model itself: the largest float32 not
above each threshold (goes left in LightGBM), the next float32 up (goes right), and one step beyond
each. Other rows carry NaN in random positions (default directions), extreme values (+-inf, the float32
limits, subnormals, signed zero) and random values within each feature's training range.

Both runtimes get the same float32 rows (features are float32 on the wire), so the comparison measures
the export, not the input cast.

Categorical features (LightGBM ``==`` splits on category sets) take non-negative integer codes or NaN:
LightGBM truncates any other value to an integer (a negative one reads as missing) where ONNX's
``BRANCH_EQ`` compares it exactly, so 3.7 is category 3 in one runtime and no category in the other — a
difference of input domain, not of export. The generated rows draw those columns from the model's own
categories plus unseen codes (and NaN), and extreme values go to numerical columns only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import lightgbm
import numpy as np
import onnxruntime as ort

from portrisk.errors import ModelError

_F32 = np.finfo(np.float32)
EXTREMES = np.array(
    [np.inf, -np.inf, _F32.max, -_F32.max, _F32.tiny, -_F32.tiny, _F32.smallest_subnormal, 0.0, -0.0,
     1e30, -1e30],
    dtype=np.float32,
)


@dataclass(frozen=True)
class ParityReport:
    """Outcome of one parity check; ``to_dict`` is what the model card stores.

    ``decision_flips`` counts evaluation rows whose decision ``p >= threshold`` differs between the
    runtimes. The gate itself is the tolerance: when every delta is within ``tol``, a flip means a score
    sat within ``tol`` of the threshold (a tie at float precision), so flips are reported, not gated.
    """

    rows_checked: int
    max_abs_delta: float
    n_nan_rows: int
    n_threshold_rows: int
    n_eval_rows: int
    decision_flips: int
    tol: float
    threshold: float | None
    passed: bool
    max_delta_by_kind: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (infinite deltas become the string ``"inf"``)."""
        data = asdict(self)
        data["max_abs_delta"] = _jsonable(self.max_abs_delta)
        data["max_delta_by_kind"] = {k: _jsonable(v) for k, v in self.max_delta_by_kind.items()}
        return data


def _jsonable(value: float) -> float | str:
    return value if np.isfinite(value) else str(value)


def split_thresholds(booster: lightgbm.Booster) -> dict[int, np.ndarray]:
    """Feature index → sorted distinct thresholds (float64) of the model's numerical splits."""
    found: dict[int, set[float]] = {}
    for tree in booster.dump_model()["tree_info"]:
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_index" not in node:
                continue
            if node["decision_type"] == "<=":
                found.setdefault(int(node["split_feature"]), set()).add(float(node["threshold"]))
            stack.extend((node["left_child"], node["right_child"]))
    return {feature: np.array(sorted(values)) for feature, values in found.items()}


UNSEEN_CODES = 3  # codes beyond a categorical feature's largest that generated rows also carry


def categorical_codes(booster: lightgbm.Booster) -> dict[int, np.ndarray]:
    """Feature index → the codes generated rows may carry in a categorical feature: every category the
    model saw in training and ``UNSEEN_CODES`` codes above them (float32, sorted)."""
    infos = booster.dump_model(num_iteration=1).get("feature_infos", {})
    codes: dict[int, np.ndarray] = {}
    for j, name in enumerate(booster.feature_name()):
        seen = [int(v) for v in infos.get(name, {}).get("values", []) if v >= 0]  # -1: LightGBM's missing
        if seen:
            top = max(seen)
            codes[j] = np.array(sorted({*seen, *range(top + 1, top + 1 + UNSEEN_CODES)}), dtype=np.float32)
    return codes


# LightGBM's kZeroThreshold (a float literal, so float32-exact). Its predictor drops entries with
# |x| <= this when it reads a dense row, so such inputs are compared as exactly 0.0.
ZERO_BAND = np.float32(1e-35)


def float32_floor(values: np.ndarray) -> np.ndarray:
    """For each float64 ``t``, the largest float32 not above it: float32 ``x <= t`` iff ``x <= result``."""
    t = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        rounded = t.astype(np.float32)
    too_high = rounded.astype(np.float64) > t
    rounded[too_high] = np.nextafter(rounded[too_high], np.float32(-np.inf))
    return rounded


def float32_thresholds(thresholds: np.ndarray) -> np.ndarray:
    """For each LightGBM threshold ``t``, the float32 ``T`` such that float32 ``x`` goes left iff ``x <= T``.

    Usually ``T`` is :func:`float32_floor` of ``t``. Thresholds inside LightGBM's zero band need more:
    the band is read as 0.0, so a split at ``-1e-35`` sends ``x = -1e-35`` right, not left.
    """
    t = np.asarray(thresholds, dtype=np.float64)
    result = float32_floor(t)
    band = float(ZERO_BAND)
    result[(t >= -band) & (t < 0)] = np.nextafter(-ZERO_BAND, np.float32(-np.inf))  # left iff below band
    result[(t >= 0) & (t < band)] = ZERO_BAND  # the whole band reads 0.0 <= t: left up to its top
    return result


def threshold_probes(thresholds: np.ndarray) -> np.ndarray:
    """Distinct float32 values that decide the direction of each threshold, and their neighbours.

    Probes sit around the float64 threshold itself (its nearest float32, what a naive conversion
    stores) and around its float32 equivalent (the last value going left, the first going right).
    """
    with np.errstate(over="ignore"):
        nearest = thresholds.astype(np.float32)
        last_left = float32_thresholds(thresholds)
        first_right = np.nextafter(last_left, np.float32(np.inf))
        probes = np.concatenate([
            np.nextafter(last_left, np.float32(-np.inf)), last_left, first_right,
            np.nextafter(first_right, np.float32(np.inf)),
            np.nextafter(nearest, np.float32(-np.inf)), nearest, np.nextafter(nearest, np.float32(np.inf)),
        ])
    return np.unique(probes[np.isfinite(probes)])


def parity_rows(
    booster: lightgbm.Booster, n_rows: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, slice]]:
    """Generated float32 rows (at least ``n_rows``) and the slice each kind of row occupies."""
    n_features = booster.num_feature()
    infos = booster.dump_model(num_iteration=1).get("feature_infos", {})
    names = booster.feature_name()
    thresholds = split_thresholds(booster)
    probes = {j: threshold_probes(t) for j, t in thresholds.items()}
    low, high = np.full(n_features, -1.0), np.full(n_features, 1.0)
    for j, name in enumerate(names):
        info = infos.get(name, {})  # absent for features LightGBM found unusable (e.g. all NaN)
        seen = [float(v) for v in (info.get("min_value"), info.get("max_value")) if v is not None]
        if j in thresholds:
            seen += [float(t) for t in thresholds[j] if abs(t) < 1e30]  # not LightGBM's +-1e300 sentinels
        if seen:
            span = max(seen) - min(seen)
            low[j], high[j] = min(seen) - 0.1 * span - 1.0, max(seen) + 0.1 * span + 1.0

    categorical = categorical_codes(booster)

    def uniform(n: int) -> np.ndarray:
        rows = rng.uniform(low, high, size=(n, n_features)).astype(np.float32)
        for j, codes in categorical.items():
            rows[:, j] = rng.choice(codes, size=n)
        return rows

    quarter = max(n_rows // 4, 1)
    blocks: dict[str, np.ndarray] = {"random": uniform(quarter)}

    with_nan = uniform(quarter)
    with_nan[rng.random(with_nan.shape) < rng.uniform(0.05, 0.95, size=(quarter, 1))] = np.nan
    with_nan[0] = np.nan  # every feature missing at once
    blocks["nan"] = with_nan

    at_all = uniform(quarter)  # every split feature sits on one of its thresholds
    for j, values in probes.items():
        at_all[:, j] = rng.choice(values, size=quarter)
    at_all[rng.random(at_all.shape) < 0.05] = np.nan  # thresholds combined with default directions
    blocks["thresholds_all"] = at_all

    pairs = [(j, v) for j, values in probes.items() for v in values]  # each probe once, in context
    if len(pairs) > n_rows:
        pairs = [pairs[i] for i in rng.choice(len(pairs), size=n_rows, replace=False)]
    one_each = uniform(len(pairs))
    for i, (j, v) in enumerate(pairs):
        one_each[i, j] = v
    blocks["thresholds_one"] = one_each

    extreme = uniform(max(n_rows // 8, 1))
    mask = rng.random(extreme.shape) < 0.3
    mask[:, list(categorical)] = False  # extremes are not codes (see the module docstring)
    extreme[mask] = rng.choice(EXTREMES, size=int(mask.sum()))
    blocks["extremes"] = extreme

    generated = sum(len(b) for b in blocks.values())
    if generated < n_rows:
        blocks["random_fill"] = uniform(n_rows - generated)
    return _stack(blocks)


def _stack(blocks: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, slice]]:
    slices, start = {}, 0
    for kind, block in blocks.items():
        slices[kind] = slice(start, start + len(block))
        start += len(block)
    return np.ascontiguousarray(np.vstack(list(blocks.values())), dtype=np.float32), slices


def parity_check(
    booster: lightgbm.Booster,
    onnx_bytes: bytes,
    X_eval: np.ndarray | None = None,
    threshold: float | None = None,
    n_rows: int = 10_000,
    tol: float = 1e-5,
    seed: int = 0,
) -> ParityReport:
    """Compare ``booster.predict`` with onnxruntime on generated rows plus ``X_eval``.

    Passes when the largest absolute difference in P(illicit) is at most ``tol`` and both outputs are
    finite. Decision flips at ``threshold`` are counted on ``X_eval`` only.
    """
    rows, kinds = parity_rows(booster, n_rows, np.random.default_rng(seed))
    if X_eval is not None:
        eval_rows = np.ascontiguousarray(X_eval, dtype=np.float32)
        if eval_rows.ndim != 2 or eval_rows.shape[1] != booster.num_feature():
            raise ModelError(f"X_eval: expected shape [n, {booster.num_feature()}], got {eval_rows.shape}")
        kinds["eval"] = slice(len(rows), len(rows) + len(eval_rows))
        rows = np.vstack([rows, eval_rows])

    expected = np.asarray(booster.predict(rows), dtype=np.float64)
    actual = _onnx_predict(onnx_bytes, rows).astype(np.float64)
    if actual.shape != expected.shape:
        raise ModelError(f"ONNX output: expected shape {expected.shape}, got {actual.shape}")
    delta = np.abs(actual - expected)
    delta[~np.isfinite(delta)] = np.inf

    flips = 0
    if threshold is not None and "eval" in kinds:
        e = kinds["eval"]
        flips = int(np.count_nonzero((expected[e] >= threshold) != (actual[e] >= threshold)))
    by_kind = {k: float(delta[s].max()) for k, s in kinds.items() if s.stop > s.start}
    max_delta = float(delta.max())
    return ParityReport(
        rows_checked=len(rows),
        max_abs_delta=max_delta,
        n_nan_rows=int(np.count_nonzero(np.isnan(rows).any(axis=1))),
        n_threshold_rows=sum(s.stop - s.start for k, s in kinds.items() if k.startswith("thresholds")),
        n_eval_rows=kinds["eval"].stop - kinds["eval"].start if "eval" in kinds else 0,
        decision_flips=flips,
        tol=tol,
        threshold=threshold,
        passed=max_delta <= tol,
        max_delta_by_kind=by_kind,
    )


def _onnx_predict(onnx_bytes: bytes, rows: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for unloadable models
        raise ModelError(f"onnxruntime cannot load the exported model: {exc}") from exc
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"expected one input and one output, got {len(inputs)} and {len(outputs)}")
    result = session.run([outputs[0].name], {inputs[0].name: rows})[0]
    return np.asarray(result)
