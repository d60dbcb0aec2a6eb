"""Upper bounds on a request house's numbers, so that absurd input gets a 422, not a price.

`mhpe.schema.House` sets only lower bounds on areas and counts, because the quality gate
(config/quality.yaml) mirrors it. A model extrapolates badly far outside its data: a
living area of 1e9 sqft priced as null and a lot of 1e12 sqft as $0. The pricing API
therefore adds the maxima below. Each is far above the largest value of the Ames data
(De Cock, 2,930 sales) and the Saratoga data (1,728 sales), so that every real house passes.
Years keep the schema's bounds of 1800 to 2100.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

SQFT_PER_ACRE = 43_560

# Floor and feature areas (living area, floors, basement, garage, porches, decks, pool,
# masonry veneer): Ames's largest is a 6,110 sqft basement and Saratoga's a 5,228 sqft
# living area. The largest US houses have under 200,000 sqft of floor space (an estimate).
MAX_FLOOR_AREA_SQFT = 250_000
# Lot size: 1 million acres, above the largest US ranches sold with a house (an estimate).
# Ames's largest lot is 215,245 sqft (about 5 acres) and Saratoga's is 12.2 acres.
MAX_LOT_AREA_SQFT = 1_000_000 * SQFT_PER_ACRE
# Street frontage: a square lot of MAX_LOT_AREA_SQFT has sides of about 208,700 feet.
# Ames's largest frontage is 313 feet.
MAX_LOT_FRONTAGE_FT = 250_000
# Rooms, bathrooms, bedrooms, kitchens, fireplaces and garage spaces: Ames's largest count
# is 15 rooms, and the largest US houses have about 250 rooms (an estimate).
MAX_COUNT = 500
# A miscellaneous feature (shed, elevator, tennis court): Ames's largest is $17,000.
MAX_MISC_VALUE_USD = 10_000_000

FLOOR_AREA_FIELDS = (
    "Gr_Liv_Area",
    "First_Flr_SF",
    "Second_Flr_SF",
    "Total_Bsmt_SF",
    "BsmtFin_SF_2",
    "Bsmt_Unf_SF",
    "Mas_Vnr_Area",
    "Garage_Area",
    "Wood_Deck_SF",
    "Open_Porch_SF",
    "Enclosed_Porch",
    "Three_season_porch",
    "Screen_Porch",
    "Pool_Area",
)
COUNT_FIELDS = (
    "Full_Bath",
    "Half_Bath",
    "Bsmt_Full_Bath",
    "Bsmt_Half_Bath",
    "Bedroom_AbvGr",
    "Kitchen_AbvGr",
    "TotRms_AbvGrd",
    "Fireplaces",
    "Garage_Cars",
)

REQUEST_MAXIMA: dict[str, float] = {
    **dict.fromkeys(FLOOR_AREA_FIELDS, MAX_FLOOR_AREA_SQFT),
    **dict.fromkeys(COUNT_FIELDS, MAX_COUNT),
    "Lot_Area": MAX_LOT_AREA_SQFT,
    "Lot_Frontage": MAX_LOT_FRONTAGE_FT,
    "Misc_Val": MAX_MISC_VALUE_USD,
}
"""The maximum (inclusive) of each bounded request field, in the field's own unit."""
