"""A thin MLflow client for the pipeline: training runs, the model registry and its aliases.

The tracking URI comes from MHPE_MLFLOW_TRACKING_URI when set (template.yaml's
MlflowTrackingUri parameter), else from MLflow's own MLFLOW_TRACKING_URI, which the local
cloud gives every function. Models register under one name with two aliases: `challenger`
(the latest trained model) and `champion` (the model in production).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mhpe.exceptions import MhpeError

if TYPE_CHECKING:
    from mhpe.training import TrainingResult

logger = logging.getLogger(__name__)

TRACKING_URI_ENV = "MHPE_MLFLOW_TRACKING_URI"
CHALLENGER_ALIAS = "challenger"
CHAMPION_ALIAS = "champion"
MODEL_ARTIFACT_NAME = "model"
ONNX_OUTPUT_NAME = "price_usd"
# Without explicit requirements, log_model infers them by importing and inspecting the model,
# which takes seconds. Serving an ONNX model needs only these.
ONNX_PIP_REQUIREMENTS = ("onnxruntime==1.31.1", "numpy")
# MLflow's limit on one parameter value, in characters.
PARAM_VALUE_MAX_LENGTH = 6000
_MISSING_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


class RegistryError(MhpeError):
    """The model registry lacks what the pipeline expects, e.g. a model version."""


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered model version and the run that produced it."""

    model_name: str
    version: str
    run_id: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "run_id": self.run_id,
            "source": self.source,
        }


def configure_tracking() -> str | None:
    """Point MLflow at MHPE_MLFLOW_TRACKING_URI when it is set, and return the URI in use."""
    import mlflow

    configured = os.environ.get(TRACKING_URI_ENV)
    if configured:
        mlflow.set_tracking_uri(configured)
    return mlflow.get_tracking_uri()


def onnx_signature(feature_schema: list[dict[str, str]]) -> Any:
    """Build the MLflow signature of an exported model: one column per input, price out."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    inputs = Schema(
        [
            ColSpec("float" if column["type"] == "float32" else "string", column["name"])
            for column in feature_schema
        ]
    )
    outputs = Schema([TensorSpec(np.dtype(np.float32), (-1, 1), ONNX_OUTPUT_NAME)])
    return ModelSignature(inputs=inputs, outputs=outputs)


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:PARAM_VALUE_MAX_LENGTH]


class ModelRegistry:
    """Logs training runs, registers models and moves aliases for one registered model."""

    def __init__(self, model_name: str, experiment_name: str) -> None:
        import mlflow

        self.model_name = model_name
        self.experiment_name = experiment_name
        self.tracking_uri = configure_tracking()
        self._client = mlflow.MlflowClient()

    def log_training(
        self,
        result: TrainingResult,
        *,
        dataset_version: str,
        git_commit: str,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
    ) -> ModelVersionInfo:
        """Log one training run with its ONNX model and register it as a new model version.

        The run records the strategy's chosen parameters and `params` as parameters, the
        holdout metrics and the baseline's (prefixed baseline_) as metrics, the dataset
        version and git commit as tags, and the feature schema, CV results and holdout
        predictions as artifacts.
        """
        import mlflow
        import mlflow.onnx
        import onnx

        mlflow.set_experiment(self.experiment_name)
        run_tags = {
            **tags,
            "dataset_version": dataset_version,
            "mlflow.source.git.commit": git_commit,
            "strategy": result.strategy,
        }
        with mlflow.start_run(tags=run_tags) as run:
            all_params = {**{f"model.{k}": v for k, v in result.params.items()}, **params}
            mlflow.log_params({key: _param_value(value) for key, value in all_params.items()})
            mlflow.log_metrics(
                {
                    **result.metrics,
                    **{
                        f"baseline_{name}": value for name, value in result.baseline_metrics.items()
                    },
                    "cv_best_rmse_log": result.cv_results[0].mean_rmse_log,
                    "onnx_parity_max_relative_difference": result.parity.max_relative_difference,
                    "train_seconds": result.train_seconds,
                }
            )
            mlflow.log_dict(result.feature_schema, "feature_schema.json")
            cv = [
                {"params": candidate.params, "fold_rmse_log": candidate.fold_rmse_log}
                for candidate in result.cv_results
            ]
            mlflow.log_dict(cv, "cv_results.json")
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / "holdout_predictions.csv"
                result.holdout_predictions.to_csv(path, index=False)
                mlflow.log_artifact(str(path))

            model_info = mlflow.onnx.log_model(
                onnx.load_from_string(result.onnx_bytes),
                name=MODEL_ARTIFACT_NAME,
                signature=onnx_signature(result.feature_schema),
                pip_requirements=list(ONNX_PIP_REQUIREMENTS),
                registered_model_name=self.model_name,
                save_as_external_data=False,
            )
            run_id = run.info.run_id

        version = str(model_info.registered_model_version)
        logger.info("registered %s version %s from run %s", self.model_name, version, run_id)
        return ModelVersionInfo(self.model_name, version, run_id, model_info.model_uri)

    def set_alias(self, alias: str, version: str) -> None:
        self._client.set_registered_model_alias(self.model_name, alias, version)
        logger.info("alias %s of %s now points to version %s", alias, self.model_name, version)

    def version_by_alias(self, alias: str) -> ModelVersionInfo | None:
        """Return the version an alias points to, or None when the alias or model is absent."""
        from mlflow.exceptions import MlflowException

        try:
            found = self._client.get_model_version_by_alias(self.model_name, alias)
        except MlflowException as error:
            if error.error_code in _MISSING_CODES:
                return None
            raise
        return ModelVersionInfo(self.model_name, str(found.version), found.run_id, found.source)

    def get_version(self, version: str) -> ModelVersionInfo:
        from mlflow.exceptions import MlflowException

        try:
            found = self._client.get_model_version(self.model_name, version)
        except MlflowException as error:
            raise RegistryError(
                f"model {self.model_name} version {version} not found in {self.tracking_uri}: "
                f"{error.message}"
            ) from error
        return ModelVersionInfo(self.model_name, str(found.version), found.run_id, found.source)

    def load_onnx(self, version: str) -> bytes:
        """Download a version's ONNX model and return its serialised bytes."""
        import mlflow.onnx

        model = mlflow.onnx.load_model(f"models:/{self.model_name}/{version}")
        return model.SerializeToString()

    def log_to_run(
        self, run_id: str, metrics: Mapping[str, float], tags: Mapping[str, str]
    ) -> None:
        """Add metrics and tags to a finished run, e.g. the evaluation's decision."""
        for name, value in metrics.items():
            self._client.log_metric(run_id, name, float(value))
        for name, value in tags.items():
            self._client.set_tag(run_id, name, value)

    def tag_version(self, version: str, tags: Mapping[str, str]) -> None:
        for name, value in tags.items():
            self._client.set_model_version_tag(self.model_name, version, name, value)
