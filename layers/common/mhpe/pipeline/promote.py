"""Promote: move the champion alias and publish the model for serving without MLflow.

The models bucket gets, per promoted version, `models/{name}/v{version}/model.onnx` and
`manifest.json` (written once), and the pointer `champion/manifest.json`, which serving
reads first: the manifest with `model` (where the ONNX file is), `promoted_at` and
`replaced_version`. The bucket's versioning keeps every earlier pointer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mhpe.pipeline.errors import ChampionChangedError, PipelineInputError
from mhpe.pipeline.settings import PipelineResources, PipelineSettings
from mhpe.pipeline.state import PipelineState
from mhpe.registry import CHAMPION_ALIAS, ModelRegistry
from mhpe.storage import ObjectChangedError, ObjectLocation, ObjectStore

logger = logging.getLogger(__name__)

MODELS_PREFIX = "models/"
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
CHAMPION_POINTER_KEY = "champion/manifest.json"
MANIFEST_SCHEMA_VERSION = 1
ONNX_CONTENT_TYPE = "application/octet-stream"
MAX_POINTER_ATTEMPTS = 3

RegistryFactory = Callable[[PipelineSettings], ModelRegistry]


def _default_registry(settings: PipelineSettings) -> ModelRegistry:
    return ModelRegistry(settings.model_name, settings.experiment_name)


def model_prefix(model_name: str, version: str) -> str:
    return f"{MODELS_PREFIX}{model_name}/v{version}/"


def build_manifest(
    training: dict[str, Any],
    evaluation: dict[str, Any],
    onnx_bytes: bytes,
    model_location: ObjectLocation,
) -> dict[str, Any]:
    """Describe a promoted model: what serving loads, how it was trained, how it scored."""
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "model_name": training["model_name"],
        "version": str(training["model_version"]),
        "run_id": training["run_id"],
        "strategy": training["strategy"],
        "params": training["params"],
        "metrics": training["metrics"],
        "baseline_metrics": training["baseline_metrics"],
        "evaluation": {
            "metric": evaluation["metric"],
            "compared_with": evaluation["compared_with"],
            "reason": evaluation["reason"],
            "holdout_rows": evaluation["holdout_rows"],
            "challenger_metrics": evaluation["challenger"]["metrics"],
            "champion": evaluation["champion"],
        },
        "dataset_version": training["dataset_version"],
        "training_rows": training["training_rows"],
        "training_months": training["training_months"],
        "holdout_months": training["holdout_months"],
        "feature_schema": training["feature_schema"],
        "onnx": {
            "bucket": model_location.bucket,
            "key": model_location.key,
            "version_id": model_location.version_id,
            "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
            "size_bytes": len(onnx_bytes),
            "output": "price_usd",
        },
        "trained_at": training["trained_at"],
        "git_commit": training["git_commit"],
    }


def _require_promotion(state: PipelineState) -> tuple[dict[str, Any], dict[str, Any]]:
    training, evaluation = state.training or {}, state.evaluation or {}
    if not training.get("trained") or "model_version" not in training:
        raise PipelineInputError("promote needs a trained challenger in $.training")
    if evaluation.get("promote") is not True:
        raise PipelineInputError(
            f"promote needs $.evaluation.promote = true, got {evaluation.get('promote')!r}"
        )
    return training, evaluation


def run_promote_step(
    state: PipelineState,
    *,
    settings: PipelineSettings,
    resources: PipelineResources,
    store: ObjectStore,
    registry_factory: RegistryFactory = _default_registry,
) -> dict[str, Any]:
    """Make the evaluated challenger the champion and return where its files were written.

    Raises ChampionChangedError when the champion is neither the one the challenger was
    evaluated against nor the challenger itself, so that the state machine evaluates again.
    """
    training, evaluation = _require_promotion(state)
    version = str(training["model_version"])
    evaluated = evaluation["champion"]["model_version"] if evaluation.get("champion") else None
    registry = registry_factory(settings)

    current = registry.version_by_alias(CHAMPION_ALIAS)
    current_version = current.version if current else None
    if current_version not in (evaluated, version):
        raise ChampionChangedError(settings.model_name, evaluated, current_version)

    onnx_bytes = registry.load_onnx(version)
    prefix = model_prefix(settings.model_name, version)
    model_location = store.create(
        resources.models_bucket, prefix + MODEL_FILE, onnx_bytes, content_type=ONNX_CONTENT_TYPE
    )
    manifest = build_manifest(training, evaluation, onnx_bytes, model_location)
    manifest_location = store.create(
        resources.models_bucket,
        prefix + MANIFEST_FILE,
        json.dumps(manifest, indent=2).encode(),
        content_type="application/json",
    )

    promoted_at = datetime.now(UTC).isoformat()
    registry.set_alias(CHAMPION_ALIAS, version)
    registry.tag_version(
        version, {"promoted_at": promoted_at, "execution_arn": state.execution_arn}
    )
    logger.info(
        "promoted %s version %s to champion (replaced %s)",
        settings.model_name,
        version,
        current_version or "no champion",
    )

    pointer = {
        **manifest,
        "manifest": manifest_location.to_dict(),
        "promoted_at": promoted_at,
        "replaced_version": current_version if current_version != version else evaluated,
        "execution_arn": state.execution_arn,
    }
    pointer_location = _publish_pointer(store, resources.models_bucket, registry, version, pointer)
    return {
        "promoted": pointer_location is not None,
        "model_name": settings.model_name,
        "model_version": version,
        "replaced_version": pointer["replaced_version"],
        "model": model_location.to_dict(),
        "manifest": manifest_location.to_dict(),
        "champion_pointer": pointer_location.to_dict() if pointer_location else None,
        "promoted_at": promoted_at,
    }


def _publish_pointer(
    store: ObjectStore,
    bucket: str,
    registry: ModelRegistry,
    version: str,
    pointer: dict[str, Any],
) -> ObjectLocation | None:
    """Write champion/manifest.json while the alias still names `version`.

    Returns None when another promotion moved the alias meanwhile, because its own pointer
    write then describes the champion.
    """
    body = json.dumps(pointer, indent=2).encode()
    for attempt in range(1, MAX_POINTER_ATTEMPTS + 1):
        current = store.read_latest(bucket, CHAMPION_POINTER_KEY)
        champion = registry.version_by_alias(CHAMPION_ALIAS)
        if champion is None or champion.version != version:
            logger.warning(
                "champion moved to version %s during the promotion of version %s; "
                "the pointer is left to that promotion",
                champion.version if champion else "(none)",
                version,
            )
            return None
        try:
            written = store.replace(
                bucket,
                CHAMPION_POINTER_KEY,
                body,
                expected_etag=current.etag if current else None,
            )
        except ObjectChangedError:
            logger.info("champion pointer changed during attempt %d; reading it again", attempt)
            continue
        return written.location
    raise ObjectChangedError(f"s3://{bucket}/{CHAMPION_POINTER_KEY}")
