"""LightGBM → ONNX export, and the parity gate that must pass before a model is published.

Float32 and split thresholds
----------------------------
Features travel as float32, onnxruntime's TreeEnsemble takes float32 input and stores thresholds as
float32, while LightGBM stores thresholds as float64 and compares ``double(x) <= threshold``. The stock
onnxmltools conversion rounds each threshold to the *nearest* float32. Whenever that rounds up (about
half of all thresholds: LightGBM puts them midway between bin bounds, rarely on a float32), a feature
value equal to the rounded threshold goes left in ONNX and right in LightGBM. Measured on a small model
before the fix: 1,170 of 11,202 threshold-probing rows differed, by up to 0.25 in probability. This is
the same single- versus double-precision threshold problem reported for other tree compilers (treelite,
cuML FIL).

For float32 inputs the fix is exact: ``x <= t`` holds for a float32 ``x`` exactly when ``x <= t32``,
where ``t32`` is the largest float32 not above ``t``. One more LightGBM rule matters: its predictor reads
any input with ``|x| <= 1e-35`` (kZeroThreshold) as exactly 0.0, so a split at ``-1e-35`` (LightGBM puts
splits there, around zero) sends ``x = -1e-35`` right. The gate found this as a 0.003 delta after the
first fix; for thresholds inside that band ``t32`` moves to the band's edge
(:func:`models.parity.float32_thresholds`).

:func:`export_onnx` rewrites every numerical threshold of a copy of the text model to its ``t32`` before
converting. The copy predicts identically to the original on every float32 input, and its thresholds
survive the float32 cast unchanged. Parity is defined over float32 inputs, because that is what the
worker feeds the model; the gate feeds both runtimes the same float32 rows. What remains is float32
summation of leaf values in onnxruntime: about 2e-7 in probability, well inside the 1e-5 tolerance.

Missing values: LightGBM routes NaN by each split's ``missing_type`` and ``default_left``; the converter
maps them onto ``nodes_missing_value_tracks_true``, including ``missing_type=None`` splits, where
LightGBM turns NaN into 0.0. ``zero_as_missing`` models (``missing_type=Zero``, which also sends 0.0 to
the default side) have no ONNX equivalent and are refused.

Categorical splits: ``TreeEnsembleClassifier``, what onnxmltools writes, has no set membership, so a
model that splits on categories (the segment codes) goes through :mod:`models.onnx_trees` instead, to the
opset-5 ``TreeEnsemble`` whose ``BRANCH_MEMBER`` nodes keep each split one node. Models without them keep
the onnxmltools conversion. Both pass the same gate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import lightgbm
import numpy as np
import onnx
from onnx import helper

from models.onnx_trees import tree_ensemble_graph, tree_ensemble_model
from models.parity import ParityReport, float32_thresholds, parity_check
from portrisk.errors import ModelError, ParityError
from scoring.feature_hash import describe_difference, feature_hash

OUTPUT_NAME = "p_illicit"
INPUT_NAME = "features"

_CATEGORICAL_MASK = 1  # bit 0 of LightGBM's decision_type marks a categorical split
_MISSING_ZERO = 1  # bits 2-3 of decision_type hold the missing type: 0 None, 1 Zero, 2 NaN


def float32_exact_model(booster: lightgbm.Booster) -> lightgbm.Booster:
    """A copy of ``booster`` whose numerical thresholds are float32-exact (see the module docstring).

    Predicts exactly like ``booster`` on every float32 input. Raises ModelError for ``zero_as_missing``
    splits, which the ONNX tree operators cannot express.
    """
    lines = booster.model_to_string().split("\n")
    threshold_at: int | None = None
    for i, line in enumerate(lines):
        if line.startswith("Tree="):
            threshold_at = None
        elif line.startswith("threshold="):
            threshold_at = i
        elif line.startswith("decision_type=") and threshold_at is not None:
            lines[threshold_at] = _rewrite_thresholds(lines[threshold_at], line)
    # tree_sizes holds each tree's byte length for parallel parsing; rewritten trees change length, and
    # LightGBM falls back to sequential parsing when the line is absent.
    text = "\n".join(line for line in lines if not line.startswith("tree_sizes="))
    return lightgbm.Booster(model_str=text)


def _rewrite_thresholds(threshold_line: str, decision_line: str) -> str:
    tokens = threshold_line.removeprefix("threshold=").split()
    decisions = [int(d) for d in decision_line.removeprefix("decision_type=").split()]
    if len(tokens) != len(decisions):
        raise ModelError("malformed LightGBM text model: threshold and decision_type lengths differ")
    equivalents = float32_thresholds(np.array([float(t) for t in tokens]))
    out = []
    for token, decision, equivalent in zip(tokens, decisions, equivalents, strict=True):
        if decision & _CATEGORICAL_MASK:
            out.append(token)  # a categorical "threshold" is an index into the category bitsets
            continue
        if (decision >> 2) & 3 == _MISSING_ZERO:
            raise ModelError(
                "zero_as_missing splits have no ONNX equivalent; retrain with zero_as_missing=false"
            )
        # Thresholds beyond the float32 range keep their text: the float32 cast gives +-inf, which
        # routes every finite float32 the same way as the original double.
        out.append(repr(float(equivalent)) if np.isfinite(equivalent) else token)
    return "threshold=" + " ".join(out)


def export_onnx(booster: lightgbm.Booster, feature_names: Sequence[str]) -> bytes:
    """Convert a binary LightGBM booster to ONNX bytes whose single output is P(class=1), float32 [n].

    Input ``features``: float32 [n, len(feature_names)], NaN = missing. Output ``p_illicit``. The
    feature names and their hash are stored in the model's metadata. Raises ModelError if the booster
    is not a binary classifier or its feature names differ from ``feature_names``.
    """
    from onnxmltools.convert import convert_lightgbm  # training-only dependency
    from onnxmltools.convert.common.data_types import FloatTensorType

    names = list(feature_names)
    difference = describe_difference(names, booster.feature_name())
    if difference:
        raise ModelError(f"booster features do not match: {difference}")
    dump = booster.dump_model(num_iteration=1)
    if not str(dump.get("objective", "")).startswith("binary") or dump.get("num_class") != 1:
        raise ModelError(f"expected a binary classifier, got objective {dump.get('objective')!r}")

    exact = float32_exact_model(booster)
    if has_categorical_splits(exact):  # set membership needs opset 5 (models.onnx_trees)
        model = tree_ensemble_model(tree_ensemble_graph(exact, len(names), INPUT_NAME, OUTPUT_NAME))
        return _checked(_with_feature_names(model, names)).SerializeToString()
    converted = convert_lightgbm(
        exact, initial_types=[(INPUT_NAME, FloatTensorType([None, len(names)]))], zipmap=False
    )
    return _probability_graph(converted, names).SerializeToString()


def has_categorical_splits(booster: lightgbm.Booster) -> bool:
    """Whether any tree of ``booster`` splits on a set of categories."""
    return any(int(d) & _CATEGORICAL_MASK
               for line in booster.model_to_string().split("\n") if line.startswith("decision_type=")
               for d in line.removeprefix("decision_type=").split())


def _probability_graph(converted: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """Keep only the tree ensemble and pick column 1 of its probabilities.

    The converter also emits a label output and Identity/Cast nodes plus a Mul by the constant 1 (its
    stand-in for ZipMap, onnxmltools 1.16); serving needs none of them, and every node costs time per
    call. Should a converter version put real arithmetic there, the parity gate fails the export.
    """
    ensembles = [n for n in converted.graph.node if n.op_type == "TreeEnsembleClassifier"]
    if len(ensembles) != 1:
        raise ModelError(f"expected one TreeEnsembleClassifier in the converted model, got {len(ensembles)}")
    ensemble = ensembles[0]
    probabilities = ensemble.output[1]
    pick = helper.make_node("Gather", [probabilities, "class_one"], [OUTPUT_NAME], axis=1)
    graph = helper.make_graph(
        [ensemble, pick],
        "portrisk",
        inputs=[helper.make_tensor_value_info(INPUT_NAME, onnx.TensorProto.FLOAT, [None, len(names)])],
        outputs=[helper.make_tensor_value_info(OUTPUT_NAME, onnx.TensorProto.FLOAT, [None])],
        initializer=[helper.make_tensor("class_one", onnx.TensorProto.INT64, [], [1])],
    )
    model = helper.make_model(graph, opset_imports=list(converted.opset_import), producer_name="portrisk")
    model.ir_version = converted.ir_version
    return _checked(_with_feature_names(model, names))


def _with_feature_names(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """``model`` with the feature names and their hash in its metadata (checked by the scoring session)."""
    helper.set_model_props(model, {"feature_names": json.dumps(names), "feature_hash": feature_hash(names)})
    return model


def _checked(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"exported ONNX model is invalid: {exc}") from exc
    return model


def export_with_gate(
    booster: lightgbm.Booster,
    feature_names: Sequence[str],
    X_eval: np.ndarray | None = None,
    threshold: float | None = None,
    *,
    n_rows: int = 10_000,
    tol: float = 1e-5,
    seed: int = 0,
) -> tuple[bytes, ParityReport]:
    """Export and check parity; return the ONNX bytes and the report, or raise ParityError.

    The report belongs on the model card (``ParityReport.to_dict``), so a published model always says
    how closely its ONNX form was shown to follow the LightGBM model.
    """
    onnx_bytes = export_onnx(booster, feature_names)
    report = parity_check(booster, onnx_bytes, X_eval, threshold, n_rows=n_rows, tol=tol, seed=seed)
    raise_unless_passed(report)
    return onnx_bytes, report


def raise_unless_passed(report: ParityReport) -> None:
    """Raise ParityError describing ``report`` unless it passed."""
    if report.passed:
        return
    worst = max(report.max_delta_by_kind.items(), key=lambda kv: kv[1], default=("?", report.max_abs_delta))
    raise ParityError(
        f"ONNX export disagrees with LightGBM: max |delta| {report.max_abs_delta:.3g} > tolerance "
        f"{report.tol:g} over {report.rows_checked} rows (worst on {worst[0]} rows); "
        f"decision flips at threshold {report.threshold}: {report.decision_flips} "
        f"of {report.n_eval_rows} evaluation rows"
    )
