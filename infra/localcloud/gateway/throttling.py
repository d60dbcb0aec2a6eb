"""Token buckets for API Gateway's throttles: a steady rate in requests per second and a burst.

A bucket starts full with `burst_limit` tokens and refills at `rate_limit` tokens per second,
never above `burst_limit`. Each request takes one token, and a request that finds less than
one is throttled. So at most `burst_limit` requests pass at once, and `rate_limit` per second
on average after that.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from infra.localcloud.gateway.errors import GatewayConfigurationError


@dataclass(frozen=True)
class ThrottleSettings:
    """A rate limit in requests per second (fractions allowed) and a burst limit in requests."""

    rate_limit: float
    burst_limit: int

    def __post_init__(self) -> None:
        if not math.isfinite(self.rate_limit) or self.rate_limit < 0:
            raise ValueError(f"rate_limit {self.rate_limit} is invalid: it must be 0 or more")
        if self.burst_limit < 0:
            raise ValueError(f"burst_limit {self.burst_limit} is invalid: it must be 0 or more")

    @classmethod
    def from_fields(
        cls, fields: dict[str, Any] | None, rate_field: str, burst_field: str, owner: str
    ) -> ThrottleSettings | None:
        """Read settings stored by moto, or return None when there is no rate limit.

        `owner` names where the settings come from, for the error raised on a bad value.
        """
        if not fields or fields.get(rate_field) is None:
            return None
        try:
            rate_limit = float(fields[rate_field])
            burst = fields.get(burst_field)
            # NOTE: AWS does not document a rate without a burst limit. Such a bucket gets
            # one second's requests, and at least one.
            burst_limit = max(1, math.ceil(rate_limit)) if burst is None else int(burst)
            return cls(rate_limit, burst_limit)
        except (TypeError, ValueError) as error:
            raise GatewayConfigurationError(
                f"invalid throttle settings {fields} of {owner}: {error}"
            ) from None


class TokenBucket:
    """One thread-safe token bucket. `clock` returns seconds and must never go back."""

    def __init__(
        self, settings: ThrottleSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._tokens = float(settings.burst_limit)
        self._updated_s = clock()
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        """Take one token and return True, or return False when less than one is left."""
        with self._lock:
            now_s = self._clock()
            refill = (now_s - self._updated_s) * self.settings.rate_limit
            self._tokens = min(float(self.settings.burst_limit), self._tokens + refill)
            self._updated_s = now_s
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True


class BucketRegistry:
    """Token buckets by key, created on first use and replaced, full, when settings change."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[Hashable, TokenBucket] = {}
        self._lock = threading.Lock()

    def try_acquire(self, key: Hashable, settings: ThrottleSettings) -> bool:
        """Take a token from the bucket of `key`, as TokenBucket.try_acquire does."""
        bucket = self._buckets.get(key)
        if bucket is None or bucket.settings != settings:
            with self._lock:
                bucket = self._buckets.get(key)
                if bucket is None or bucket.settings != settings:
                    bucket = TokenBucket(settings, self._clock)
                    self._buckets[key] = bucket
        return bucket.try_acquire()
