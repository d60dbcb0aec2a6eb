"""Weighted average of other strategies' log-price predictions, exported as one graph.

The native model is a scikit-learn VotingRegressor. In ONNX, each component's graph is
embedded under a name prefix and reads the shared inputs, and Mul and Sum nodes average
the log prices with the same normalised weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import onnx
from sklearn.ensemble import VotingRegressor
from sklearn.pipeline import Pipeline

from mhpe import onnx_export
from mhpe.strategies.base import Strategy

if TYPE_CHECKING:
    import pandas as pd

COMPONENT_SEPARATOR = "__"


class BlendStrategy(Strategy):
    """Blend of component strategies.

    Parameters: `components` (strategy names), `weights` (one non-negative number per
    component) and `<component>__<parameter>` for every parameter of every component,
    e.g. `ridge__alpha`.
    """

    name: ClassVar[str] = "blend"
    param_names: ClassVar[tuple[str, ...]] = ("components", "weights")

    def __init__(self, registry: Mapping[str, Strategy]) -> None:
        self._registry = registry

    def _component(self, name: str) -> Strategy:
        if name == self.name or name not in self._registry:
            known = sorted(set(self._registry) - {self.name})
            raise ValueError(f"blend component {name!r} is not a strategy; known: {known}")
        return self._registry[name]

    def resolve_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        missing = [key for key in self.param_names if key not in params]
        if missing:
            raise ValueError(f"strategy 'blend' needs a value for parameter(s) {missing}")
        components = list(params["components"])
        weights = [float(weight) for weight in params["weights"]]
        if not components or len(weights) != len(components):
            raise ValueError(
                f"blend needs one weight per component: components {components}, weights {weights}"
            )
        if any(weight < 0 for weight in weights) or sum(weights) <= 0:
            raise ValueError(f"blend weights {weights} must be >= 0 with a positive sum")
        for component in components:
            self._component(component)

        for key in params:
            component, separator, _ = key.partition(COMPONENT_SEPARATOR)
            if key not in self.param_names and (not separator or component not in components):
                raise ValueError(
                    f"blend parameter {key!r} is not 'components', 'weights' or "
                    f"'<component>{COMPONENT_SEPARATOR}<parameter>' with a component "
                    f"in {components}"
                )
        for component in components:
            self._component(component).resolve_params(self._component_params(params, component))
        return dict(params)

    def _component_params(self, params: Mapping[str, Any], component: str) -> dict[str, Any]:
        prefix = component + COMPONENT_SEPARATOR
        return {
            key[len(prefix) :]: value for key, value in params.items() if key.startswith(prefix)
        }

    def build_pipeline(self, params: Mapping[str, Any]) -> Pipeline:
        estimators = []
        for component in params["components"]:
            strategy = self._component(component)
            component_params = self._component_params(params, component)
            estimators.append((component, strategy.build_pipeline(component_params)))
        voting = VotingRegressor(estimators, weights=[float(w) for w in params["weights"]])
        return Pipeline([("blend", voting)])

    def log_price_graph(self, pipeline: Any, sample_frame: pd.DataFrame) -> onnx.ModelProto:
        voting: VotingRegressor = pipeline.named_steps["blend"]
        names = [name for name, _ in voting.estimators]
        graphs = [
            self._component(name).log_price_graph(fitted, sample_frame)
            for name, fitted in zip(names, voting.estimators_, strict=True)
        ]
        return onnx_export.blend_log_price_graphs(
            graphs, voting.weights, prefixes=[f"{name}_" for name in names]
        )
