"""The deployed state of each API stage, taken from moto once per deployment.

A deployment on AWS freezes the API's resources, methods and binary media types, so
changes to the API reach clients only with the next deployment. The cache does the same. It
builds a stage's routes the first time the stage is called with a deployment id, and again
only when the stage points to another deployment. The stage itself (variables, method
settings) is read on every request, as a stage update takes effect without a deployment.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from infra.localcloud.gateway.errors import ForbiddenError
from infra.localcloud.gateway.routes import RouteTable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeploymentSnapshot:
    """The routes, binary media types and API key source of one deployment of an API."""

    api_id: str
    deployment_id: str
    routes: RouteTable
    binary_media_types: tuple[str, ...]
    api_key_source: str
    # The moto object that the snapshot was taken from. An API deleted and created again
    # under the same id is another object, so the old snapshot is not reused for it.
    rest_api: Any


@dataclass(frozen=True)
class StageView:
    """A request's deployment snapshot and the stage's current settings."""

    snapshot: DeploymentSnapshot
    stage_name: str
    variables: dict[str, str]
    method_settings: dict[str, Any]


class DeploymentCache:
    """Snapshots of deployments, one per API stage, rebuilt when the stage's deployment changes.

    `backend` is moto's `APIGatewayBackend` of the local cloud's account and region. Lookups
    are thread-safe: a snapshot is built under a lock, once, and read without one.
    """

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._snapshots: dict[tuple[str, str], DeploymentSnapshot] = {}
        self._lock = threading.Lock()

    def stage_view(self, api_id: str, stage_name: str) -> StageView:
        """Return the deployed state of a stage, or raise ForbiddenError if it has none."""
        api = self._backend.apis.get(api_id)
        if api is None:
            raise ForbiddenError(f"REST API {api_id} not found")
        stage = api.stages.get(stage_name)
        if stage is None:
            raise ForbiddenError(f"stage {stage_name} of REST API {api_id} not found")
        deployment_id = stage.deployment_id
        if not deployment_id or deployment_id not in api.deployments:
            raise ForbiddenError(
                f"stage {stage_name} of REST API {api_id} has no deployment "
                f"(deployment id {deployment_id!r})"
            )

        key = (api_id, stage_name)
        snapshot = self._snapshots.get(key)
        if (
            snapshot is None
            or snapshot.deployment_id != deployment_id
            or snapshot.rest_api is not api
        ):
            snapshot = self._build(key, api, deployment_id)
        return StageView(
            snapshot=snapshot,
            stage_name=stage_name,
            variables=dict(stage.variables or {}),
            method_settings=stage.method_settings,
        )

    def _build(self, key: tuple[str, str], api: Any, deployment_id: str) -> DeploymentSnapshot:
        with self._lock:
            snapshot = self._snapshots.get(key)
            if (
                snapshot is not None
                and snapshot.deployment_id == deployment_id
                and snapshot.rest_api is api
            ):
                return snapshot
            # NOTE: moto keeps no copy of the API per deployment, so the snapshot is taken at
            # the stage's first request after a deployment, not at the deployment itself.
            # An API changed between CreateDeployment and that request serves the change.
            routes = RouteTable.from_rest_api(api)
            snapshot = DeploymentSnapshot(
                api_id=api.id,
                deployment_id=deployment_id,
                routes=routes,
                binary_media_types=_binary_media_types(api),
                api_key_source=str(api.api_key_source or "HEADER").upper(),
                rest_api=api,
            )
            self._snapshots[key] = snapshot
        logger.info(
            "routes of API %s stage %s built for deployment %s: %d methods",
            api.id,
            key[1],
            deployment_id,
            routes.method_count,
        )
        return snapshot


def _binary_media_types(api: Any) -> tuple[str, ...]:
    """Return the API's binary media types, with "~1" (an escaped "/") unescaped."""
    stored = [str(media_type) for media_type in api.binaryMediaTypes or ()]
    if "" in stored:
        # moto 5.2.5 stores the "value" of an UpdateRestApi add operation, which AWS clients
        # leave out because the path (/binaryMediaTypes/image~1png) names the type.
        logger.warning(
            "API %s has an empty binary media type, from an update without a value; "
            'send {"op": "add", "path": "/binaryMediaTypes/TYPE", "value": "TYPE"}',
            api.id,
        )
    return tuple(media_type.replace("~1", "/") for media_type in stored if media_type)
