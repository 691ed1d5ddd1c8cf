"""The serving model: one onnxruntime session per process, loaded from a model artifact.

onnxruntime is the only serving dependency here; LightGBM stays on the training side (and in
:mod:`scoring.reasons`, which only runs for flagged containers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from portrisk.errors import ModelError
from scoring.card import ONNX_FILE, ModelCard, load_card
from scoring.feature_hash import describe_difference, feature_hash


class ScoringSession:
    """P(illicit) for feature vectors, from a model whose features were checked against ours at load."""

    def __init__(self, session: ort.InferenceSession, card: ModelCard) -> None:
        """Wrap a ready session; use :meth:`load`, which performs the checks this constructor assumes."""
        self._session = session
        self._card = card
        self._n_features = len(card.feature_names)
        self._input_name = session.get_inputs()[0].name
        self._output_names = [session.get_outputs()[0].name]  # looked up once, not per call
        self._run = session.run
        self._one = np.empty((1, self._n_features), dtype=np.float32)  # reused by score_one

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        expected_feature_names: Sequence[str],
        *,
        intra_op_num_threads: int = 1,
        allow_spinning: bool = False,
    ) -> ScoringSession:
        """Load the artifact in ``model_dir`` for a worker whose features are ``expected_feature_names``.

        Raises ModelError, with "expected X, got Y" details, if the card's feature names or hash differ
        from ours, if ``model.onnx`` does not match the checksum or feature hash on the card, or if the
        model's input and output are not ``float32 [n, n_features]`` and ``[n]``.

        One intra-op thread and sequential execution suit a worker that runs one process per core; a
        thread pool pays off only for large batches. ``allow_spinning`` keeps idle pool threads
        busy-waiting, which lowers latency but takes CPU from the other processes on the machine.
        """
        card = load_card(model_dir)
        expected = list(expected_feature_names)
        difference = describe_difference(expected, card.feature_names)
        if difference:
            raise ModelError(
                f"model {card.version} does not fit our features: feature hash expected "
                f"{feature_hash(expected)}, got {card.feature_hash}; {difference}"
            )
        onnx_path = Path(model_dir) / ONNX_FILE
        try:
            onnx_bytes = onnx_path.read_bytes()
        except OSError as exc:
            raise ModelError(f"model {card.version}: cannot read {onnx_path}: {exc}") from exc
        checksum = hashlib.sha256(onnx_bytes).hexdigest()
        if card.files.get(ONNX_FILE) != checksum:
            raise ModelError(
                f"model {card.version}: {ONNX_FILE} checksum expected {card.files.get(ONNX_FILE)}, "
                f"got {checksum} (the file does not belong to this card)"
            )

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_num_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
        options.log_severity_level = 3  # warnings about unused initializers etc. are noise in a worker
        try:
            session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's error types are not part of its public API
            raise ModelError(f"model {card.version}: onnxruntime cannot load {onnx_path}: {exc}") from exc
        _check_signature(session, card)
        return cls(session, card)

    @property
    def card(self) -> ModelCard:
        """The artifact's model card."""
        return self._card

    @property
    def version(self) -> str:
        """The model version from the card."""
        return self._card.version

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The features the model takes, in column order."""
        return self._card.feature_names

    def score_batch(self, X: np.ndarray) -> np.ndarray:
        """P(illicit) as float32 [n] for float32 rows ``X`` [n, n_features]; NaN marks a missing value.

        Float32 C-contiguous input is passed through without a copy; anything else is converted once.
        """
        if X.dtype != np.float32 or not X.flags.c_contiguous:
            X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self._n_features:
            raise ValueError(f"expected rows of shape [n, {self._n_features}], got {X.shape}")
        if X.shape[0] == 0:
            return np.empty(0, dtype=np.float32)
        result: np.ndarray = self._run(self._output_names, {self._input_name: X})[0]
        return result

    def score_one(self, x: np.ndarray | Sequence[float]) -> float:
        """P(illicit) for one feature vector of length n_features.

        Copies into a buffer owned by the session, so concurrent calls from several threads on one
        session must not happen (the worker scores from a single thread per process).
        """
        self._one[0] = x  # casts into the reused buffer; ValueError on a wrong length
        return float(self._run(self._output_names, {self._input_name: self._one})[0][0])


def _check_signature(session: ort.InferenceSession, card: ModelCard) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(
            f"model {card.version}: expected 1 input and 1 output, got {len(inputs)} and {len(outputs)}"
        )
    n_features = len(card.feature_names)
    shape = inputs[0].shape
    if inputs[0].type != "tensor(float)" or len(shape) != 2 or shape[1] != n_features:
        raise ModelError(
            f"model {card.version}: expected input float32 [n, {n_features}], got {inputs[0].type} {shape}"
        )
    if outputs[0].type != "tensor(float)" or len(outputs[0].shape) != 1:
        raise ModelError(
            f"model {card.version}: expected output float32 [n], got {outputs[0].type} {outputs[0].shape}"
        )
    onnx_hash = session.get_modelmeta().custom_metadata_map.get("feature_hash")
    if onnx_hash != card.feature_hash:
        raise ModelError(
            f"model {card.version}: feature hash expected {card.feature_hash} (card), "
            f"got {onnx_hash} (model.onnx metadata)"
        )
