"""ONNX export of fitted price models, and the parity check against the native model.

Every exported model has the same contract, so serving needs only onnxruntime and numpy:

- one input per column of `mhpe.features.INPUT_COLUMNS`, shape (n, 1), float32 for numeric
  columns and string for categorical ones (`mhpe.features.onnx_feeds` builds them);
- one output, `price_usd`, float32, shape (n, 1): the sale price in US dollars.

Inside the graph, the derived features are computed from the inputs (the ONNX backend of
`mhpe.features.derive_with`), the fitted pipeline predicts the log of the price, and a final
Exp node turns it into dollars.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import onnx.compose
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from skl2onnx.operator_converters.random_forest import (
    convert_sklearn_random_forest_regressor_converter,
)
from skl2onnx.shape_calculators.ensemble_shapes import calculate_linear_regressor_output_shapes
from sklearn.ensemble import HistGradientBoostingRegressor

from mhpe.exceptions import MhpeError
from mhpe.features import (
    DERIVED_FEATURES,
    INPUT_COLUMNS,
    OrdinalScale,
    derive_with,
    model_frame,
    onnx_feeds,
)

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

OUTPUT_NAME = "price_usd"
ML_DOMAIN = "ai.onnx.ml"
# One opset for every graph, because merged graphs must agree: skl2onnx 1.20 and
# torch.onnx.export(dynamo=False) in torch 2.13 both emit opset 17, and onnxruntime 1.31
# runs it. IR version 8 is the one that goes with opset 17.
TARGET_OPSET: dict[str, int] = {"": 17, ML_DOMAIN: 3}
IR_VERSION = 8
PARITY_TOLERANCE = 1e-4


class ParityError(MhpeError):
    """The ONNX model's prices differ from the native model's beyond the tolerance."""

    def __init__(
        self,
        max_relative_difference: float,
        row: int,
        native_price_usd: float,
        onnx_price_usd: float,
        tolerance: float,
    ) -> None:
        self.max_relative_difference = max_relative_difference
        self.row = row
        self.native_price_usd = native_price_usd
        self.onnx_price_usd = onnx_price_usd
        self.tolerance = tolerance
        super().__init__(
            f"ONNX parity failed: max relative price difference {max_relative_difference:.3g} "
            f"exceeds {tolerance:.1g} at row {row} (native ${native_price_usd:,.2f}, "
            f"ONNX ${onnx_price_usd:,.2f}); do not promote this model"
        )


@dataclass(frozen=True)
class ParityReport:
    """Outcome of a parity check that passed."""

    rows: int
    max_relative_difference: float
    worst_row: int
    tolerance: float


# NOTE: skl2onnx 1.20 with onnx 1.23 cannot convert HistGradientBoostingRegressor: the
# converter gives leaves nodes_missing_value_tracks_true=False, a Python bool, and onnx
# 1.23's make_attribute rejects a bool in an integer list ("Expected an int, got a
# boolean"). The wrapper below casts that list to int; drop it once a release fixes this.
class _IntMissingTracksContainer:
    """Container proxy that passes nodes_missing_value_tracks_true as ints."""

    def __init__(self, container: Any) -> None:
        self._container = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def add_node(self, op_type: str, inputs: Any, outputs: Any, **attrs: Any) -> Any:
        tracks = attrs.get("nodes_missing_value_tracks_true")
        if tracks is not None:
            attrs["nodes_missing_value_tracks_true"] = [int(value) for value in tracks]
        return self._container.add_node(op_type, inputs, outputs, **attrs)


def _with_float32_thresholds(
    model: HistGradientBoostingRegressor,
) -> HistGradientBoostingRegressor:
    """Copy a fitted model with each split threshold rounded down to a float32 value.

    The float64 thresholds are midpoints between training values, and skl2onnx 1.20 casts
    them to the nearest float32, which can round up onto a training value and send it the
    other way. For a float32 input x, x <= t is true exactly when x <= the largest float32
    not above t, so rounding down keeps every decision and scikit-learn's predictions on
    float32 inputs. It reads the private `_predictors` node arrays of scikit-learn 1.7.
    """
    adjusted = copy.deepcopy(model)
    for predictors in adjusted._predictors:
        for predictor in predictors:
            nodes = predictor.nodes
            split = nodes["is_leaf"] == 0
            thresholds = nodes["num_threshold"][split]
            rounded = thresholds.astype(np.float32)
            above = rounded.astype(np.float64) > thresholds
            rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
            nodes["num_threshold"][split] = rounded.astype(np.float64)
    return adjusted


HGB_ALIAS = "SklearnHistGradientBoostingRegressor"


def _convert_hist_gradient_boosting(scope: Any, operator: Any, container: Any) -> None:
    original = operator.raw_operator
    operator.raw_operator = _with_float32_thresholds(original)
    try:
        convert_sklearn_random_forest_regressor_converter(
            scope, operator, _IntMissingTracksContainer(container)
        )
    finally:
        operator.raw_operator = original


def register_hist_gradient_boosting_converter(
    converter: Any = _convert_hist_gradient_boosting,
) -> None:
    """Register the converter that skl2onnx uses for HistGradientBoostingRegressor.

    Importing this module registers the fixed one; tests pass skl2onnx's own converter
    to check whether its bug is still there.
    """
    update_registered_converter(
        HistGradientBoostingRegressor,
        HGB_ALIAS,
        calculate_linear_regressor_output_shapes,
        converter,
        options={"raw_scores": [True, False]},
    )


register_hist_gradient_boosting_converter()


def initial_types(frame: pd.DataFrame) -> list[tuple[str, Any]]:
    """Return skl2onnx input types for a model frame: float32 or string, shape (n, 1)."""
    types: list[tuple[str, Any]] = []
    for name, dtype in frame.dtypes.items():
        if dtype.kind == "f":
            types.append((str(name), FloatTensorType([None, 1])))
        else:
            types.append((str(name), StringTensorType([None, 1])))
    return types


def convert_log_price_pipeline(pipeline: Any, sample_frame: pd.DataFrame) -> onnx.ModelProto:
    """Convert a fitted scikit-learn pipeline that predicts log price from a model frame."""
    model = convert_sklearn(
        pipeline,
        initial_types=initial_types(sample_frame),
        target_opset=TARGET_OPSET,
    )
    return model


class _OnnxOps:
    """Derivation backend that appends ONNX nodes and returns the output edge names."""

    def __init__(self, prefix: str = "derive_") -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._prefix = prefix
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{self._prefix}{hint}_{self._count}"

    def _node(self, op_type: str, inputs: Sequence[str], domain: str = "", **attrs: Any) -> str:
        output = self._name(op_type.lower())
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [output], name=output, domain=domain, **attrs)
        )
        return output

    def _constant(self, value: float) -> str:
        name = self._name("const")
        self.initializers.append(numpy_helper.from_array(np.array(value, np.float32), name))
        return name

    def column(self, name: str) -> str:
        return name

    def add(self, *terms: str) -> str:
        total = terms[0]
        for term in terms[1:]:
            total = self._node("Add", [total, term])
        return total

    def subtract(self, left: str, right: str) -> str:
        return self._node("Sub", [left, right])

    def multiply(self, left: str, right: str) -> str:
        return self._node("Mul", [left, right])

    def scale(self, value: str, factor: float) -> str:
        return self._node("Mul", [value, self._constant(factor)])

    def log1p(self, value: str) -> str:
        return self._node("Log", [self._node("Add", [value, self._constant(1.0)])])

    def score(self, scale: OrdinalScale) -> str:
        return self._node(
            "LabelEncoder",
            [scale.column],
            domain=ML_DOMAIN,
            keys_strings=list(scale.scores),
            values_floats=[float(value) for value in scale.scores.values()],
            default_float=float(scale.default),
        )


def _prune_unused_nodes(graph: onnx.GraphProto) -> None:
    """Remove nodes and initializers that no graph output depends on."""
    needed = {output.name for output in graph.output}
    kept: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if any(output in needed for output in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    del graph.node[:]
    graph.node.extend(reversed(kept))

    initializers = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def _set_inputs_to_raw_columns(graph: onnx.GraphProto) -> None:
    """Make the graph inputs exactly INPUT_COLUMNS, in order, with their ONNX types."""
    del graph.input[:]
    for column in INPUT_COLUMNS:
        elem_type = TensorProto.FLOAT if column.kind == "numeric" else TensorProto.STRING
        graph.input.append(helper.make_tensor_value_info(column.name, elem_type, [None, 1]))


def _derivation_nodes() -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Build nodes that compute each derived feature into an edge named after it."""
    ops = _OnnxOps()
    derived = derive_with(ops)
    identity_nodes = [
        helper.make_node("Identity", [derived[feature.name]], [feature.name])
        for feature in DERIVED_FEATURES
    ]
    return ops.nodes + identity_nodes, ops.initializers


def derivation_model() -> onnx.ModelProto:
    """Build a graph from the raw inputs to every derived feature, one output each.

    The price graphs embed the same nodes; this graph lets tests and debugging compare
    them with `mhpe.features.derive_features_numpy`.
    """
    nodes, initializers = _derivation_nodes()
    outputs = [
        helper.make_tensor_value_info(feature.name, TensorProto.FLOAT, [None, 1])
        for feature in DERIVED_FEATURES
    ]
    graph = helper.make_graph(nodes, "derived_features", [], outputs, initializer=initializers)
    _set_inputs_to_raw_columns(graph)
    model = helper.make_model(graph)
    set_opsets(model)
    onnx.checker.check_model(model, full_check=True)
    return model


def finalize_price_graph(log_model: onnx.ModelProto) -> onnx.ModelProto:
    """Turn a graph from model-frame columns to log price into raw inputs to price_usd.

    The derived-feature inputs become nodes computed from the raw inputs, the inputs are
    set to INPUT_COLUMNS in order, and an Exp node maps the single log-price output to
    `price_usd`. The result passes onnx.checker with full type checks.
    """
    graph = log_model.graph
    if len(graph.output) != 1:
        names = [output.name for output in graph.output]
        raise ValueError(f"expected one log-price output in the graph, found {names}")

    derivation_nodes, derivation_initializers = _derivation_nodes()
    existing = list(graph.node)
    del graph.node[:]
    graph.node.extend(derivation_nodes + existing)
    graph.initializer.extend(derivation_initializers)

    log_price = graph.output[0].name
    graph.node.append(helper.make_node("Exp", [log_price], [OUTPUT_NAME], name="price_exp"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, 1]))

    _set_inputs_to_raw_columns(graph)
    _prune_unused_nodes(graph)
    set_opsets(log_model)
    onnx.checker.check_model(log_model, full_check=True)
    return log_model


def set_opsets(model: onnx.ModelProto) -> None:
    """Set the model's opset imports to TARGET_OPSET and its IR version to IR_VERSION."""
    del model.opset_import[:]
    for domain, version in TARGET_OPSET.items():
        model.opset_import.append(helper.make_opsetid(domain, version))
    model.ir_version = IR_VERSION


def blend_log_price_graphs(
    models: Sequence[onnx.ModelProto], weights: Sequence[float], prefixes: Sequence[str]
) -> onnx.ModelProto:
    """Combine log-price graphs that share their inputs into their weighted average.

    `weights` are normalised to sum to 1, as scikit-learn's VotingRegressor does. Each
    graph's inner names get its prefix, and the inputs keep their names.
    """
    if not len(models) == len(weights) == len(prefixes):
        raise ValueError(
            f"blend needs one weight and one prefix per graph: {len(models)} graphs, "
            f"{len(weights)} weights, {len(prefixes)} prefixes"
        )
    total_weight = float(sum(weights))
    if total_weight <= 0:
        raise ValueError(f"blend weights {list(weights)} must have a positive sum")

    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    weighted: list[str] = []
    inputs: dict[str, onnx.ValueInfoProto] = {}
    for model, weight, prefix in zip(models, weights, prefixes, strict=True):
        graph = onnx.compose.add_prefix_graph(model.graph, prefix, rename_inputs=False)
        nodes.extend(graph.node)
        initializers.extend(graph.initializer)
        for value_info in graph.input:
            inputs.setdefault(value_info.name, value_info)

        weight_name = f"{prefix}weight"
        initializers.append(
            numpy_helper.from_array(np.array(weight / total_weight, np.float32), weight_name)
        )
        weighted_name = f"{prefix}weighted"
        nodes.append(helper.make_node("Mul", [graph.output[0].name, weight_name], [weighted_name]))
        weighted.append(weighted_name)

    nodes.append(helper.make_node("Sum", weighted, ["blend_log_price"]))
    graph = helper.make_graph(
        nodes,
        "blend",
        list(inputs.values()),
        [helper.make_tensor_value_info("blend_log_price", TensorProto.FLOAT, [None, 1])],
        initializer=initializers,
    )
    blended = helper.make_model(graph)
    set_opsets(blended)
    return blended


def predict_onnx(onnx_bytes: bytes, df: pd.DataFrame) -> np.ndarray:
    """Predict prices in dollars (float64, shape (n,)) for sales with onnxruntime."""
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (prices,) = session.run([OUTPUT_NAME], onnx_feeds(df))
    return np.asarray(prices, dtype=np.float64).reshape(-1)


def check_parity(
    fitted: Any,
    onnx_bytes: bytes,
    df: pd.DataFrame,
    tolerance: float = PARITY_TOLERANCE,
) -> ParityReport:
    """Compare ONNX and native prices on the same sales; raise ParityError beyond tolerance.

    `fitted` predicts dollars from `model_frame(df)`. The relative difference of a row is
    |onnx - native| / |native|.
    """
    if len(df) == 0:
        raise ValueError("parity check needs at least one sale, got an empty frame")

    native = np.asarray(fitted.predict(model_frame(df)), dtype=np.float64).reshape(-1)
    exported = predict_onnx(onnx_bytes, df)
    relative = np.abs(exported - native) / np.abs(native)
    if not np.all(np.isfinite(relative)):
        row = int(np.flatnonzero(~np.isfinite(relative))[0])
        raise ParityError(float("inf"), row, float(native[row]), float(exported[row]), tolerance)

    worst = int(np.argmax(relative))
    max_relative = float(relative[worst])
    if max_relative > tolerance:
        raise ParityError(
            max_relative, worst, float(native[worst]), float(exported[worst]), tolerance
        )

    logger.info(
        "ONNX parity passed on %d rows: max relative difference %.3g (tolerance %.1g)",
        len(df),
        max_relative,
        tolerance,
    )
    return ParityReport(len(df), max_relative, worst, tolerance)
