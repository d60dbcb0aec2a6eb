"""Drift detection settings, as config/drift.yaml sets them."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mhpe.config import default_config_dir, load_yaml_config
from mhpe.exceptions import ConfigError
from mhpe.features import INPUT_COLUMNS

logger = logging.getLogger(__name__)

DRIFT_CONFIG_FILE = "drift.yaml"
_INPUT_NAMES = tuple(column.name for column in INPUT_COLUMNS)

ErrorMetric = Literal["rmse_usd", "mae_usd", "rmse_log", "mape_pct"]


class DriftSettings(BaseModel):
    """Thresholds, windows and the cooldown of the drift check."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_drift_share: float = Field(gt=0, le=1)
    numeric_method: str | None = None
    categorical_method: str | None = None
    max_rows: int = Field(default=1000, ge=50)
    min_data_drift_rows: int = Field(ge=1)
    exclude_columns: tuple[str, ...] = ()
    request_window_hours: float = Field(gt=0)
    audit_prefix: str = Field(min_length=1)
    labelled_months: int = Field(ge=1)
    min_labelled_rows: int = Field(ge=1)
    price_per_sqft_shift: float = Field(gt=0)
    error_metric: ErrorMetric
    error_ratio: float = Field(gt=1)
    cooldown_hours: float = Field(ge=0)

    @field_validator("exclude_columns")
    @classmethod
    def _check_exclude_columns(cls, columns: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [column for column in columns if column not in _INPUT_NAMES]
        if unknown:
            raise ValueError(f"{unknown} are not model input columns (mhpe.features)")
        return columns

    @property
    def request_window(self) -> timedelta:
        return timedelta(hours=self.request_window_hours)

    @property
    def cooldown(self) -> timedelta:
        return timedelta(hours=self.cooldown_hours)

    @property
    def numeric_columns(self) -> list[str]:
        """Return the numeric model inputs that the data drift check compares."""
        return [
            column.name
            for column in INPUT_COLUMNS
            if column.kind == "numeric" and column.name not in self.exclude_columns
        ]

    @property
    def categorical_columns(self) -> list[str]:
        """Return the categorical model inputs that the data drift check compares."""
        return [
            column.name
            for column in INPUT_COLUMNS
            if column.kind == "categorical" and column.name not in self.exclude_columns
        ]


def load_drift_settings(path: str | os.PathLike[str] | None = None) -> DriftSettings:
    """Load drift.yaml (by default from the config directory); raise ConfigError naming the key."""
    config_path = Path(path) if path is not None else default_config_dir() / DRIFT_CONFIG_FILE
    content = load_yaml_config(config_path)
    try:
        settings = DriftSettings.model_validate(content)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or '(top level)'} = "
            f"{detail.get('input')!r}: {detail['msg']}"
            for detail in error.errors()
        )
        raise ConfigError(f"config file {config_path}: {problems}") from error
    logger.debug("loaded drift settings from %s", config_path)
    return settings
