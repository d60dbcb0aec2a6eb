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


class PriceOutOfRangeError(MhpeError, ValueError):
    """The model priced a validated house outside (0, max_price_usd], or not at all (NaN).

    The reference-house check at load makes this a property of the input: values far
    outside the training data that the request bounds let through. `items` maps each such
    house's position in the request to its price.
    """

    def __init__(self, model_version: str, items: dict[int, float], max_price_usd: float) -> None:
        self.model_version = model_version
        self.items = items
        self.max_price_usd = max_price_usd
        prices = ", ".join(f"house {item}: {price!r}" for item, price in items.items())
        super().__init__(
            f"model version {model_version} gave no finite price above 0 and at most "
            f"${max_price_usd:,.0f} ({prices}); the houses' values lie too far outside the "
            "sales the model was trained on"
        )
