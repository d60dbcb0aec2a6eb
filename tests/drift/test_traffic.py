"""Replaying houses: the pacer, the request bodies, and retries against a real HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from mhpe.markets.traffic import (
    ApiTarget,
    QuotaExceededError,
    RequestPacer,
    houses_from_sales,
    replay_houses,
)

from tests.drift.drift_support import ames_between, saratoga_sales


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_spaces_requests_at_rate() -> None:
    clock = FakeClock()
    pacer = RequestPacer(2.0, 5, clock=clock, sleep=clock.sleep)

    for _ in range(5):
        pacer.wait()

    assert clock.now == pytest.approx(2.0)
    assert clock.slept == [pytest.approx(0.5)] * 4


def test_pacer_allows_burst_after_idle() -> None:
    clock = FakeClock()
    pacer = RequestPacer(1.0, 3, clock=clock, sleep=clock.sleep)
    pacer.wait()
    clock.now += 10

    for _ in range(3):
        pacer.wait()

    assert clock.slept == []


def test_pacer_rejects_zero_rate() -> None:
    with pytest.raises(ValueError, match="rate 0"):
        RequestPacer(0.0, 1)


def test_houses_drop_price_and_missing_values() -> None:
    (house,) = houses_from_sales(saratoga_sales(), 1, seed=0)

    assert "Sale_Price" not in house
    assert house["Garage_Area"] is None
    assert isinstance(house["Lot_Area"], float)
    assert json.loads(json.dumps(house)) == house


def test_houses_reject_count_above_market() -> None:
    with pytest.raises(ValueError, match="count 5000 is invalid"):
        houses_from_sales(saratoga_sales(), 5000, seed=0)


class _PricingHandler(BaseHTTPRequestHandler):
    """Responds to POST /dev/predict: 429 for the first `throttled` requests, then a price."""

    throttled = 0
    quota_spent = False
    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        server = type(self)
        if server.quota_spent:
            self._answer(429, {"message": "Limit Exceeded"})
        elif server.throttled > 0:
            server.throttled -= 1
            self._answer(429, {"message": "Too Many Requests"})
        elif self.headers.get("x-api-key") != "demo-key":
            self._answer(403, {"message": "Forbidden"})
        else:
            server.bodies.append(body)
            self._answer(200, {"price_usd": 150000.0, "model_version": "1"})

    def _answer(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[ApiTarget]:
    _PricingHandler.throttled = 0
    _PricingHandler.quota_spent = False
    _PricingHandler.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PricingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ApiTarget(f"http://127.0.0.1:{server.server_port}/dev/", "demo-key", 200.0, 10)
    finally:
        server.shutdown()
        thread.join(5)


def test_replay_retries_throttled_requests(api: ApiTarget) -> None:
    _PricingHandler.throttled = 2
    houses = houses_from_sales(ames_between("2008-01", "2008-01"), 5, seed=0)

    result = replay_houses(houses, api)

    assert result.priced == 5
    assert result.failed == 0
    assert result.throttled_retries == 2
    assert _PricingHandler.bodies == houses


def test_replay_counts_rejected_requests(api: ApiTarget) -> None:
    wrong_key = ApiTarget(api.base_url, "other-key", api.rate_limit, api.burst_limit)
    houses = houses_from_sales(ames_between("2008-01", "2008-01"), 3, seed=0)

    result = replay_houses(houses, wrong_key)

    assert result.priced == 0
    assert result.failures == {"HTTP 403": 3}


def test_replay_stops_when_quota_spent(api: ApiTarget) -> None:
    _PricingHandler.quota_spent = True
    houses = houses_from_sales(ames_between("2008-01", "2008-01"), 3, seed=0)

    with pytest.raises(QuotaExceededError, match="quota is spent after 0 priced houses"):
        replay_houses(houses, api)
