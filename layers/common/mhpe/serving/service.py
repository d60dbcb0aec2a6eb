"""Pricing houses: one model version per request, an audit record per house, a metric."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from mhpe.serving.audit import AuditTrail, RequestInfo, build_records
from mhpe.serving.champion import ChampionWatcher
from mhpe.serving.telemetry import ServeMetrics

logger = logging.getLogger(__name__)

PRICE_DECIMALS = 2


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

        Raises ModelNotReadyError when no champion is loaded.
        """
        self.watcher.poll()
        model = self.watcher.require()

        inputs = [house.model_dump() for house in houses]
        prices = [round(price, PRICE_DECIMALS) for price in model.predict(inputs)]

        if self._audit is not None:
            self._audit.write(
                build_records(request, model.model_name, model.version, inputs, prices)
            )
        if self._metrics is not None:
            self._metrics.record_predictions(len(prices))
        return PricedHouses(model.model_name, model.version, prices)
