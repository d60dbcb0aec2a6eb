"""Random forest on unscaled float32 features and one-hot categories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline

from mhpe.strategies.base import Strategy
from mhpe.strategies.preprocessing import tree_preprocessor


class RandomForestStrategy(Strategy):
    name: ClassVar[str] = "random_forest"
    param_names: ClassVar[tuple[str, ...]] = (
        "n_estimators",
        "max_features",
        "min_samples_leaf",
        "max_depth",
        "n_jobs",
        "random_state",
    )

    def build_pipeline(self, params: Mapping[str, Any]) -> Pipeline:
        forest = RandomForestRegressor(
            n_estimators=int(params["n_estimators"]),
            max_features=params["max_features"],
            min_samples_leaf=int(params["min_samples_leaf"]),
            max_depth=params["max_depth"],
            n_jobs=params["n_jobs"],
            random_state=params["random_state"],
        )
        return Pipeline([("preprocess", tree_preprocessor()), ("forest", forest)])
