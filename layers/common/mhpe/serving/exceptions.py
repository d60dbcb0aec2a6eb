"""Exceptions raised by the serving package."""

from __future__ import annotations

from mhpe.exceptions import MhpeError


class ServingConfigError(MhpeError, ValueError):
    """An environment variable of the serve function is missing or has an invalid value."""


class ModelNotReadyError(MhpeError):
    """No champion model is loaded yet, so the request cannot be priced."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"no model promoted yet: {reason}")


class ManifestError(MhpeError, ValueError):
    """The champion pointer cannot be parsed or lacks a field that serving needs."""


class ModelRejectedError(MhpeError, ValueError):
    """A promoted model failed a check before it could serve, so the current one stays.

    The checks are the SHA-256 of the ONNX bytes, the inputs and output against
    `mhpe.features.INPUT_COLUMNS`, and a finite, positive price for a reference house.
    """

    def __init__(self, version: str, problem: str) -> None:
        self.version = version
        self.problem = problem
        super().__init__(f"model version {version} rejected: {problem}")
