"""Histogram gradient boosting on unscaled float32 features and one-hot categories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from mhpe.strategies.base import Strategy
from mhpe.strategies.preprocessing import tree_preprocessor


class HistGradientBoostingStrategy(Strategy):
    name: ClassVar[str] = "hist_gradient_boosting"
    param_names: ClassVar[tuple[str, ...]] = (
        "learning_rate",
        "max_iter",
        "max_leaf_nodes",
        "min_samples_leaf",
        "l2_regularization",
        "random_state",
    )

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
        return Pipeline([("preprocess", tree_preprocessor()), ("boosting", boosting)])
