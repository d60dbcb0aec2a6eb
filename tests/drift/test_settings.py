"""drift.yaml: the shipped settings and the errors that name a bad key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mhpe.drift.settings import load_drift_settings
from mhpe.exceptions import ConfigError

from tests.drift.drift_support import REPOSITORY


def _write(tmp_path: Path, **changes: object) -> Path:
    content = yaml.safe_load((REPOSITORY / "config" / "drift.yaml").read_text())
    content.update(changes)
    path = tmp_path / "drift.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def test_shipped_settings_use_twenty_percent_share() -> None:
    settings = load_drift_settings()

    assert settings.data_drift_share == 0.2
    assert "Year_Sold" not in settings.numeric_columns
    assert "Gr_Liv_Area" in settings.numeric_columns
    assert "Neighborhood" in settings.categorical_columns


def test_share_above_one_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="data_drift_share = 1.5"):
        load_drift_settings(_write(tmp_path, data_drift_share=1.5))


def test_unknown_excluded_column_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not model input columns"):
        load_drift_settings(_write(tmp_path, exclude_columns=["Street"]))


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="drift_threshold"):
        load_drift_settings(_write(tmp_path, drift_threshold=0.3))
