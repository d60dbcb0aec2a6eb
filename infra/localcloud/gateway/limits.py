"""The throttles and the quota that a request passes before its integration runs.

API Gateway applies the usage plan's limits for the client first (a per-method throttle of
the plan's API stage if one is set, else the plan's throttle), then the stage's per-method
throttle, then the plan's quota. Usage plan limits count per API key and usage plan, summed
over every API stage of the plan. A stage throttle counts all clients of one method together.
"""

from __future__ import annotations

from infra.localcloud.gateway.api_keys import ClientKey
from infra.localcloud.gateway.deployments import StageView
from infra.localcloud.gateway.errors import LimitExceededError, TooManyRequestsError
from infra.localcloud.gateway.quotas import QuotaLedger, QuotaSettings
from infra.localcloud.gateway.routes import MethodRoute
from infra.localcloud.gateway.throttling import BucketRegistry, ThrottleSettings

# moto's key for a stage's method settings that apply to every method.
ALL_METHODS_SETTING = "*/*"


class UsagePlanThrottle:
    """Throttles each API key by its usage plan's rate and burst limits."""

    def __init__(self, buckets: BucketRegistry) -> None:
        self._buckets = buckets

    def admit(self, client: ClientKey, view: StageView, route: MethodRoute) -> None:
        """Take a token for the client, or raise TooManyRequestsError when there is none."""
        plan = f"usage plan {client.usage_plan_id}"
        method_key = f"{route.resource_path}/{route.http_method}"
        method_throttle = client.method_throttles.get(method_key)
        if method_throttle:
            settings = ThrottleSettings.from_fields(
                method_throttle, "rateLimit", "burstLimit", f"{plan} method {method_key}"
            )
            bucket_key: tuple[str, ...] = (
                "plan-method",
                client.usage_plan_id,
                client.key_id,
                view.snapshot.api_id,
                view.stage_name,
                method_key,
            )
        else:
            settings = ThrottleSettings.from_fields(
                client.throttle, "rateLimit", "burstLimit", plan
            )
            bucket_key = ("plan", client.usage_plan_id, client.key_id)

        if settings is not None and not self._buckets.try_acquire(bucket_key, settings):
            raise TooManyRequestsError(
                f"API key {client.key_id} exceeded the throttle of {plan} "
                f"({settings.rate_limit:g} requests/s, burst {settings.burst_limit})"
            )


class StageThrottle:
    """Throttles each method of a stage by the stage's method settings, for all clients."""

    def __init__(self, buckets: BucketRegistry) -> None:
        self._buckets = buckets

    def admit(self, view: StageView, route: MethodRoute) -> None:
        """Take a token for the method, or raise TooManyRequestsError when there is none."""
        if not view.method_settings:
            return
        # A stage update path escapes "/" in a resource path as "~1": /items/GET -> ~1items/GET.
        setting_key = f"{route.resource_path.replace('/', '~1')}/{route.http_method}"
        fields = view.method_settings.get(setting_key) or view.method_settings.get(
            ALL_METHODS_SETTING
        )
        owner = f"stage {view.stage_name} of API {view.snapshot.api_id}"
        settings = ThrottleSettings.from_fields(
            fields, "throttlingRateLimit", "throttlingBurstLimit", owner
        )
        if settings is None:
            return
        bucket_key = (
            "stage",
            view.snapshot.api_id,
            view.stage_name,
            route.resource_path,
            route.http_method,
        )
        if not self._buckets.try_acquire(bucket_key, settings):
            raise TooManyRequestsError(
                f"{route.http_method} {route.resource_path} exceeded the throttle of {owner} "
                f"({settings.rate_limit:g} requests/s, burst {settings.burst_limit})"
            )


class UsagePlanQuota:
    """Counts each API key's requests against its usage plan's quota."""

    def __init__(self, ledger: QuotaLedger) -> None:
        self._ledger = ledger

    def admit(self, client: ClientKey) -> None:
        """Count the request, or raise LimitExceededError when the quota is used up."""
        plan = f"usage plan {client.usage_plan_id}"
        settings = QuotaSettings.from_usage_plan(client.quota, plan)
        if settings is None:
            return
        if not self._ledger.try_consume((client.usage_plan_id, client.key_id), settings):
            raise LimitExceededError(
                f"API key {client.key_id} used up the quota of {plan} "
                f"({settings.limit} requests per {settings.period})"
            )
