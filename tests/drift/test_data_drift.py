"""Evidently's data drift on real markets: Ames against itself, against Saratoga."""

from __future__ import annotations

import pandas as pd
import pytest
from mhpe.drift import DriftSettings
from mhpe.drift.data_drift import NOT_COMPARABLE_METHOD, detect_data_drift

from tests.drift.drift_support import ames_between, ames_sales, saratoga_sales


def _drift(settings: DriftSettings, reference: pd.DataFrame, current: pd.DataFrame):
    return detect_data_drift(
        reference,
        current,
        numeric_columns=settings.numeric_columns,
        categorical_columns=settings.categorical_columns,
        drift_share=settings.data_drift_share,
        dataset="test",
        numeric_method=settings.numeric_method,
        categorical_method=settings.categorical_method,
    )


def test_ames_sample_shows_no_drift(settings: DriftSettings) -> None:
    reference = ames_between("2006-01", "2008-12")
    current = ames_sales().sample(n=300, random_state=3)

    result = _drift(settings, reference, current)

    assert result.drift_share < settings.data_drift_share
    assert len(result.columns) == len(settings.numeric_columns + settings.categorical_columns)
    assert result.current_rows == 300


def test_saratoga_drifts_in_most_columns(settings: DriftSettings) -> None:
    result = _drift(settings, ames_sales(), saratoga_sales())
    by_column = {column.column: column for column in result.columns}

    assert result.drift_share > 0.8
    assert by_column["Gr_Liv_Area"].drifted
    assert by_column["Gr_Liv_Area"].method != NOT_COMPARABLE_METHOD
    assert by_column["Garage_Area"].method == NOT_COMPARABLE_METHOD
    assert by_column["Garage_Area"].current_missing_share == 1.0
    assert "<html" in result.html.lower()


def test_column_empty_on_both_sides_is_left_out(settings: DriftSettings) -> None:
    reference = ames_between("2006-01", "2006-12").assign(Pool_Area=float("nan"))
    current = ames_between("2007-01", "2007-06").assign(Pool_Area=float("nan"))

    result = _drift(settings, reference, current)

    assert "Pool_Area" not in [column.column for column in result.columns]


def test_data_drift_rejects_empty_current(settings: DriftSettings) -> None:
    with pytest.raises(ValueError, match="current has 0"):
        _drift(settings, ames_sales(), ames_sales().head(0))
