"""Concept drift: how the price of a square foot moved, and how far the champion's error grew.

Both checks need labelled sales (Sale_Price), so they run on the recent accepted batches, never
on the API's requests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

PRICE_COLUMN = "Sale_Price"
LIVING_AREA_COLUMN = "Gr_Liv_Area"


@dataclass(frozen=True)
class PricePerSqftShift:
    """Median sale price per square foot of living area, in US dollars, on both sides."""

    reference_median_usd: float
    current_median_usd: float
    reference_rows: int
    current_rows: int

    @property
    def shift(self) -> float:
        """Return the relative change of the current median from the reference's (0.1 = +10 %)."""
        return self.current_median_usd / self.reference_median_usd - 1.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "shift": self.shift}


@dataclass(frozen=True)
class ChampionError:
    """The champion's error on recent labelled sales against its error on its own holdout."""

    metric: str
    holdout_value: float
    recent_value: float
    recent_rows: int

    @property
    def ratio(self) -> float:
        return self.recent_value / self.holdout_value

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def price_per_sqft(sales: pd.DataFrame) -> pd.Series:
    """Return Sale_Price / Gr_Liv_Area of the rows where both are positive numbers."""
    price = pd.to_numeric(sales[PRICE_COLUMN], errors="coerce")
    area = pd.to_numeric(sales[LIVING_AREA_COLUMN], errors="coerce")
    usable = (price > 0) & (area > 0)
    return (price[usable] / area[usable]).astype("float64")


def price_per_sqft_shift(reference: pd.DataFrame, current: pd.DataFrame) -> PricePerSqftShift:
    """Compare the median price per square foot of two sets of sales.

    Raises ValueError when either side has no sale with a positive price and living area.
    """
    reference_values = price_per_sqft(reference)
    current_values = price_per_sqft(current)
    if reference_values.empty or current_values.empty:
        raise ValueError(
            "price per square foot needs sales with Sale_Price > 0 and Gr_Liv_Area > 0 on "
            f"both sides: reference has {len(reference_values)}, current has "
            f"{len(current_values)}"
        )
    result = PricePerSqftShift(
        reference_median_usd=float(np.median(reference_values)),
        current_median_usd=float(np.median(current_values)),
        reference_rows=len(reference_values),
        current_rows=len(current_values),
    )
    logger.info(
        "median price per sqft: reference $%.2f, current $%.2f (%+.1f %%)",
        result.reference_median_usd,
        result.current_median_usd,
        100 * result.shift,
    )
    return result


def champion_error(
    onnx_bytes: bytes,
    recent: pd.DataFrame,
    *,
    metric: str,
    holdout_metrics: Mapping[str, float],
) -> ChampionError:
    """Score the champion's ONNX model on recent labelled sales and compare with its holdout.

    Raises KeyError when the holdout metrics lack `metric`, and ValueError when the
    holdout value is not positive.
    """
    # Imported here: onnxruntime is needed only when there are recent labelled sales.
    from mhpe.pipeline.scoring import score_model

    if metric not in holdout_metrics:
        raise KeyError(
            f"the champion's manifest records no holdout {metric}; it records "
            f"{sorted(holdout_metrics)}"
        )
    holdout_value = float(holdout_metrics[metric])
    if not holdout_value > 0:
        raise ValueError(f"the champion's holdout {metric} is {holdout_value}; it must be > 0")

    recent_metrics = score_model(onnx_bytes, recent)
    result = ChampionError(metric, holdout_value, float(recent_metrics[metric]), len(recent))
    logger.info(
        "champion %s: %.4f on %d recent sales, %.4f on its holdout (x%.2f)",
        metric,
        result.recent_value,
        result.recent_rows,
        result.holdout_value,
        result.ratio,
    )
    return result
