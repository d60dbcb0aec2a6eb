"""The champion pointer that the promote step writes, as serving reads it.

The models bucket holds `champion/manifest.json`: the promoted version's manifest plus
`promoted_at`, `replaced_version` and `execution_arn`. Serving needs the ONNX file's
location and SHA-256; the rest is what GET /model returns. The key and the layout are
defined by `mhpe.pipeline.promote`; they are repeated here because importing the pipeline
package would load PyYAML and the pipeline's settings on the serving path, and a unit
test keeps the two equal.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mhpe.serving.exceptions import ManifestError
from mhpe.storage import ObjectLocation

logger = logging.getLogger(__name__)

CHAMPION_POINTER_KEY = "champion/manifest.json"
CHAMPION_ALIAS = "champion"
PRICE_OUTPUT = "price_usd"
SUPPORTED_SCHEMA_VERSION = 1


class OnnxArtifact(BaseModel):
    """Where the promoted ONNX file is, and the digest its bytes must have."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    version_id: str | None = None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(gt=0)
    output: str = PRICE_OUTPUT

    @property
    def location(self) -> ObjectLocation:
        return ObjectLocation(self.bucket, self.key, self.version_id)


class ChampionManifest(BaseModel):
    """The champion pointer's fields that serving reads; other fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, protected_namespaces=())

    schema_version: int = SUPPORTED_SCHEMA_VERSION
    model_name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    onnx: OnnxArtifact
    strategy: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    baseline_metrics: dict[str, float] = Field(default_factory=dict)
    dataset_version: str | None = None
    training_rows: int | None = None
    training_months: list[str] | None = None
    holdout_months: list[str] | None = None
    trained_at: str | None = None
    promoted_at: str | None = None
    replaced_version: str | None = None
    git_commit: str | None = None


def parse_manifest(body: bytes, source: str) -> ChampionManifest:
    """Parse the champion pointer; raise ManifestError naming `source` and the bad field."""
    try:
        manifest = ChampionManifest.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or 'document'}: {detail['msg']}"
            for detail in error.errors()
        )
        raise ManifestError(f"champion pointer {source} is invalid: {problems}") from None
    if manifest.schema_version != SUPPORTED_SCHEMA_VERSION:
        raise ManifestError(
            f"champion pointer {source} has schema_version {manifest.schema_version}; this "
            f"serve function reads version {SUPPORTED_SCHEMA_VERSION}, so deploy a matching one"
        )
    return manifest


def describe(manifest: ChampionManifest) -> dict[str, Any]:
    """Return the fields of GET /model: version, alias, metrics, dataset and times."""
    return {
        "model_name": manifest.model_name,
        "version": manifest.version,
        "alias": CHAMPION_ALIAS,
        "strategy": manifest.strategy,
        "metrics": manifest.metrics,
        "baseline_metrics": manifest.baseline_metrics,
        "dataset_version": manifest.dataset_version,
        "training_rows": manifest.training_rows,
        "training_months": manifest.training_months,
        "holdout_months": manifest.holdout_months,
        "trained_at": manifest.trained_at,
        "promoted_at": manifest.promoted_at,
        "replaced_version": manifest.replaced_version,
        "git_commit": manifest.git_commit,
        "onnx_sha256": manifest.onnx.sha256,
    }
