"""Pricing houses: one model version per request, an audit record per house, a metric."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from mhpe.serving.audit import AuditTrail, RequestInfo, build_records
from mhpe.serving.champion import ChampionWatcher
from mhpe.serving.exceptions import PriceOutOfRangeError
from mhpe.serving.telemetry import ServeMetrics

logger = logging.getLogger(__name__)

PRICE_DECIMALS = 2
# No house sells for this much: the dearest US sales were under $300 million (an estimate).
# A linear model far outside its data returns such prices, e.g. $5e37 for a porch of
# 250,000 sqft, and they are rejected like a price of 0.
MAX_PRICE_USD = 10_000_000_000


@dataclass(frozen=True)
class PricedHouses:
    """Prices in US dollars, in request order, and the one model version behind them all."""

    model_name: str
    model_version: str
    prices_usd: list[float]


class PricingService:
    """Prices validated houses with the worker's current champion model."""

    def __init__(
        self,
        watcher: ChampionWatcher,
        audit: AuditTrail | None = None,
        metrics: ServeMetrics | None = None,
    ) -> None:
        self.watcher = watcher
        self._audit = audit
        self._metrics = metrics

    def price(self, houses: Sequence[BaseModel], request: RequestInfo) -> PricedHouses:
        """Price every house with the same model and audit each prediction.

        Raises ModelNotReadyError when no champion is loaded, and PriceOutOfRangeError,
        before anything is audited, when a price is not finite, rounds to 0 or below, or is
        above MAX_PRICE_USD.
        """
        self.watcher.poll()
        model = self.watcher.require()

        inputs = [house.model_dump() for house in houses]
        prices = [round(price, PRICE_DECIMALS) for price in model.predict(inputs)]
        unpriced = {
            item: price
            for item, price in enumerate(prices)
            if not math.isfinite(price) or not 0 < price <= MAX_PRICE_USD
        }
        if unpriced:
            raise PriceOutOfRangeError(model.version, unpriced, MAX_PRICE_USD)

        if self._audit is not None:
            self._audit.write(
                build_records(request, model.model_name, model.version, inputs, prices)
            )
        if self._metrics is not None:
            self._metrics.record_predictions(len(prices))
        return PricedHouses(model.model_name, model.version, prices)
