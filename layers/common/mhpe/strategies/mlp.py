"""Multilayer perceptron in PyTorch (CPU), wrapped as a scikit-learn regressor.

The preprocessing (imputation, standardisation, one-hot) is a scikit-learn
ColumnTransformer exported by skl2onnx; the network is exported by
torch.onnx.export(dynamo=False); `onnx.compose.merge_models` joins the two graphs, the
transformer's output feeding the network's `features` input.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import onnx
import onnx.compose
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from mhpe import onnx_export
from mhpe.strategies.base import Strategy
from mhpe.strategies.preprocessing import scaled_preprocessor

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

NETWORK_INPUT = "features"
NETWORK_OUTPUT = "log_price"


class _Network(torch.nn.Module):
    """Fully connected ReLU layers; the output is de-standardised to the target's units."""

    def __init__(
        self,
        n_features: int,
        hidden_units: Sequence[int],
        dropout: float,
        target_mean: float,
        target_std: float,
    ) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        width = n_features
        for units in hidden_units:
            layers += [torch.nn.Linear(width, units), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
            width = units
        layers.append(torch.nn.Linear(width, 1))
        self.layers = torch.nn.Sequential(*layers)
        self.register_buffer("target_mean", torch.tensor(target_mean, dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(target_std, dtype=torch.float32))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features) * self.target_std + self.target_mean


class _Ensemble(torch.nn.Module):
    """The mean prediction of networks trained alike from different random seeds."""

    def __init__(self, networks: Sequence[_Network]) -> None:
        super().__init__()
        self.networks = torch.nn.ModuleList(networks)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.stack([network(features) for network in self.networks]).mean(dim=0)


class TorchMLPRegressor(RegressorMixin, BaseEstimator):
    """A PyTorch MLP with scikit-learn's fit/predict, trained with Adam on squared error.

    The target is standardised for training, and the network's forward pass undoes that,
    so the exported network predicts in the target's units. `ensemble_size` networks are
    trained from the seeds `random_state`, `random_state + 1`, ... and their mean is the
    prediction, which averages out the variance of a single network's random start.
    Training is deterministic for a given `random_state` on one machine.
    """

    def __init__(
        self,
        hidden_units: Sequence[int] = (128, 64),
        dropout: float = 0.1,
        epochs: int = 200,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        random_state: int = 0,
        threads: int = 1,
        ensemble_size: int = 1,
    ) -> None:
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.threads = threads
        self.ensemble_size = ensemble_size

    def fit(self, X: np.ndarray, y: np.ndarray) -> TorchMLPRegressor:
        # One thread trained this small network faster than two: 6.5 s against 10.9 s for
        # 100 epochs on 2,366 sales, on a 2-core AMD EPYC shared with other jobs. torch's
        # thread count is process-wide, so it is restored afterwards.
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(int(self.threads))
        try:
            return self._fit(X, y)
        finally:
            torch.set_num_threads(previous_threads)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> TorchMLPRegressor:
        features = torch.as_tensor(np.asarray(X, dtype=np.float32))
        target = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(features) != len(target):
            raise ValueError(f"X has {len(features)} rows but y has {len(target)}")

        if int(self.ensemble_size) < 1:
            raise ValueError(f"ensemble_size must be at least 1, got {self.ensemble_size!r}")

        target_mean = float(target.mean())
        target_std = float(target.std()) or 1.0
        standardised = torch.as_tensor(((target - target_mean) / target_std).astype(np.float32))
        networks = [
            self._train_network(features, standardised, target_mean, target_std, seed)
            for seed in range(
                int(self.random_state), int(self.random_state) + int(self.ensemble_size)
            )
        ]
        self.network_ = _Ensemble(networks).eval()
        self.n_features_in_ = int(features.shape[1])
        return self

    def _train_network(
        self,
        features: torch.Tensor,
        standardised: torch.Tensor,
        target_mean: float,
        target_std: float,
        seed: int,
    ) -> _Network:
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        network = _Network(
            features.shape[1], self.hidden_units, self.dropout, target_mean, target_std
        )
        optimizer = torch.optim.AdamW(
            network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        loss_fn = torch.nn.MSELoss()

        network.train()
        for _ in range(int(self.epochs)):
            order = torch.randperm(len(features), generator=generator)
            for start in range(0, len(features), int(self.batch_size)):
                batch = order[start : start + int(self.batch_size)]
                optimizer.zero_grad()
                prediction = network.layers(features[batch]).reshape(-1)
                loss = loss_fn(prediction, standardised[batch])
                loss.backward()
                optimizer.step()
        return network.eval()

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "network_")
        features = torch.as_tensor(np.asarray(X, dtype=np.float32))
        with torch.no_grad():
            prediction = self.network_(features)
        return prediction.numpy().reshape(-1).astype(np.float64)

    def to_onnx_model(self) -> onnx.ModelProto:
        """Export the network: input `features` (n, n_features) float32, output (n, 1)."""
        check_is_fitted(self, "network_")
        buffer = io.BytesIO()
        dummy = torch.zeros(1, self.n_features_in_, dtype=torch.float32)
        # The TorchScript exporter (dynamo=False) is deprecated in torch 2.13 but needs no
        # extra package (the dynamo exporter needs onnxscript); its warnings are expected.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                self.network_,
                (dummy,),
                buffer,
                input_names=[NETWORK_INPUT],
                output_names=[NETWORK_OUTPUT],
                dynamic_axes={NETWORK_INPUT: {0: "n"}, NETWORK_OUTPUT: {0: "n"}},
                opset_version=onnx_export.TARGET_OPSET[""],
                dynamo=False,
            )
        return onnx.load_from_string(buffer.getvalue())


class MLPStrategy(Strategy):
    name: ClassVar[str] = "mlp"
    param_names: ClassVar[tuple[str, ...]] = (
        "hidden_units",
        "dropout",
        "epochs",
        "batch_size",
        "learning_rate",
        "weight_decay",
        "random_state",
        "threads",
        "ensemble_size",
    )

    def build_pipeline(self, params: Mapping[str, Any]) -> Pipeline:
        network = TorchMLPRegressor(
            hidden_units=tuple(int(units) for units in params["hidden_units"]),
            dropout=float(params["dropout"]),
            epochs=int(params["epochs"]),
            batch_size=int(params["batch_size"]),
            learning_rate=float(params["learning_rate"]),
            weight_decay=float(params["weight_decay"]),
            random_state=int(params["random_state"]),
            threads=int(params["threads"]),
            ensemble_size=int(params["ensemble_size"]),
        )
        return Pipeline([("preprocess", scaled_preprocessor()), ("network", network)])

    def log_price_graph(self, pipeline: Any, sample_frame: pd.DataFrame) -> onnx.ModelProto:
        preprocess = onnx_export.convert_log_price_pipeline(pipeline[:-1], sample_frame)
        network = pipeline[-1].to_onnx_model()

        # merge_models needs equal IR versions and opsets in both graphs.
        for model in (preprocess, network):
            onnx_export.set_opsets(model)
        (preprocess_output,) = [output.name for output in preprocess.graph.output]
        return onnx.compose.merge_models(
            preprocess,
            network,
            io_map=[(preprocess_output, NETWORK_INPUT)],
            prefix2="network_",
        )
