"""Concept drift: price per square foot and the champion's error on recent sales."""

from __future__ import annotations

import pandas as pd
import pytest
from mhpe.drift.concept import champion_error, price_per_sqft_shift

from tests.drift.drift_support import ames_between, saratoga_sales, trained_champion


def test_price_per_sqft_shift_measures_median_change() -> None:
    reference = pd.DataFrame({"Sale_Price": [100_000, 200_000, 300_000], "Gr_Liv_Area": [1000] * 3})
    current = reference.assign(Sale_Price=reference["Sale_Price"] * 1.2)

    shift = price_per_sqft_shift(reference, current)

    assert shift.reference_median_usd == pytest.approx(200.0)
    assert shift.current_median_usd == pytest.approx(240.0)
    assert shift.shift == pytest.approx(0.2)


def test_price_per_sqft_ignores_unusable_rows() -> None:
    reference = pd.DataFrame({"Sale_Price": [100_000, None, 50_000], "Gr_Liv_Area": [1000, 900, 0]})

    shift = price_per_sqft_shift(reference, reference)

    assert shift.reference_rows == 1


def test_price_per_sqft_rejects_side_without_usable_rows() -> None:
    empty = pd.DataFrame({"Sale_Price": [None], "Gr_Liv_Area": [1000]})

    with pytest.raises(ValueError, match="current has 0"):
        price_per_sqft_shift(ames_between("2006-01", "2006-03"), empty)


def test_real_price_per_sqft_moves_little() -> None:
    reference = ames_between("2006-01", "2007-12")

    after_crash = price_per_sqft_shift(reference, ames_between("2009-01", "2010-12"))
    saratoga = price_per_sqft_shift(reference, saratoga_sales())

    assert abs(after_crash.shift) < 0.05
    assert abs(saratoga.shift) < 0.05


def test_champion_error_grows_on_another_market() -> None:
    _, result = trained_champion()

    same_market = champion_error(
        result.onnx_bytes, ames_between("2008-09", "2009-02"),
        metric="rmse_log", holdout_metrics=result.metrics,
    )  # fmt: skip
    other_market = champion_error(
        result.onnx_bytes, saratoga_sales(), metric="rmse_log", holdout_metrics=result.metrics
    )

    assert same_market.ratio < 1.5
    assert other_market.ratio > 1.5
    assert other_market.recent_rows == len(saratoga_sales())


def test_champion_error_names_missing_metric() -> None:
    _, result = trained_champion()

    with pytest.raises(KeyError, match="no holdout mape_pct"):
        champion_error(
            result.onnx_bytes, ames_between("2008-01", "2008-02"),
            metric="mape_pct", holdout_metrics={"rmse_log": 0.1},
        )  # fmt: skip
