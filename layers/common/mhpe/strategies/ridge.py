"""Ridge regression on standardised numeric features and one-hot categories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from mhpe.strategies.base import Strategy
from mhpe.strategies.preprocessing import scaled_preprocessor


class RidgeStrategy(Strategy):
    name: ClassVar[str] = "ridge"
    param_names: ClassVar[tuple[str, ...]] = ("alpha",)

    def build_pipeline(self, params: Mapping[str, Any]) -> Pipeline:
        return Pipeline(
            [
                ("preprocess", scaled_preprocessor()),
                ("ridge", Ridge(alpha=float(params["alpha"]))),
            ]
        )
