"""Data drift: Evidently's DataDriftPreset on the model's input columns.

Evidently runs one statistical test per column, chosen from the column's type and the sample
sizes unless configured: for example Kolmogorov-Smirnov or a normed Wasserstein distance for
numbers, chi-squared or Jensen-Shannon for categories. It reports per column a score, its
threshold and whether the column drifted. A column with values on one side only (every
current value missing, as when a market does not record a field) counts as drifted without a
test, because Evidently cannot compare it. A column empty on both sides is left out.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

logger = logging.getLogger(__name__)

ColumnKind = Literal["numeric", "categorical"]
NOT_COMPARABLE_METHOD = "values on one side only"
_VALUE_DRIFT_METRIC = "evidently:metric_v2:ValueDrift"
# Seed of the sample drawn from a side with more than max_rows rows, so a check is repeatable.
SAMPLE_SEED = 0
_FAILED = "FAIL"


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test: Evidently's score and threshold, and whether it drifted."""

    column: str
    kind: ColumnKind
    method: str
    score: float | None
    threshold: float | None
    drifted: bool
    reference_missing_share: float
    current_missing_share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "reference_missing_share": self.reference_missing_share,
            "current_missing_share": self.current_missing_share,
        }


@dataclass(frozen=True)
class DriftPresetOptions:
    """The DataDriftPreset's drift share and its tests per column type (None: Evidently's)."""

    drift_share: float
    numeric_method: str | None
    categorical_method: str | None


@dataclass(frozen=True)
class DataDriftResult:
    """The data drift of one current dataset against the reference, with Evidently's HTML."""

    dataset: str
    reference_rows: int
    current_rows: int
    columns: tuple[ColumnDrift, ...]
    html: str

    @property
    def drifted_columns(self) -> list[str]:
        return [column.column for column in self.columns if column.drifted]

    @property
    def drift_share(self) -> float:
        """Return the share of compared columns that drifted, 0.0 when none was compared."""
        if not self.columns:
            return 0.0
        return len(self.drifted_columns) / len(self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "compared_columns": len(self.columns),
            "drifted_columns": self.drifted_columns,
            "drift_share": self.drift_share,
            "columns": [column.to_dict() for column in self.columns],
        }


def at_most_rows(frame: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """Return `frame`, or a seeded random sample of `max_rows` of its rows when it is longer."""
    if len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=SAMPLE_SEED)


def _typed(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """Return the compared columns with numbers as float64 and categories as strings or NaN."""
    typed = pd.DataFrame(index=frame.index)
    for column in numeric:
        source = frame[column] if column in frame.columns else pd.Series(index=frame.index)
        typed[column] = pd.to_numeric(source, errors="coerce").astype("float64")
    for column in categorical:
        source = frame[column] if column in frame.columns else pd.Series(index=frame.index)
        typed[column] = (
            source.astype(object)
            .where(source.notna(), None)
            .map(lambda value: value if value is None else str(value))
        )
    return typed.reset_index(drop=True)


def detect_data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric_columns: Sequence[str],
    categorical_columns: Sequence[str],
    drift_share: float,
    dataset: str,
    numeric_method: str | None = None,
    categorical_method: str | None = None,
) -> DataDriftResult:
    """Compare `current` with `reference` column by column with DataDriftPreset.

    A column missing from a frame counts as all values missing. `drift_share` is passed to
    the preset for its report; the caller decides on the returned share. The methods name
    Evidently's tests (e.g. "ks", "jensenshannon"); None lets Evidently choose. Raises ValueError
    when either frame has no rows.
    """
    if reference.empty or current.empty:
        raise ValueError(
            f"data drift of {dataset} needs rows on both sides: reference has "
            f"{len(reference)}, current has {len(current)}"
        )
    reference_typed = _typed(reference, numeric_columns, categorical_columns)
    current_typed = _typed(current, numeric_columns, categorical_columns)
    kinds: dict[str, ColumnKind] = {column: "numeric" for column in numeric_columns}
    kinds.update({column: "categorical" for column in categorical_columns})

    one_sided: list[ColumnDrift] = []
    testable: list[str] = []
    for column, kind in kinds.items():
        reference_missing = float(reference_typed[column].isna().mean())
        current_missing = float(current_typed[column].isna().mean())
        if reference_missing == 1.0 and current_missing == 1.0:
            logger.info("column %s is empty in both datasets and is not compared", column)
        elif reference_missing == 1.0 or current_missing == 1.0:
            one_sided.append(
                ColumnDrift(
                    column=column,
                    kind=kind,
                    method=NOT_COMPARABLE_METHOD,
                    score=None,
                    threshold=None,
                    drifted=True,
                    reference_missing_share=reference_missing,
                    current_missing_share=current_missing,
                )
            )
        else:
            testable.append(column)

    preset = DriftPresetOptions(drift_share, numeric_method, categorical_method)
    tested, html = _run_evidently(reference_typed, current_typed, testable, kinds, preset)
    columns = tuple(
        sorted([*tested, *one_sided], key=lambda result: list(kinds).index(result.column))
    )
    result = DataDriftResult(dataset, len(reference), len(current), columns, html)
    logger.info(
        "data drift of %s: %d of %d columns drifted (%.1f %%)",
        dataset,
        len(result.drifted_columns),
        len(columns),
        100 * result.drift_share,
    )
    return result


def _run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    kinds: dict[str, ColumnKind],
    preset: DriftPresetOptions,
) -> tuple[list[ColumnDrift], str]:
    # Imported here: evidently takes seconds to import, and the rest of the package needs none.
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    if not columns:
        return [], "<html><body><p>No column had values on both sides.</p></body></html>"
    numeric = [column for column in columns if kinds[column] == "numeric"]
    categorical = [column for column in columns if kinds[column] == "categorical"]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    drift_preset = DataDriftPreset(
        columns=columns,
        drift_share=preset.drift_share,
        num_method=preset.numeric_method,
        cat_method=preset.categorical_method,
    )
    report = Report([drift_preset], include_tests=True)
    with warnings.catch_warnings():
        # Evidently's correlation widgets divide by the zero deviation of constant columns.
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = report.run(
            Dataset.from_pandas(current[columns], data_definition=definition),
            Dataset.from_pandas(reference[columns], data_definition=definition),
        )
        html = snapshot.get_html_str(as_iframe=False)

    content = snapshot.dict()
    drifted = {
        test["metric_config"]["params"]["column"]: test["status"] == _FAILED
        for test in content["tests"]
        if test["metric_config"]["params"].get("type") == _VALUE_DRIFT_METRIC
    }
    results = []
    for metric in content["metrics"]:
        config = metric["config"]
        if config.get("type") != _VALUE_DRIFT_METRIC:
            continue
        column = config["column"]
        results.append(
            ColumnDrift(
                column=column,
                kind=kinds[column],
                method=str(config["method"]),
                score=float(metric["value"]),
                threshold=float(config["threshold"]),
                drifted=drifted[column],
                reference_missing_share=float(reference[column].isna().mean()),
                current_missing_share=float(current[column].isna().mean()),
            )
        )
    return results, html
