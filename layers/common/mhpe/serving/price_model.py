"""A champion model ready to serve: its onnxruntime session and its manifest.

`PriceModel.from_onnx_bytes` returns a model only after every check has passed, so a
caller that swaps its reference to the new object never serves a half-loaded model.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import onnxruntime as ort

from mhpe.features import INPUT_COLUMNS
from mhpe.serving.exceptions import ModelRejectedError
from mhpe.serving.feeds import build_feeds
from mhpe.serving.manifest import ChampionManifest
from mhpe.serving.reference_house import REFERENCE_HOUSE

logger = logging.getLogger(__name__)

ONNX_TYPES = {"numeric": "tensor(float)", "categorical": "tensor(string)"}


def _session_options() -> ort.SessionOptions:
    # One thread each: a request prices one house or a small batch, and a Lambda function
    # of 1,024 MB gets less than one vCPU, so extra threads only add switching.
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


class PriceModel:
    """One promoted model version. Thread-safe: onnxruntime sessions allow concurrent run()."""

    def __init__(self, session: ort.InferenceSession, manifest: ChampionManifest) -> None:
        self._session = session
        self.manifest = manifest
        self.loaded_at = datetime.now(UTC).isoformat()
        self._output = manifest.onnx.output

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def model_name(self) -> str:
        return self.manifest.model_name

    @classmethod
    def from_onnx_bytes(cls, onnx_bytes: bytes, manifest: ChampionManifest) -> PriceModel:
        """Check and load a model; raise ModelRejectedError naming the failed check.

        The bytes must match the manifest's SHA-256, the graph must take exactly
        INPUT_COLUMNS with their types and produce the manifest's output, and the reference
        house must get a finite price above zero.
        """
        started = time.perf_counter()
        digest = hashlib.sha256(onnx_bytes).hexdigest()
        if digest != manifest.onnx.sha256:
            raise ModelRejectedError(
                manifest.version,
                f"SHA-256 of {manifest.onnx.location.uri} is {digest}, but the manifest "
                f"expects {manifest.onnx.sha256}; the file is corrupt or was replaced",
            )
        try:
            session = ort.InferenceSession(
                onnx_bytes, sess_options=_session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as error:
            raise ModelRejectedError(
                manifest.version, f"onnxruntime cannot load {manifest.onnx.location.uri}: {error}"
            ) from error
        _check_interface(session, manifest)

        model = cls(session, manifest)
        (price,) = model.predict([REFERENCE_HOUSE])
        if not math.isfinite(price) or price <= 0:
            raise ModelRejectedError(
                manifest.version, f"the reference house got the price {price!r}, not above 0"
            )
        logger.info(
            "loaded model %s version %s (%d bytes) in %.0f ms; reference house $%.0f",
            manifest.model_name,
            manifest.version,
            len(onnx_bytes),
            (time.perf_counter() - started) * 1000,
            price,
        )
        return model

    def predict(self, houses: Sequence[Mapping[str, Any]]) -> list[float]:
        """Price houses keyed by column name; return US dollars, one per house, in order."""
        (prices,) = self._session.run([self._output], build_feeds(houses))
        return [float(price) for price in np.asarray(prices).reshape(-1)]


def _check_interface(session: ort.InferenceSession, manifest: ChampionManifest) -> None:
    inputs = {node.name: node.type for node in session.get_inputs()}
    expected = {column.name: ONNX_TYPES[column.kind] for column in INPUT_COLUMNS}
    missing = sorted(set(expected) - set(inputs))
    unknown = sorted(set(inputs) - set(expected))
    if missing or unknown:
        raise ModelRejectedError(
            manifest.version,
            f"its inputs differ from INPUT_COLUMNS: missing {missing}, unknown {unknown}; "
            "deploy a serve function built with the model's feature schema",
        )
    wrong_types = {
        name: inputs[name] for name, onnx_type in expected.items() if inputs[name] != onnx_type
    }
    if wrong_types:
        raise ModelRejectedError(
            manifest.version,
            f"inputs with the wrong type {wrong_types}; numeric columns must be "
            f"{ONNX_TYPES['numeric']} and categorical ones {ONNX_TYPES['categorical']}",
        )
    outputs = [node.name for node in session.get_outputs()]
    if manifest.onnx.output not in outputs:
        raise ModelRejectedError(
            manifest.version,
            f"the graph has no output {manifest.onnx.output!r}; its outputs are {outputs}",
        )
