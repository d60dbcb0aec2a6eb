"""Request and response bodies of the pricing API, as pydantic models.

A request house is `mhpe.schema.House` with two changes. A field that House allows to be
null may also be left out, because the model imputes it. NaN and infinite numbers are
rejected, because JSON parsers in Python accept them and a model cannot price them.
Fields that are not model inputs (Street, Sale_Price, ...) are ignored, so a row of the
Ames data can be sent as it is.
"""

from __future__ import annotations

import logging
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from mhpe.schema import House
from mhpe.serving.reference_house import REFERENCE_HOUSE

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 100


class _StrictHouse(House):
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [REFERENCE_HOUSE]},
    )


def _optional_nullable_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, field in House.model_fields.items():
        if type(None) in typing.get_args(field.annotation):
            fields[name] = (field.annotation, FieldInfo.merge_field_infos(field, default=None))
    return fields


HouseFeatures = create_model(  # type: ignore[call-overload]
    "HouseFeatures",
    __base__=_StrictHouse,
    __doc__=(
        "A house to price: its lot, building, areas, rooms and sale. A nullable field may be "
        "left out; the model imputes it."
    ),
    **_optional_nullable_fields(),
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
