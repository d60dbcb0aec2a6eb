"""Absurd and oversized input: request maxima, strict numbers, short 422s and the price guard."""

from __future__ import annotations

import json
import math

import pytest
from mhpe.serving.api_models import MAX_BATCH_SIZE
from mhpe.serving.reference_house import REFERENCE_HOUSE
from mhpe.serving.request_limits import (
    MAX_COUNT,
    MAX_FLOOR_AREA_SQFT,
    MAX_LOT_AREA_SQFT,
    MAX_MISC_VALUE_USD,
    REQUEST_MAXIMA,
)
from mhpe.serving.service import MAX_PRICE_USD
from mhpe.serving.validation_errors import MAX_ECHOED_VALUE_CHARS, MAX_LISTED_ERRORS

from tests.serve.conftest import ServeHarness
from tests.serve.serve_support import (
    PublishedModel,
    errors_by_field,
    sample_houses,
)

# The largest value of each bounded field in the Ames data (modeldata/ames, 2,930 sales).
AMES_MAXIMA = {
    "Lot_Area": 215_245,
    "Lot_Frontage": 313,
    "Gr_Liv_Area": 5_642,
    "First_Flr_SF": 5_095,
    "Second_Flr_SF": 2_065,
    "Total_Bsmt_SF": 6_110,
    "Garage_Area": 1_488,
    "Pool_Area": 800,
    "Misc_Val": 17_000,
    "TotRms_AbvGrd": 15,
    "Bedroom_AbvGr": 8,
    "Garage_Cars": 5,
}
# A 422 that summarises its values stays far below this many bytes.
SHORT_BODY_BYTES = 4_000


def _audit_lines(harness: ServeHarness) -> list[str]:
    lines: list[str] = []
    for path in sorted(harness.audit_dir.glob("predictions-*.jsonl*")):
        lines += path.read_text().splitlines()
    return lines


# Request maxima


@pytest.mark.parametrize(
    ("field", "value", "maximum"),
    [
        ("Gr_Liv_Area", 1e9, MAX_FLOOR_AREA_SQFT),
        ("Gr_Liv_Area", 1e38, MAX_FLOOR_AREA_SQFT),
        ("Gr_Liv_Area", 1e308, MAX_FLOOR_AREA_SQFT),
        ("Lot_Area", 1e12, MAX_LOT_AREA_SQFT),
        ("Garage_Cars", 10_000, MAX_COUNT),
        ("Misc_Val", 1e12, MAX_MISC_VALUE_USD),
    ],
)
def test_absurd_value_rejected_naming_field(
    harness: ServeHarness, field: str, value: float, maximum: int
) -> None:
    response = harness.call("POST", "/predict", {**REFERENCE_HOUSE, field: value})
    error = errors_by_field(response.json())[field]

    assert response.status == 422
    assert error["value"] == value
    assert error["rule"] == f"must be <= {maximum}"
    assert error["message"] == f"{field} = {json.dumps(value)} is invalid: it must be <= {maximum}"


def test_every_maximum_is_above_ames_maximum() -> None:
    for field, ames_maximum in AMES_MAXIMA.items():
        assert REQUEST_MAXIMA[field] >= 10 * ames_maximum, field


def test_largest_ames_values_are_priced(harness: ServeHarness) -> None:
    response = harness.call("POST", "/predict", {**REFERENCE_HOUSE, **AMES_MAXIMA})

    assert response.status == 200
    assert response.json()["price_usd"] > 0


def test_coordinates_outside_ames_are_priced(harness: ServeHarness) -> None:
    # Saratoga County, New York: the drift replay sends its real houses on purpose.
    house = {**REFERENCE_HOUSE, "Longitude": -73.855, "Latitude": 43.0}

    response = harness.call("POST", "/predict", house)

    assert response.status == 200


# Strict numbers and unknown fields


@pytest.mark.parametrize("field", ["Garage_Cars", "Gr_Liv_Area", "Lot_Frontage"])
def test_boolean_rejected_for_number(harness: ServeHarness, field: str) -> None:
    response = harness.call("POST", "/predict", {**REFERENCE_HOUSE, field: True})
    error = errors_by_field(response.json())[field]

    assert response.status == 422
    assert error["value"] is True
    assert error["rule"] == "must be a number, not true or false"


def test_unknown_field_in_batch_named_with_item(harness: ServeHarness) -> None:
    houses = sample_houses(2)
    houses[1] = {**houses[1], "Garage_Spaces": 2}

    response = harness.call("POST", "/predict/batch", {"houses": houses})
    (error,) = response.json()["errors"]

    assert response.status == 422
    assert error["field"] == "houses[1].Garage_Spaces"
    assert error["value"] == 2


# Short 422 bodies


@pytest.mark.parametrize("count", [MAX_BATCH_SIZE + 1, 2_000])
def test_oversized_batch_error_summarises_list(harness: ServeHarness, count: int) -> None:
    houses = (sample_houses() * math.ceil(count / len(sample_houses())))[:count]

    response = harness.call("POST", "/predict/batch", {"houses": houses})
    (error,) = response.json()["errors"]

    assert response.status == 422
    assert len(response.body) < SHORT_BODY_BYTES
    assert error["field"] == "houses"
    assert error["value"] == f"list of {count} houses"
    assert error["message"] == (
        f"houses (list of {count} houses) is invalid: it must contain at most "
        f"{MAX_BATCH_SIZE} items"
    )


def test_long_string_value_is_summarised(harness: ServeHarness) -> None:
    value = "Y" * 100_000

    response = harness.call("POST", "/predict", {**REFERENCE_HOUSE, "Central_Air": value})
    error = errors_by_field(response.json())["Central_Air"]

    assert response.status == 422
    assert len(response.body) < SHORT_BODY_BYTES
    assert error["value"].startswith("text of 100000 characters starting 'YYY")


def test_short_value_is_echoed_whole(harness: ServeHarness) -> None:
    # The list's JSON, ["N...N"], is exactly MAX_ECHOED_VALUE_CHARS long.
    value = "N" * (MAX_ECHOED_VALUE_CHARS - 4)

    response = harness.call("POST", "/predict", {**REFERENCE_HOUSE, "Neighborhood": [value]})
    error = errors_by_field(response.json())["Neighborhood"]

    assert response.status == 422
    assert error["value"] == [value]


def test_error_list_is_capped(harness: ServeHarness) -> None:
    houses = [{"Gr_Liv_Area": -1} for _ in range(MAX_BATCH_SIZE)]

    response = harness.call("POST", "/predict/batch", {"houses": houses})
    body = response.json()

    assert response.status == 422
    assert len(body["errors"]) == MAX_LISTED_ERRORS
    assert f"errors lists the first {MAX_LISTED_ERRORS} of " in body["message"]


# Price guard


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Lot_Area", MAX_LOT_AREA_SQFT),
        ("Misc_Val", MAX_MISC_VALUE_USD),
        ("Garage_Area", MAX_FLOOR_AREA_SQFT),
    ],
)
def test_unpriceable_house_gets_422_and_no_audit(
    harness: ServeHarness, published: PublishedModel, field: str, value: float
) -> None:
    house = {**REFERENCE_HOUSE, field: value}
    (model_price,) = published.prices([house])
    assert not 0 < round(model_price, 2) <= MAX_PRICE_USD, "the case needs an unpriceable house"

    response = harness.call("POST", "/predict", house)
    (error,) = response.json()["errors"]

    assert response.status == 422
    assert error["field"] == "body"
    assert error["message"].startswith("the house got the price ")
    assert "must get a finite price above 0 and at most $10,000,000,000" in error["message"]
    assert _audit_lines(harness) == []


def test_unpriceable_batch_item_named(harness: ServeHarness) -> None:
    houses = sample_houses(3)
    houses[2] = {**houses[2], "Lot_Area": MAX_LOT_AREA_SQFT}

    response = harness.call("POST", "/predict/batch", {"houses": houses})
    (error,) = response.json()["errors"]

    assert response.status == 422
    assert error["field"] == "houses[2]"
    assert error["message"].startswith("house houses[2] got the price ")
    assert _audit_lines(harness) == []


def test_audit_lines_are_strict_json(harness: ServeHarness) -> None:
    harness.call("POST", "/predict/batch", {"houses": sample_houses(5)})

    lines = _audit_lines(harness)

    constants: list[str] = []
    for line in lines:
        json.loads(line, parse_constant=constants.append)

    assert len(lines) == 5
    assert constants == []


def test_long_unknown_field_name_is_cut(harness: ServeHarness) -> None:
    name = "x" * 100_000

    response = harness.call("POST", "/predict", {**REFERENCE_HOUSE, name: 1})
    (error,) = response.json()["errors"]

    assert response.status == 422
    assert len(response.body) < SHORT_BODY_BYTES
    assert error["field"].endswith("... (100000 characters)")
