"""The pricing API on API Gateway events: routes, prices, validation errors and the docs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mhpe.serving.api_models import MAX_BATCH_SIZE
from mhpe.serving.reference_house import REFERENCE_HOUSE

from tests.serve.conftest import ServeHarness
from tests.serve.serve_support import (
    PublishedModel,
    errors_by_field,
    sample_houses,
)

REQUIRED_FIELDS = (
    "Lot_Area",
    "Neighborhood",
    "Longitude",
    "Latitude",
    "Year_Built",
    "Year_Remod_Add",
    "Gr_Liv_Area",
    "Year_Sold",
    "Mo_Sold",
)


def test_predict_returns_champion_price(harness: ServeHarness, published: PublishedModel) -> None:
    response = harness.call("POST", "/predict", REFERENCE_HOUSE, request_id="req-1")
    body = response.json()

    assert response.status == 200
    assert body["price_usd"] == published.prices([REFERENCE_HOUSE])[0]
    assert body["model_version"] == "1"
    assert body["model_name"] == "house-price"
    assert body["request_id"] == "req-1"
    assert response.headers["x-model-version"] == "1"


def test_predict_batch_keeps_request_order(
    harness: ServeHarness, published: PublishedModel
) -> None:
    houses = sample_houses(20)

    response = harness.call("POST", "/predict/batch", {"houses": houses})
    body = response.json()

    assert response.status == 200
    assert body["prices_usd"] == published.prices(houses)
    assert body["model_version"] == "1"


def test_predict_batch_accepts_documented_maximum(harness: ServeHarness) -> None:
    houses = (sample_houses() * 2)[:MAX_BATCH_SIZE]

    response = harness.call("POST", "/predict/batch", {"houses": houses})

    assert response.status == 200
    assert len(response.json()["prices_usd"]) == MAX_BATCH_SIZE


def test_predict_batch_rejects_one_over_maximum(harness: ServeHarness) -> None:
    houses = (sample_houses() * 2)[: MAX_BATCH_SIZE + 1]

    response = harness.call("POST", "/predict/batch", {"houses": houses})
    error = errors_by_field(response.json())["houses"]

    assert response.status == 422
    assert error["rule"] == f"must contain at most {MAX_BATCH_SIZE} items"


def test_predict_batch_rejects_empty_list(harness: ServeHarness) -> None:
    response = harness.call("POST", "/predict/batch", {"houses": []})
    error = errors_by_field(response.json())["houses"]

    assert response.status == 422
    assert error["rule"] == "must contain at least 1 items"


def test_validation_error_names_field_value_and_rule(harness: ServeHarness) -> None:
    house = {**REFERENCE_HOUSE, "Gr_Liv_Area": -5}

    response = harness.call("POST", "/predict", house)
    body = response.json()
    error = errors_by_field(body)["Gr_Liv_Area"]

    assert response.status == 422
    assert error["value"] == -5
    assert error["rule"] == "must be > 0"
    assert error["message"] == "Gr_Liv_Area = -5 is invalid: it must be > 0"
    assert body["message"] == "invalid request: Gr_Liv_Area = -5 is invalid: it must be > 0"


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("Lot_Area", 0, "must be > 0"),
        ("Garage_Area", -1, "must be >= 0"),
        ("Mo_Sold", 13, "must be <= 12"),
        ("Year_Built", 1700, "must be >= 1800"),
        ("Latitude", 91, "must be <= 90"),
        ("Full_Bath", 1.5, "must be an integer, without a fractional part"),
        ("Gr_Liv_Area", "large", "must be a number"),
        ("Neighborhood", 7, "must be a string"),
        ("Central_Air", "Maybe", "must be one of 'Y' or 'N'"),
    ],
)
def test_validation_error_per_rule(
    harness: ServeHarness, field: str, value: Any, rule: str
) -> None:
    response = harness.call("POST", "/predict", {**REFERENCE_HOUSE, field: value})
    error = errors_by_field(response.json())[field]

    assert response.status == 422
    assert error["value"] == value
    assert error["rule"] == rule


def test_validation_rejects_infinite_number(harness: ServeHarness) -> None:
    # Python's json module writes float("inf") as Infinity, which it also reads back.
    raw = json.dumps({**REFERENCE_HOUSE, "Lot_Frontage": float("inf")})

    response = harness.call("POST", "/predict", raw_body=raw)
    error = errors_by_field(response.json())["Lot_Frontage"]

    assert response.status == 422
    assert error["value"] == "inf"
    assert error["rule"] == "must be a finite number"


def test_validation_names_every_missing_required_field(harness: ServeHarness) -> None:
    response = harness.call("POST", "/predict", {"Bldg_Type": "OneFam"})
    errors = errors_by_field(response.json())

    assert response.status == 422
    assert set(errors) == set(REQUIRED_FIELDS)
    assert errors["Gr_Liv_Area"]["message"] == "Gr_Liv_Area is missing: it is required"
    assert "value" not in errors["Gr_Liv_Area"]


def test_validation_reports_year_rule_on_house(harness: ServeHarness) -> None:
    house = {**REFERENCE_HOUSE, "Year_Built": 2010, "Year_Remod_Add": 2010}

    response = harness.call("POST", "/predict", house)
    (error,) = response.json()["errors"]

    assert response.status == 422
    assert error["field"] == "body"
    assert "Year_Built 2010 is after Year_Sold 2008" in error["rule"]


def test_validation_names_batch_item(harness: ServeHarness) -> None:
    houses = sample_houses(3)
    houses[1] = {**houses[1], "Lot_Area": -10}

    response = harness.call("POST", "/predict/batch", {"houses": houses})
    error = errors_by_field(response.json())["houses[1].Lot_Area"]

    assert response.status == 422
    assert error["value"] == -10


def test_validation_rejects_malformed_json(harness: ServeHarness) -> None:
    response = harness.call("POST", "/predict", raw_body='{"Gr_Liv_Area": ')
    (error,) = response.json()["errors"]

    assert response.status == 422
    assert error["field"] == "body"
    assert "value" not in error
    assert error["rule"] == "must be valid JSON"
    assert error["message"] == (
        "the request body is not valid JSON: Expecting value at character 16"
    )


def test_unknown_neighbourhood_still_priced(harness: ServeHarness) -> None:
    house = {**REFERENCE_HOUSE, "Neighborhood": "Atlantis_Heights"}

    response = harness.call("POST", "/predict", house)

    assert response.status == 200
    assert response.json()["price_usd"] > 0


def test_nullable_fields_may_be_left_out(harness: ServeHarness) -> None:
    house = {field: REFERENCE_HOUSE[field] for field in REQUIRED_FIELDS}

    response = harness.call("POST", "/predict", house)

    assert response.status == 200
    assert response.json()["price_usd"] > 0


def test_unused_ames_columns_are_ignored(harness: ServeHarness, published: PublishedModel) -> None:
    row = {**REFERENCE_HOUSE, "Street": "Pave", "Pool_QC": "No_Pool", "BsmtFin_SF_1": 3}

    response = harness.call("POST", "/predict", row)

    assert response.status == 200
    assert response.json()["price_usd"] == published.prices([REFERENCE_HOUSE])[0]


def test_fields_outside_the_schema_are_rejected(harness: ServeHarness) -> None:
    row = {**REFERENCE_HOUSE, "Street": "Pave", "Sale_Price": 1, "Gr_Liv_Area_sqft": 2000}

    response = harness.call("POST", "/predict", row)
    errors = errors_by_field(response.json())

    assert response.status == 422
    assert set(errors) == {"Sale_Price", "Gr_Liv_Area_sqft"}
    assert errors["Sale_Price"]["value"] == 1
    assert errors["Sale_Price"]["message"].startswith(
        "Sale_Price = 1 is invalid: it is not a field of the house"
    )


def test_model_route_describes_champion(harness: ServeHarness, published: PublishedModel) -> None:
    response = harness.call("GET", "/model")
    body = response.json()

    assert response.status == 200
    assert body["version"] == "1"
    assert body["alias"] == "champion"
    assert body["metrics"] == published.manifest["metrics"]
    assert body["dataset_version"] == published.manifest["dataset_version"]
    assert body["trained_at"] == published.manifest["trained_at"]
    assert body["promoted_at"] == published.manifest["promoted_at"]
    assert body["onnx_sha256"] == published.manifest["onnx"]["sha256"]


def test_health_reports_loaded_model(harness: ServeHarness) -> None:
    response = harness.call("GET", "/health")
    body = response.json()

    assert response.status == 200
    assert body["status"] == "ok"
    assert body["model_version"] == "1"
    assert body["last_error"] is None


def test_without_champion_predict_returns_503(
    s3: Any, harness_factory: Callable[..., ServeHarness]
) -> None:
    harness = harness_factory()

    predict = harness.call("POST", "/predict", REFERENCE_HOUSE, request_id="req-503")
    health = harness.call("GET", "/health")
    model = harness.call("GET", "/model")

    assert predict.status == 503
    assert predict.json()["message"] == "no model promoted yet"
    assert "champion/manifest.json" in predict.json()["reason"]
    assert predict.json()["request_id"] == "req-503"
    assert health.status == 503
    assert health.json()["status"] == "no_model"
    assert model.status == 503


def test_openapi_document_works_behind_any_prefix(harness: ServeHarness) -> None:
    response = harness.call("GET", "/openapi.json")
    document = response.json()

    assert response.status == 200
    assert document["servers"][0]["url"] == "."
    assert document["components"]["securitySchemes"]["api_key"]["name"] == "x-api-key"
    assert {"/predict", "/predict/batch", "/health", "/model"} <= set(document["paths"])
    house = document["components"]["schemas"]["HouseFeatures"]
    assert house["properties"]["Gr_Liv_Area"]["exclusiveMinimum"] == 0
    assert "square feet" in house["properties"]["Gr_Liv_Area"]["description"]


def test_docs_page_loads_document_by_relative_url(harness: ServeHarness) -> None:
    response = harness.call("GET", "/docs")

    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "url: 'openapi.json'" in response.body
