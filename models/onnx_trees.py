"""LightGBM trees as ONNX's ``TreeEnsemble`` (``ai.onnx.ml`` opset 5), for models with categorical splits.

onnxmltools writes LightGBM models as ``TreeEnsembleClassifier`` (opset 1-3), which has no set
membership: a split "category in {a, b, c}" becomes a chain of equality nodes, each with its own copy of
the subtree below, so a model that splits on the segment codes (:mod:`features.segments`) grows from
1,206 decision nodes to 5,679 (the default model; 2,613 nodes in all against 7,086) and batched scoring
slows twofold (docs/model-findings.md).
Opset 5's ``TreeEnsemble`` has a ``BRANCH_MEMBER`` mode with the set in ``membership_values``, so every
LightGBM split stays one node and every subtree one copy.

The conversion reads the text model as LightGBM dumps it and maps each split one to one:

- numerical ``x <= threshold`` -> ``BRANCH_LEQ`` with the float32 threshold (the caller passes the
  float32-exact copy of :func:`models.export.float32_exact_model`, whose thresholds survive the cast);
  NaN goes where LightGBM sends it: ``default_left`` for ``missing_type=NaN``, and for
  ``missing_type=None`` (LightGBM reads NaN as 0.0) left exactly when ``0.0 <= threshold``;
- categorical ``x in {...}`` -> ``BRANCH_MEMBER``; NaN is never a member and goes right, as in LightGBM;
- leaves -> leaf weights of the single target, summed; a sigmoid turns the sum into P(illicit).

Codes outside a categorical feature's domain (fractions, negatives) are not comparable between the two
runtimes — LightGBM truncates 3.7 to category 3 — and are never fed by the worker; the parity gate
(:mod:`models.parity`) checks the result on codes, unseen codes and NaN like any other export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm
import numpy as np
import onnx
from onnx import helper, numpy_helper

from portrisk.errors import ModelError

BRANCH_LEQ, BRANCH_MEMBER = 0, 6
AGGREGATE_SUM, POST_TRANSFORM_NONE = 1, 0
ML_OPSET, CORE_OPSET, IR_VERSION = 5, 21, 10


@dataclass
class _Nodes:
    """The interior nodes and leaves of every tree, in the columnar form of ``TreeEnsemble``."""

    feature: list[int] = field(default_factory=list)
    split: list[float] = field(default_factory=list)
    mode: list[int] = field(default_factory=list)
    true_id: list[int] = field(default_factory=list)
    false_id: list[int] = field(default_factory=list)
    true_leaf: list[int] = field(default_factory=list)
    false_leaf: list[int] = field(default_factory=list)
    missing_true: list[int] = field(default_factory=list)
    members: list[float] = field(default_factory=list)  # every BRANCH_MEMBER node's set, each ended by NaN
    leaf_weight: list[float] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)

    def add_tree(self, root: dict[str, Any]) -> None:
        index, is_leaf = self._visit(root)
        if is_leaf:  # a tree of one leaf: an interior node whose both branches end in it
            leaf = (index, True)
            index = self._node(feature=0, split=np.inf, mode=BRANCH_LEQ, missing_true=1)
            self._link(index, leaf, leaf)
        self.roots.append(index)

    def _visit(self, node: dict[str, Any]) -> tuple[int, bool]:
        if "leaf_value" in node:
            self.leaf_weight.append(float(node["leaf_value"]))
            return len(self.leaf_weight) - 1, True
        if node["decision_type"] == "==":
            index = self._node(feature=node["split_feature"], split=0.0, mode=BRANCH_MEMBER, missing_true=0)
            self.members.extend(float(c) for c in str(node["threshold"]).split("||"))
            self.members.append(float("nan"))
        elif node["decision_type"] == "<=":
            threshold = float(node["threshold"])
            missing = node.get("missing_type", "None")
            if missing == "NaN":
                goes_left = bool(node.get("default_left", True))
            elif missing == "None":
                goes_left = threshold >= 0.0  # NaN is read as 0.0
            else:  # "Zero": refused earlier by float32_exact_model; kept as a guard
                raise ModelError(f"LightGBM missing_type {missing!r} has no ONNX equivalent")
            index = self._node(feature=node["split_feature"], split=threshold, mode=BRANCH_LEQ,
                               missing_true=int(goes_left))
        else:
            raise ModelError(f"unknown LightGBM decision_type {node['decision_type']!r}")
        self._link(index, self._visit(node["left_child"]), self._visit(node["right_child"]))
        return index, False

    def _node(self, *, feature: int, split: float, mode: int, missing_true: int) -> int:
        self.feature.append(int(feature))
        self.split.append(split)
        self.mode.append(mode)
        self.missing_true.append(missing_true)
        for column in (self.true_id, self.false_id, self.true_leaf, self.false_leaf):
            column.append(0)
        return len(self.feature) - 1

    def _link(self, index: int, left: tuple[int, bool], right: tuple[int, bool]) -> None:
        self.true_id[index], self.true_leaf[index] = left[0], int(left[1])
        self.false_id[index], self.false_leaf[index] = right[0], int(right[1])


def tree_ensemble_graph(booster: lightgbm.Booster, n_features: int, input_name: str,
                        output_name: str) -> onnx.GraphProto:
    """A graph from float32 ``input_name`` [n, n_features] to P(class 1) ``output_name`` [n], float32.

    ``booster`` is a binary LightGBM model whose numerical thresholds are float32-exact.
    """
    nodes = _Nodes()
    for tree in booster.dump_model()["tree_info"]:
        nodes.add_tree(tree["tree_structure"])
    tensors = {
        "nodes_modes": numpy_helper.from_array(np.array(nodes.mode, dtype=np.uint8)),
        "nodes_splits": numpy_helper.from_array(np.array(nodes.split, dtype=np.float32)),
        "leaf_weights": numpy_helper.from_array(np.array(nodes.leaf_weight, dtype=np.float32)),
    }
    if nodes.members:
        tensors["membership_values"] = numpy_helper.from_array(np.array(nodes.members, dtype=np.float32))
    ensemble = helper.make_node(
        "TreeEnsemble", [input_name], ["raw_score"], domain="ai.onnx.ml",
        n_targets=1, aggregate_function=AGGREGATE_SUM, post_transform=POST_TRANSFORM_NONE,
        tree_roots=nodes.roots, nodes_featureids=nodes.feature, nodes_truenodeids=nodes.true_id,
        nodes_falsenodeids=nodes.false_id, nodes_trueleafs=nodes.true_leaf, nodes_falseleafs=nodes.false_leaf,
        nodes_missing_value_tracks_true=nodes.missing_true, leaf_targetids=[0] * len(nodes.leaf_weight),
        **tensors,
    )
    return helper.make_graph(
        [ensemble,
         helper.make_node("Sigmoid", ["raw_score"], ["probability"]),
         helper.make_node("Reshape", ["probability", "flat"], [output_name])],
        "portrisk",
        inputs=[helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, [None, n_features])],
        outputs=[helper.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, [None])],
        initializer=[helper.make_tensor("flat", onnx.TensorProto.INT64, [1], [-1])],
    )


def tree_ensemble_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    """The model around :func:`tree_ensemble_graph`'s graph, with the opsets it needs."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", CORE_OPSET),
                                                    helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
                              producer_name="portrisk")
    model.ir_version = IR_VERSION
    return model

