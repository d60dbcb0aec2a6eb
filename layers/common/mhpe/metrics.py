"""Regression metrics of predicted sale prices, all computed on prices in US dollars."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

METRIC_NAMES = ("rmse_usd", "mae_usd", "rmse_log", "mape_pct", "r2")


def _validated_prices(y_true_usd: ArrayLike, y_pred_usd: ArrayLike) -> tuple[np.ndarray, ...]:
    actual = np.asarray(y_true_usd, dtype=np.float64).reshape(-1)
    predicted = np.asarray(y_pred_usd, dtype=np.float64).reshape(-1)
    if len(actual) != len(predicted):
        raise ValueError(
            f"metrics need one prediction per sale: {len(actual)} actual prices, "
            f"{len(predicted)} predictions"
        )
    if len(actual) == 0:
        raise ValueError("metrics need at least one sale, got none")
    for label, values in (("actual", actual), ("predicted", predicted)):
        bad = ~np.isfinite(values) | (values <= 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{label} prices must be finite and > 0: {int(bad.sum())} are not, "
                f"the first at row {row} ({values[row]!r})"
            )
    return actual, predicted


def rmse_log(y_true_usd: ArrayLike, y_pred_usd: ArrayLike) -> float:
    """Root mean squared error of the natural log of the prices."""
    actual, predicted = _validated_prices(y_true_usd, y_pred_usd)
    return float(np.sqrt(np.mean((np.log(predicted) - np.log(actual)) ** 2)))


def regression_metrics(y_true_usd: ArrayLike, y_pred_usd: ArrayLike) -> dict[str, float]:
    """Compute RMSE and MAE in dollars, RMSE of log price, MAPE in percent and R².

    R² is computed on dollars: 1 - SSE / SST around the mean actual price. It is -inf
    when every actual price is the same and a prediction misses it, and 1.0 when all
    predictions hit such a constant.
    """
    actual, predicted = _validated_prices(y_true_usd, y_pred_usd)
    errors = predicted - actual

    squared_total = float(np.sum((actual - actual.mean()) ** 2))
    squared_error = float(np.sum(errors**2))
    if squared_total > 0:
        r2 = 1.0 - squared_error / squared_total
    else:
        r2 = 1.0 if squared_error == 0 else float("-inf")

    return {
        "rmse_usd": float(np.sqrt(np.mean(errors**2))),
        "mae_usd": float(np.mean(np.abs(errors))),
        "rmse_log": float(np.sqrt(np.mean((np.log(predicted) - np.log(actual)) ** 2))),
        "mape_pct": float(100.0 * np.mean(np.abs(errors) / actual)),
        "r2": r2,
    }
