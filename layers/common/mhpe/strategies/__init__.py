"""Model strategies by name: ridge, random_forest, hist_gradient_boosting, mlp, blend."""

from __future__ import annotations

from mhpe.strategies.base import Strategy
from mhpe.strategies.blend import BlendStrategy
from mhpe.strategies.hist_gradient_boosting import HistGradientBoostingStrategy
from mhpe.strategies.mlp import MLPStrategy
from mhpe.strategies.random_forest import RandomForestStrategy
from mhpe.strategies.ridge import RidgeStrategy

STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        RidgeStrategy(),
        RandomForestStrategy(),
        HistGradientBoostingStrategy(),
        MLPStrategy(),
    )
}
STRATEGIES[BlendStrategy.name] = BlendStrategy(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """Return the strategy registered under `name`; raise KeyError listing the known ones."""
    if name not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}; known strategies: {sorted(STRATEGIES)}")
    return STRATEGIES[name]


__all__ = ["STRATEGIES", "Strategy", "get_strategy"]
