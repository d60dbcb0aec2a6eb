"""The Saratoga mapping onto the Ames fields, and the market catalogue."""

from __future__ import annotations

import pandas as pd
import pytest
from mhpe.markets import load_market, map_saratoga
from mhpe.markets.saratoga import LATITUDE, SQFT_PER_ACRE
from mhpe.schema import SALE_COLUMNS, Sale

from tests.drift.drift_support import saratoga_sales


def _source(**overrides: object) -> pd.DataFrame:
    row = {
        "price": 132500, "lotSize": 0.09, "age": 42, "landValue": 50000, "livingArea": 906,
        "pctCollege": 35, "bedrooms": 2, "fireplaces": 1, "bathrooms": 2.5, "rooms": 5,
        "heating": "electric", "fuel": "electric", "sewer": "septic", "waterfront": "No",
        "newConstruction": "No", "centralAir": "No",
    }  # fmt: skip
    row.update(overrides)
    return pd.DataFrame([row])


def test_saratoga_converts_units() -> None:
    (house,) = map_saratoga(_source()).sales.to_dict(orient="records")

    assert house["Lot_Area"] == pytest.approx(0.09 * SQFT_PER_ACRE)
    assert house["Year_Built"] == 2006 - 42
    assert house["Year_Remod_Add"] == house["Year_Built"]
    assert house["Full_Bath"] == 2
    assert house["Half_Bath"] == 1
    assert house["Gr_Liv_Area"] == 906
    assert house["TotRms_AbvGrd"] == 5
    assert house["Central_Air"] == "N"
    assert house["Sale_Price"] == 132500
    assert house["Latitude"] == LATITUDE


def test_saratoga_new_construction_is_partial_new_sale() -> None:
    (house,) = map_saratoga(_source(newConstruction="Yes")).sales.to_dict(orient="records")

    assert house["Sale_Type"] == "New"
    assert house["Sale_Condition"] == "Partial"


def test_saratoga_unrecorded_fields_stay_missing() -> None:
    (house,) = map_saratoga(_source()).sales.to_dict(orient="records")

    for column in ("Garage_Area", "Overall_Cond", "First_Flr_SF", "Lot_Frontage", "Sale_Type"):
        assert pd.isna(house[column]), column


def test_saratoga_rejects_empty_lot_and_old_house() -> None:
    source = pd.concat([_source(), _source(lotSize=0.0), _source(age=225)], ignore_index=True)

    mapping = map_saratoga(source)

    assert len(mapping.sales) == 1
    assert mapping.source_rows == 3
    assert sum(mapping.rejected.values()) == 2


def test_saratoga_real_rows_validate_as_sales() -> None:
    sales = saratoga_sales()
    records = sales.astype(object).where(sales.notna(), None).to_dict(orient="records")

    assert len(sales) == 1725
    assert list(sales.columns) == list(SALE_COLUMNS)
    for record in records:
        Sale.model_validate(record)


def test_load_market_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown market 'boston'"):
        load_market("boston")
