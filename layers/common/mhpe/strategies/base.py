"""The interface that every model strategy implements.

A strategy builds a scikit-learn pipeline that predicts the natural log of Sale_Price from
a model frame (`mhpe.features.model_frame`). `build_estimator` wraps it so that the fitted
estimator predicts dollars, and `to_onnx` exports that as one graph from raw inputs to
dollars.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import onnx
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline

from mhpe import onnx_export

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


class Strategy(ABC):
    """A family of regression models with a parameter grid and an ONNX export."""

    name: ClassVar[str]
    # Parameters that build_pipeline needs. Their values come only from the grids of
    # config/model.yaml, so no hyperparameter value lives in the code.
    param_names: ClassVar[tuple[str, ...]]

    @abstractmethod
    def build_pipeline(self, params: Mapping[str, Any]) -> Pipeline:
        """Build an unfitted pipeline that predicts log price from a model frame."""

    def log_price_graph(self, pipeline: Any, sample_frame: pd.DataFrame) -> onnx.ModelProto:
        """Convert the fitted log-price pipeline to ONNX, with model-frame columns as inputs."""
        return onnx_export.convert_log_price_pipeline(pipeline, sample_frame)

    def resolve_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check that `params` sets exactly `param_names`; raise ValueError naming the gap."""
        unknown = sorted(set(params) - set(self.param_names))
        if unknown:
            raise ValueError(
                f"strategy {self.name!r} has no parameter(s) {unknown}; "
                f"accepted: {sorted(self.param_names)}"
            )
        missing = sorted(set(self.param_names) - set(params))
        if missing:
            raise ValueError(
                f"strategy {self.name!r} needs a value for parameter(s) {missing}; "
                "add them to its grid in config/model.yaml"
            )
        return dict(params)

    def param_grid(self, grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
        """Expand a grid (parameter -> candidate values) into validated parameter sets."""
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(
                    f"grid of strategy {self.name!r}: {key!r} must be a non-empty list of "
                    f"candidate values, got {values!r}"
                )
        candidates = [dict(candidate) for candidate in ParameterGrid(dict(grid))]
        for candidate in candidates:
            self.resolve_params(candidate)
        return candidates

    def build_estimator(self, params: Mapping[str, Any]) -> TransformedTargetRegressor:
        """Build the unfitted estimator: the pipeline on log(price), predictions in dollars."""
        return TransformedTargetRegressor(
            regressor=self.build_pipeline(self.resolve_params(params)),
            func=np.log,
            inverse_func=np.exp,
            check_inverse=False,
        )

    def to_onnx(self, fitted: TransformedTargetRegressor, sample_X: pd.DataFrame) -> bytes:
        """Export a fitted estimator to ONNX bytes: raw input columns in, price_usd out.

        `sample_X` is a model frame (a few rows suffice); it fixes the input types.
        """
        log_model = self.log_price_graph(fitted.regressor_, sample_X)
        model = onnx_export.finalize_price_graph(log_model)
        logger.info("exported strategy %s to ONNX: %d nodes", self.name, len(model.graph.node))
        return model.SerializeToString()
