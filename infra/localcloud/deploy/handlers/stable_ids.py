"""Keep API Gateway ids and generated API key values stable when the local cloud restarts.

moto keeps API Gateway in memory, so after `mhpe cloud down` and `up` the redeployment
creates the REST API and the API key again. The REST API and the key get the ids they had
(reserved on the local cloud's `/_mhpe/next-ids` route just before the create call), and a
key the template gives no Value gets its earlier value from STATE_DIR/secrets/api-keys.json.
That file is readable by its owner only (mode 0600) and sits in the git-ignored state folder.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import requests

from infra.localcloud.deploy.handlers.base import ResourceContext

logger = logging.getLogger(__name__)

NEXT_IDS_ROUTE = "/_mhpe/next-ids"
RESERVE_TIMEOUT_S = 5.0
API_KEYS_FILE = Path("secrets") / "api-keys.json"


def reserve_previous_id(context: ResourceContext, resource: str, name: str) -> None:
    """Ask the local cloud to give the next `resource` named `name` its previous id.

    Does nothing when the resource was never deployed. When the reservation fails, the
    resource gets a new id and a warning is logged.
    """
    if context.previous_physical_id is None:
        return
    request = {
        "service": "apigateway",
        "resource": resource,
        "name": name,
        "id": context.previous_physical_id,
        "region": context.region,
    }
    url = context.clients.endpoint_url.rstrip("/") + NEXT_IDS_ROUTE
    try:
        response = requests.post(url, json=request, timeout=RESERVE_TIMEOUT_S)
    except requests.RequestException as error:
        response = None
        reason = str(error)
    else:
        reason = f"status {response.status_code}: {response.text[:200]}"
    if response is None or response.status_code != 200:
        logger.warning(
            "%s %s gets a new id instead of %s: reserving the id at %s failed (%s)",
            context.resource_type,
            context.logical_id,
            context.previous_physical_id,
            url,
            reason,
        )


class ApiKeyValues:
    """Generated API key values of a state folder, by stack and logical id (mode 0600).

    Each entry keeps the key's id beside its value, so that deleting a replaced key never
    drops the value of the key that replaced it.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / API_KEYS_FILE

    def get(self, stack_name: str, logical_id: str, key_id: str) -> str | None:
        """Return the value stored for the key of this id, or None."""
        entry = self._read().get(stack_name, {}).get(logical_id)
        if not isinstance(entry, dict) or entry.get("id") != key_id:
            return None
        value = entry.get("value")
        return value if isinstance(value, str) else None

    def put(self, stack_name: str, logical_id: str, key_id: str, value: str) -> None:
        values = self._read()
        values.setdefault(stack_name, {})[logical_id] = {"id": key_id, "value": value}
        self._write(values)

    def remove(self, stack_name: str, logical_id: str, key_id: str) -> None:
        """Drop the stored value if it belongs to the key of this id."""
        values = self._read()
        entry = values.get(stack_name, {}).get(logical_id)
        if isinstance(entry, dict) and entry.get("id") == key_id:
            del values[stack_name][logical_id]
            self._write(values)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            values = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as error:
            # Only the parser's message is logged, because the text may contain key values.
            logger.warning("%s is not valid JSON (%s); keys get new values", self.path, error.msg)
            return {}
        return values if isinstance(values, dict) else {}

    def _write(self, values: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".partial")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(values, file, indent=2, sort_keys=True)
        # os.open applies the umask to a new file only; an older partial file keeps its mode.
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)
