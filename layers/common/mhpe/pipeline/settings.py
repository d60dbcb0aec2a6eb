"""Pipeline settings (config/pipeline.yaml) and the AWS resources a step gets from its environment."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mhpe.config import default_config_dir, load_yaml_config
from mhpe.exceptions import ConfigError

logger = logging.getLogger(__name__)

PIPELINE_CONFIG_FILE = "pipeline.yaml"
MODEL_CONFIG_FILE = "model.yaml"
UNKNOWN_COMMIT = "unknown"
# MLflow names: letters, digits and . _ - as the registry accepts them in a models:/ URI.
_MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"

PromotionMetric = Literal["rmse_usd", "mae_usd", "rmse_log", "mape_pct"]


class PipelineSettings(BaseModel):
    """When the pipeline trains, what it trains, and how a challenger wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str = Field(pattern=_MODEL_NAME_PATTERN)
    experiment_name: str = Field(min_length=1, max_length=200)
    min_new_rows: int = Field(ge=0)
    strategy: str | None = None
    promotion_metric: PromotionMetric


def load_pipeline_settings(path: str | os.PathLike[str] | None = None) -> PipelineSettings:
    """Load pipeline.yaml, by default from the config directory, or raise ConfigError naming the key."""
    config_path = Path(path) if path is not None else default_config_dir() / PIPELINE_CONFIG_FILE
    content = load_yaml_config(config_path)
    try:
        settings = PipelineSettings.model_validate(content)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or '(top level)'}: {detail['msg']}"
            for detail in error.errors()
        )
        raise ConfigError(f"config file {config_path}: {problems}") from error
    logger.debug("loaded pipeline settings from %s", config_path)
    return settings


def model_config_path() -> Path:
    """Return the path of model.yaml in the config directory."""
    return default_config_dir() / MODEL_CONFIG_FILE


@dataclass(frozen=True)
class PipelineResources:
    """Bucket names, the state machine and the code version, from the function's environment.

    template.yaml sets these variables. `training_pipeline_arn` is set only for the functions
    that start executions.
    """

    raw_bucket: str
    curated_bucket: str
    quarantine_bucket: str
    models_bucket: str
    reports_bucket: str
    training_pipeline_arn: str | None
    git_commit: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PipelineResources:
        """Read the variables, or raise ConfigError naming every one that is missing or empty."""
        variables = os.environ if environ is None else environ
        required = {
            "raw_bucket": "RAW_BUCKET_NAME",
            "curated_bucket": "CURATED_BUCKET_NAME",
            "quarantine_bucket": "QUARANTINE_BUCKET_NAME",
            "models_bucket": "MODELS_BUCKET_NAME",
            "reports_bucket": "REPORTS_BUCKET_NAME",
        }
        missing = [name for name in required.values() if not variables.get(name)]
        if missing:
            raise ConfigError(
                f"environment variables {', '.join(missing)} are missing or empty; "
                "template.yaml sets them for every function"
            )
        return cls(
            **{field: variables[name] for field, name in required.items()},
            training_pipeline_arn=variables.get("TRAINING_PIPELINE_ARN") or None,
            git_commit=variables.get("GIT_COMMIT") or UNKNOWN_COMMIT,
        )
