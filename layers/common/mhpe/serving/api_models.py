"""Request and response bodies of the pricing API, as pydantic models.

A request house is `mhpe.schema.House` with these changes:

- A field that House allows to be null may also be left out, because the model imputes it.
- NaN and infinite numbers are rejected, because JSON parsers in Python accept them and a
  model cannot price them.
- Areas, counts, frontage and Misc_Val have the maxima of `mhpe.serving.request_limits`.
- A boolean is rejected for a number, although pydantic would read true as 1.
- A field that is not in House is rejected, so that a misspelt field name is not silently
  dropped and imputed. The Ames data's columns that the model does not use (Street, Alley,
  ...) are the exception: they are dropped, so that a row of the Ames data, as in
  events/serve_predict.json, can be sent as it is. Sale_Price, the label, is rejected.
"""

from __future__ import annotations

import logging
import typing
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from mhpe.schema import NUMERIC_COLUMNS, House
from mhpe.serving.reference_house import REFERENCE_HOUSE
from mhpe.serving.request_limits import REQUEST_MAXIMA

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 100
# The pydantic error type of a boolean sent for a number, worded in validation_errors.py.
BOOLEAN_NUMBER_ERROR = "number_not_boolean"
# Columns of modeldata/ames that are neither House fields nor the label.
IGNORED_AMES_COLUMNS = frozenset(
    {
        "Street",
        "Alley",
        "Lot_Shape",
        "Land_Contour",
        "Utilities",
        "Land_Slope",
        "Condition_2",
        "Roof_Style",
        "Roof_Matl",
        "Exterior_2nd",
        "BsmtFin_SF_1",
        "BsmtFin_Type_2",
        "Heating",
        "Electrical",
        "Garage_Cond",
        "Paved_Drive",
        "Pool_QC",
        "Fence",
        "Misc_Feature",
    }
)
HOUSE_NUMERIC_FIELDS: tuple[str, ...] = tuple(
    name for name in House.model_fields if name in NUMERIC_COLUMNS
)


class _StrictHouse(House):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [REFERENCE_HOUSE]},
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_ignored_ames_columns(cls, data: Any) -> Any:
        if isinstance(data, dict) and not IGNORED_AMES_COLUMNS.isdisjoint(data):
            return {key: value for key, value in data.items() if key not in IGNORED_AMES_COLUMNS}
        return data

    @field_validator(*HOUSE_NUMERIC_FIELDS, mode="before")
    @classmethod
    def _reject_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(BOOLEAN_NUMBER_ERROR, "must be a number, not true or false")
        return value


def _request_field(name: str, field: FieldInfo) -> tuple[Any, FieldInfo]:
    """Return House's field with the request's maximum and, when nullable, a None default."""
    parts = [field]
    maximum = REQUEST_MAXIMA.get(name)
    if maximum is not None:
        description = f"{(field.description or '').rstrip('.')}, at most {maximum:,}."
        parts.append(Field(le=maximum, description=description))
    overrides: dict[str, Any] = {}
    if type(None) in typing.get_args(field.annotation):
        overrides["default"] = None
    return field.annotation, FieldInfo.merge_field_infos(*parts, **overrides)


HouseFeatures = create_model(  # type: ignore[call-overload]
    "HouseFeatures",
    __base__=_StrictHouse,
    __doc__=(
        "A house to price: its lot, building, areas, rooms and sale. A nullable field may be "
        "left out; the model imputes it. The Ames data's other columns (Street, Alley, ...) "
        "are ignored, and any other field is rejected."
    ),
    **{name: _request_field(name, field) for name, field in House.model_fields.items()},
)


class BatchRequest(BaseModel):
    """Houses to price in one request, all by the same model version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    houses: list[HouseFeatures] = Field(  # type: ignore[valid-type]
        min_length=1,
        max_length=MAX_BATCH_SIZE,
        description=f"1 to {MAX_BATCH_SIZE} houses.",
    )


class ModelRef(BaseModel):
    """The model version that priced a request."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    model_version: str


class PredictionResponse(ModelRef):
    """The price of one house."""

    price_usd: float = Field(description="Predicted sale price, in US dollars.")
    request_id: str = Field(description="API Gateway's request id, also in the audit record.")


class BatchPredictionResponse(ModelRef):
    """The prices of a batch, in the order of the request's houses."""

    prices_usd: list[float] = Field(description="Predicted sale prices, in US dollars.")
    request_id: str


class ModelInfo(BaseModel):
    """The champion model that this worker serves."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    version: str
    alias: str
    strategy: str | None
    metrics: dict[str, float] = Field(description="Holdout metrics of the model.")
    baseline_metrics: dict[str, float]
    dataset_version: str | None
    training_rows: int | None
    training_months: list[str] | None
    holdout_months: list[str] | None
    trained_at: str | None
    promoted_at: str | None
    replaced_version: str | None
    git_commit: str | None
    onnx_sha256: str
    loaded_at: str = Field(description="When this worker loaded the model (UTC, ISO 8601).")


class HealthResponse(BaseModel):
    """Whether this worker can price houses, and its last check for a new champion."""

    model_config = ConfigDict(protected_namespaces=())

    status: str = Field(description="ok, or no_model before the first promotion.")
    model_version: str | None
    model_loaded_at: str | None
    last_check_at: str | None
    last_error: str | None


class FieldError(BaseModel):
    """One rejected value of a request."""

    field: str = Field(description="Path of the field, e.g. houses[3].Gr_Liv_Area.")
    value: Any = Field(default=None, description="The rejected value; absent when missing.")
    rule: str = Field(description="The rule the value breaks.")
    message: str


class ValidationErrorResponse(BaseModel):
    """The body of a 422 response: every rejected field of the request."""

    message: str
    errors: list[FieldError]


class ErrorResponse(BaseModel):
    """The body of a 503 or 500 response."""

    message: str
    reason: str | None = None
    request_id: str | None = None
