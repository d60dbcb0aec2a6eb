"""Pipeline settings, the environment's resources, and the config files the layer ships."""

from __future__ import annotations

from pathlib import Path

import pytest
from mhpe.exceptions import ConfigError
from mhpe.pipeline.settings import PipelineResources, load_pipeline_settings

REPOSITORY = Path(__file__).resolve().parents[3]
ENVIRONMENT = {
    "RAW_BUCKET_NAME": "raw",
    "CURATED_BUCKET_NAME": "curated",
    "QUARANTINE_BUCKET_NAME": "quarantine",
    "MODELS_BUCKET_NAME": "models",
    "REPORTS_BUCKET_NAME": "reports",
}


def test_repository_settings_load() -> None:
    settings = load_pipeline_settings(REPOSITORY / "config" / "pipeline.yaml")

    assert settings.model_name == "house-price"
    assert settings.min_new_rows >= 0


@pytest.mark.parametrize(
    ("line", "key"),
    [("min_new_rows: -1", "min_new_rows"), ("promotion_metric: r2", "promotion_metric")],
)
def test_invalid_setting_names_key(tmp_path: Path, line: str, key: str) -> None:
    original = (REPOSITORY / "config" / "pipeline.yaml").read_text()
    name = line.split(":")[0]
    lines = [text for text in original.splitlines() if not text.startswith(f"{name}:")]
    path = tmp_path / "pipeline.yaml"
    path.write_text("\n".join([*lines, line]) + "\n")

    with pytest.raises(ConfigError, match=key):
        load_pipeline_settings(path)


def test_resources_name_missing_variables() -> None:
    environment = {**ENVIRONMENT, "MODELS_BUCKET_NAME": ""}

    with pytest.raises(ConfigError, match="MODELS_BUCKET_NAME"):
        PipelineResources.from_environment(environment)


def test_resources_default_git_commit() -> None:
    resources = PipelineResources.from_environment(ENVIRONMENT)

    assert resources.git_commit == "unknown"
    assert resources.training_pipeline_arn is None


def test_layer_ships_every_config_file() -> None:
    # The shared layer's config/ links to config/, so the layer's zip carries each file.
    layer_config = REPOSITORY / "layers" / "common" / "config"
    for source in sorted((REPOSITORY / "config").glob("*.yaml")):
        shipped = layer_config / source.name
        assert shipped.is_file(), f"{shipped} is missing"
        assert shipped.read_bytes() == source.read_bytes(), shipped
