"""Live traffic from real markets: houses sent to the pricing API, paced to the usage plan.

The API's usage plan admits `rate_limit` requests per second with a burst of `burst_limit`
per key, and returns 429 beyond it. `RequestPacer` is a client-side token bucket a little
slower than the plan, so a replay is not throttled. A 429 "Too Many Requests" that still
happens (another client spent the key's tokens) is retried after one token's time. A 429
"Limit Exceeded" (the quota) stops the replay.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import requests

from mhpe.schema import TARGET_COLUMN

logger = logging.getLogger(__name__)

PREDICT_PATH = "predict"
# The pacer runs this much slower than the usage plan, so rounding never meets a 429.
PACING_MARGIN = 0.95
MAX_THROTTLED_ATTEMPTS = 5
REQUEST_TIMEOUT_S = 30.0
QUOTA_MESSAGE = "Limit Exceeded"
# The local cloud accepts any credentials; these are never sent anywhere else.
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class QuotaExceededError(RuntimeError):
    """The API key's quota is spent; no further request can succeed in this period."""


@dataclass(frozen=True)
class ApiTarget:
    """The API that receives houses: its base URL, the key, and the usage plan's limits."""

    base_url: str
    api_key: str = field(repr=False)
    rate_limit: float
    burst_limit: int

    @property
    def predict_url(self) -> str:
        return self.base_url.rstrip("/") + "/" + PREDICT_PATH


def local_api_target(state_dir: Path, stack_name: str) -> ApiTarget:
    """Find the API of a stack deployed to the local cloud, with its demo key and usage plan.

    Reads the stack record that `mhpe deploy` writes (`{state_dir}/stacks/{stack}.json`),
    then the key's value and usage plan from the cloud's API Gateway. Raises
    FileNotFoundError naming the record when the stack was never deployed there.
    """
    record_path = state_dir / "stacks" / f"{stack_name}.json"
    if not record_path.is_file():
        raise FileNotFoundError(
            f"no stack {stack_name} in {state_dir} ({record_path} not found); deploy it with "
            "`mhpe deploy` or pass --url and --api-key"
        )
    record = json.loads(record_path.read_text())
    outputs = record["outputs"]
    endpoint_url = _running_endpoint(state_dir) or record["endpoint_url"]
    apigateway = boto3.client(
        "apigateway",
        endpoint_url=endpoint_url,
        region_name=record.get("region", "us-east-1"),
        **LOCAL_CREDENTIALS,
    )
    key_id = outputs["ApiKeyId"]
    api_key = apigateway.get_api_key(apiKey=key_id, includeValue=True)["value"]
    plans = apigateway.get_usage_plans(keyId=key_id)["items"]
    throttle = plans[0].get("throttle", {}) if plans else {}
    rate_limit = float(throttle.get("rateLimit", 0.0))
    burst_limit = int(throttle.get("burstLimit", 1))
    if not rate_limit > 0:
        raise ValueError(
            f"the usage plan of API key {key_id} has no positive rate limit "
            f"({throttle!r}); pass --rate"
        )
    return ApiTarget(str(outputs["ApiUrl"]), api_key, rate_limit, max(burst_limit, 1))


def _running_endpoint(state_dir: Path) -> str | None:
    """Return the endpoint that the running local cloud recorded, if any."""
    try:
        return json.loads((state_dir / "localcloud.json").read_text()).get("endpoint_url")
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class RequestPacer:
    """A token bucket: `wait()` returns when one request may go, at most `rate` per second.

    The bucket contains at most `burst` tokens and starts with one, so a replay never opens
    with a burst that an earlier client may have spent already.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"rate {rate} is invalid: it must be a finite number above 0")
        if burst < 1:
            raise ValueError(f"burst {burst} is invalid: it must be 1 or more")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = 1.0
        self._updated = clock()

    def wait(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < 1.0:
            delay_s = (1.0 - self._tokens) / self.rate
            self._sleep(delay_s)
            self._tokens = 1.0
            self._updated = self._clock()
        self._tokens -= 1.0


@dataclass
class ReplayResult:
    """The tally of a replay: requests sent, houses priced, failures by status."""

    sent: int = 0
    priced: int = 0
    throttled_retries: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    prices_usd: list[float] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "priced": self.priced,
            "failed": self.failed,
            "failures": dict(self.failures),
            "throttled_retries": self.throttled_retries,
            "elapsed_s": round(self.elapsed_s, 2),
        }


def houses_from_sales(sales: pd.DataFrame, count: int | None, seed: int) -> list[dict[str, Any]]:
    """Pick `count` sales at random (all when None) and return them as API bodies.

    The price is dropped and missing values become null. Raises ValueError when `count`
    exceeds the number of sales.
    """
    if count is not None and not 1 <= count <= len(sales):
        raise ValueError(f"count {count} is invalid: the market has 1 to {len(sales)} sales")
    picked = sales if count is None else sales.sample(n=count, random_state=seed)
    houses = picked.drop(columns=[TARGET_COLUMN], errors="ignore").astype(object)
    houses = houses.where(houses.notna(), None)
    return [_plain(record) for record in houses.to_dict(orient="records")]


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """Turn numpy scalars into Python numbers, so that the body serialises as JSON."""
    return {key: value.item() if hasattr(value, "item") else value for key, value in record.items()}


def replay_houses(
    houses: Iterable[dict[str, Any]],
    target: ApiTarget,
    *,
    session: requests.Session | None = None,
    pacer: RequestPacer | None = None,
    on_progress: Callable[[ReplayResult], None] | None = None,
) -> ReplayResult:
    """POST each house to /predict, paced to the usage plan; return the tally.

    Raises QuotaExceededError when the API returns 429 "Limit Exceeded".
    """
    session = session or requests.Session()
    pacer = pacer or RequestPacer(PACING_MARGIN * target.rate_limit, target.burst_limit)
    headers = {"x-api-key": target.api_key, "content-type": "application/json"}
    result = ReplayResult()
    started = time.monotonic()
    for house in houses:
        result.sent += 1
        outcome = _send(session, target.predict_url, headers, house, pacer, result)
        if isinstance(outcome, float):
            result.priced += 1
            result.prices_usd.append(outcome)
        else:
            result.failures[outcome] += 1
        result.elapsed_s = time.monotonic() - started
        if on_progress is not None:
            on_progress(result)
    logger.info("replay finished: %s", result.to_dict())
    return result


def _send(
    session: requests.Session,
    url: str,
    headers: dict[str, str],
    house: dict[str, Any],
    pacer: RequestPacer,
    result: ReplayResult,
) -> float | str:
    """Send one house; return its price, or a short failure label such as "HTTP 502"."""
    for attempt in _attempts():
        pacer.wait()
        try:
            response = session.post(url, json=house, headers=headers, timeout=REQUEST_TIMEOUT_S)
        except requests.RequestException as error:
            logger.warning("request to %s failed: %s", url, error)
            return type(error).__name__
        if response.status_code == 429:
            if QUOTA_MESSAGE in response.text:
                raise QuotaExceededError(
                    f"the API key's quota is spent after {result.priced} priced houses; "
                    "wait for the next quota period or raise ApiQuotaLimit"
                )
            result.throttled_retries += 1
            logger.info("throttled (attempt %d); retrying after one token", attempt)
            time.sleep(1.0 / pacer.rate)
            continue
        if response.status_code != 200:
            logger.warning("HTTP %d from %s: %s", response.status_code, url, response.text[:200])
            return f"HTTP {response.status_code}"
        return float(response.json()["price_usd"])
    return "HTTP 429"


def _attempts() -> Iterator[int]:
    return iter(range(1, MAX_THROTTLED_ATTEMPTS + 1))
