"""Configuration files: where they live, how they load, and the quality gate's rule set."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mhpe.exceptions import ConfigError
from mhpe.schema import CATEGORY_LEVELS, NUMERIC_COLUMNS, SALE_COLUMNS

logger = logging.getLogger(__name__)

CONFIG_DIR_ENV = "MHPE_CONFIG_DIR"
QUALITY_CONFIG_FILE = "quality.yaml"

_PACKAGE_DIR = Path(__file__).resolve().parent
# layers/common/mhpe/config.py -> the repository root, recognised by its pyproject.toml.
_REPOSITORY_DIR = _PACKAGE_DIR.parents[2]


class Bounds(BaseModel):
    """Allowed values of one numeric column: greater than (gt), at least (ge), and so on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> Bounds:
        if self.as_dict() == {}:
            raise ValueError("a range needs at least one of gt, ge, lt, le")
        if self.gt is not None and self.ge is not None:
            raise ValueError("a range takes gt or ge, not both")
        if self.lt is not None and self.le is not None:
            raise ValueError("a range takes lt or le, not both")
        lower = self.gt if self.gt is not None else self.ge
        upper = self.lt if self.lt is not None else self.le
        if lower is not None and upper is not None and lower >= upper:
            raise ValueError(f"the lower bound {lower} must be below the upper bound {upper}")
        return self

    def as_dict(self) -> dict[str, float]:
        return {key: value for key, value in self.model_dump().items() if value is not None}

    def describe(self, column: str) -> str:
        """Return the rule in symbols, e.g. "1 <= Mo_Sold <= 12"."""
        text = column
        if self.gt is not None:
            text = f"{self.gt:g} < {text}"
        elif self.ge is not None:
            text = f"{self.ge:g} <= {text}"
        if self.lt is not None:
            text = f"{text} < {self.lt:g}"
        elif self.le is not None:
            text = f"{text} <= {self.le:g}"
        return text


class CoordinateRange(BaseModel):
    """An inclusive range of one coordinate, in decimal degrees."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float
    max: float

    @model_validator(mode="after")
    def _check_order(self) -> CoordinateRange:
        if self.min >= self.max:
            raise ValueError(f"min {self.min} must be below max {self.max}")
        return self


class BoundingBox(BaseModel):
    """The area, in decimal degrees, in which every sale of the market lies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latitude: CoordinateRange
    longitude: CoordinateRange

    @field_validator("latitude")
    @classmethod
    def _check_latitude(cls, value: CoordinateRange) -> CoordinateRange:
        if value.min < -90 or value.max > 90:
            raise ValueError("latitude must lie within -90 and 90 degrees")
        return value

    @field_validator("longitude")
    @classmethod
    def _check_longitude(cls, value: CoordinateRange) -> CoordinateRange:
        if value.min < -180 or value.max > 180:
            raise ValueError("longitude must lie within -180 and 180 degrees")
        return value


class QualityRules(BaseModel):
    """The quality gate's thresholds, as config/quality.yaml sets them.

    Required columns, their types and the levels of closed categories come from
    `mhpe.schema.Sale`. This model contains what an operator may tune.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_valid_share: float = Field(gt=0, le=1)
    not_null: tuple[str, ...]
    ranges: dict[str, Bounds]
    closed_categories: tuple[str, ...]
    bounding_box: BoundingBox

    @field_validator("not_null")
    @classmethod
    def _check_not_null(cls, columns: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [column for column in columns if column not in SALE_COLUMNS]
        if unknown:
            raise ValueError(f"{unknown} are not columns of the sale schema")
        return columns

    @field_validator("ranges")
    @classmethod
    def _check_ranges(cls, ranges: dict[str, Bounds]) -> dict[str, Bounds]:
        unknown = [column for column in ranges if column not in NUMERIC_COLUMNS]
        if unknown:
            raise ValueError(f"{unknown} are not numeric columns of the sale schema")
        return ranges

    @field_validator("closed_categories")
    @classmethod
    def _check_closed_categories(cls, columns: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [column for column in columns if column not in CATEGORY_LEVELS]
        if unknown:
            raise ValueError(
                f"{unknown} have no closed set of levels in the sale schema, "
                f"expected some of {sorted(CATEGORY_LEVELS)}"
            )
        return columns


def default_config_dir() -> Path:
    """Find the directory of the configuration files.

    The first that exists wins: $MHPE_CONFIG_DIR, the repository's config/ (when this
    package runs from a checkout), then config/ beside the package, where a Lambda layer
    build places its copy (/opt/python/config on AWS). Raises ConfigError if none exists.
    """
    from_env = os.environ.get(CONFIG_DIR_ENV)
    if from_env:
        directory = Path(from_env)
        if not directory.is_dir():
            raise ConfigError(f"{CONFIG_DIR_ENV}={from_env} is not a directory")
        return directory

    candidates = []
    if (_REPOSITORY_DIR / "pyproject.toml").is_file():
        candidates.append(_REPOSITORY_DIR / "config")
    candidates.append(_PACKAGE_DIR.parent / "config")
    for directory in candidates:
        if directory.is_dir():
            return directory
    tried = ", ".join(str(directory) for directory in candidates)
    raise ConfigError(f"no config directory found (tried {tried}), set {CONFIG_DIR_ENV}")


def load_yaml_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config file whose top level is a mapping, or raise ConfigError."""
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"config file {config_path} could not be read: {error}") from error
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {config_path} is not valid YAML: {error}") from error
    if not isinstance(content, dict):
        kind = type(content).__name__
        raise ConfigError(
            f"config file {config_path} must contain a mapping at the top, not {kind}"
        )
    return content


def load_quality_rules(path: str | os.PathLike[str] | None = None) -> QualityRules:
    """Load and validate the quality gate's rules, by default from quality.yaml.

    Raises ConfigError naming the file, the key and the rule it breaks, e.g.
    "min_valid_share = 1.5 is invalid: Input should be less than or equal to 1".
    """
    config_path = Path(path) if path is not None else default_config_dir() / QUALITY_CONFIG_FILE
    content = load_yaml_config(config_path)
    try:
        rules = QualityRules.model_validate(content)
    except ValidationError as error:
        raise ConfigError(_describe_errors(config_path, error)) from error
    logger.debug("loaded quality rules from %s", config_path)
    return rules


def _describe_errors(config_path: Path, error: ValidationError) -> str:
    problems = []
    for detail in error.errors():
        key = ".".join(str(part) for part in detail["loc"]) or "(top level)"
        if detail["type"] == "missing":
            problems.append(f"required key {key} is missing")
        elif detail["type"] == "extra_forbidden":
            problems.append(f"key {key} is not a known setting")
        else:
            message = detail["msg"].removeprefix("Value error, ")
            problems.append(f"{key} = {detail['input']!r} is invalid: {message}")
    return f"config file {config_path}: " + "; ".join(problems)
