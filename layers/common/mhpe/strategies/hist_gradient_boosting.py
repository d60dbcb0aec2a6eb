"""Histogram gradient boosting on unscaled float32 features and one-hot categories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import onnx
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from mhpe import onnx_export
from mhpe.strategies.area_target import TARGET_KINDS, PerAreaTarget, add_offset_to_log_price
from mhpe.strategies.base import Strategy
from mhpe.strategies.preprocessing import tree_preprocessor

if TYPE_CHECKING:
    import pandas as pd


class HistGradientBoostingStrategy(Strategy):
    """Boosted trees; `target` is `log_price` or `log_price_per_sqft` (see area_target)."""

    name: ClassVar[str] = "hist_gradient_boosting"
    param_names: ClassVar[tuple[str, ...]] = (
        "learning_rate",
        "max_iter",
        "max_leaf_nodes",
        "min_samples_leaf",
        "l2_regularization",
        "random_state",
        "target",
    )

    def resolve_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        resolved = super().resolve_params(params)
        if resolved["target"] not in TARGET_KINDS:
            raise ValueError(
                f"strategy {self.name!r}: target {resolved['target']!r} is not one of "
                f"{list(TARGET_KINDS)}"
            )
        return resolved

    def build_pipeline(self, params: Mapping[str, Any]) -> Pipeline:
        # Early stopping is off so that max_iter is the number of trees: with it on, a
        # random validation split would decide, and the CV would tune something else.
        boosting = HistGradientBoostingRegressor(
            learning_rate=float(params["learning_rate"]),
            max_iter=int(params["max_iter"]),
            max_leaf_nodes=int(params["max_leaf_nodes"]),
            min_samples_leaf=int(params["min_samples_leaf"]),
            l2_regularization=float(params["l2_regularization"]),
            early_stopping=False,
            random_state=params["random_state"],
        )
        trees = Pipeline([("preprocess", tree_preprocessor()), ("boosting", boosting)])
        if params["target"] == "log_price_per_sqft":
            return Pipeline([("per_area", PerAreaTarget(trees))])
        return trees

    def log_price_graph(self, pipeline: Any, sample_frame: pd.DataFrame) -> onnx.ModelProto:
        if "per_area" not in pipeline.named_steps:
            return super().log_price_graph(pipeline, sample_frame)
        per_area: PerAreaTarget = pipeline.named_steps["per_area"]
        graph = onnx_export.convert_log_price_pipeline(per_area.regressor_, sample_frame)
        return add_offset_to_log_price(graph, per_area.offset_column, per_area.fallback_column)
