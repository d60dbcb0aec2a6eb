"""API key checks: the key a request sends must be enabled and in a usage plan of the stage.

Keys, usage plans and their keys are read from moto on every request, because on AWS a new
key or plan takes effect without a deployment. Errors and logs name a key by its id only.
"""

from __future__ import annotations

import hmac
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from infra.localcloud.gateway.errors import ForbiddenError

logger = logging.getLogger(__name__)

API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class ClientKey:
    """An accepted API key and the usage plan that meters it on this API stage."""

    key_id: str
    value: str = field(repr=False)
    usage_plan_id: str
    throttle: dict[str, Any]
    quota: dict[str, Any]
    # Per-method throttles of the plan for this stage, keyed "/resource/path/METHOD".
    method_throttles: dict[str, Any]


class ApiKeyValidator:
    """Finds the usage plan of an API key on an API stage, in moto's API Gateway backend."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._warned: set[tuple[str, str, str]] = set()
        self._warned_lock = threading.Lock()

    def validate(self, api_id: str, stage_name: str, key_value: str | None) -> ClientKey:
        """Return the client key for `key_value`, or raise ForbiddenError if it is rejected."""
        if not key_value:
            raise ForbiddenError(f"no {API_KEY_HEADER} header on a method that requires a key")
        api_key = self._find_key(key_value)
        if api_key is None:
            raise ForbiddenError(f"the {API_KEY_HEADER} header matches no API key")
        if not api_key.enabled:
            raise ForbiddenError(f"API key {api_key.id} is disabled")

        plans = self._plans_with_key(api_key.id, api_id, stage_name)
        if not plans:
            raise ForbiddenError(
                f"API key {api_key.id} is in no usage plan of API {api_id} stage {stage_name}"
            )
        if len(plans) > 1:
            self._warn_once(api_key.id, api_id, stage_name, plans)
        plan, api_stage = plans[0]
        return ClientKey(
            key_id=api_key.id,
            value=api_key.value,
            usage_plan_id=plan.id,
            throttle=dict(plan.throttle or {}),
            quota=dict(plan.quota or {}),
            method_throttles=dict(api_stage.get("throttle") or {}),
        )

    def _find_key(self, key_value: str) -> Any:
        wanted = key_value.encode()
        for api_key in list(self._backend.keys.values()):
            if hmac.compare_digest(str(api_key.value).encode(), wanted):
                return api_key
        return None

    def _plans_with_key(
        self, key_id: str, api_id: str, stage_name: str
    ) -> list[tuple[Any, dict[str, Any]]]:
        """Return (plan, its entry for the stage) for each plan of the stage that has the key."""
        found = []
        plans = sorted(self._backend.usage_plans.values(), key=lambda plan: plan.id)
        for plan in plans:
            if key_id not in self._backend.usage_plan_keys.get(plan.id, {}):
                continue
            for api_stage in plan.api_stages or []:
                if api_stage.get("apiId") == api_id and api_stage.get("stage") == stage_name:
                    found.append((plan, api_stage))
                    break
        return found

    def _warn_once(
        self, key_id: str, api_id: str, stage_name: str, plans: list[tuple[Any, dict[str, Any]]]
    ) -> None:
        with self._warned_lock:
            if (key_id, api_id, stage_name) in self._warned:
                return
            self._warned.add((key_id, api_id, stage_name))
        logger.warning(
            "API key %s is in %d usage plans of API %s stage %s (%s); API Gateway allows one, "
            "so plan %s meters it",
            key_id,
            len(plans),
            api_id,
            stage_name,
            ", ".join(plan.id for plan, _ in plans),
            plans[0][0].id,
        )
