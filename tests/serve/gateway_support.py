"""A local cloud with template.yaml deployed, and an HTTP client for its pricing API.

Each deployed stack is called through its invoke URL,
http://127.0.0.1:PORT/restapis/API_ID/STAGE/_user_request_/PATH, with the key that
`mhpe api-key` prints, as a user would.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from mhpe.storage import ObjectStore

from tests.integration.conftest import Cloud, run_mhpe

REPOSITORY = Path(__file__).resolve().parents[2]
REQUEST_TIMEOUT_S = 30


@dataclass
class PricingApi:
    """One deployed stack: its outputs, its key, and a requests session per thread."""

    cloud: Cloud
    stack_name: str
    outputs: dict[str, str]
    key: str
    _local: threading.local = field(default_factory=threading.local)

    @property
    def base_url(self) -> str:
        return self.outputs["ApiUrl"]

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def call(
        self, method: str, path: str, body: Any = None, *, key: str | None = "default"
    ) -> requests.Response:
        """Send one request; `key` None sends no x-api-key, "default" the stack's key."""
        headers = {}
        if key is not None:
            headers["x-api-key"] = self.key if key == "default" else key
        return self.session().request(
            method,
            self.url(path),
            data=None if body is None else json.dumps(body),
            headers={**headers, "Content-Type": "application/json"},
            timeout=REQUEST_TIMEOUT_S,
        )

    def store(self) -> ObjectStore:
        return ObjectStore(self.cloud.client("s3"))

    def function_log(self) -> str:
        record = json.loads(
            (self.cloud.state_dir / "stacks" / f"{self.stack_name}.json").read_text()
        )
        name = record["resources"]["ServeFunction"]["PhysicalResourceId"]
        path = self.cloud.state_dir / "logs" / "functions" / f"{name}.log"
        return path.read_text() if path.exists() else ""


def deploy_pricing_api(cloud: Cloud, stack_name: str, **parameters: str) -> PricingApi:
    """Deploy template.yaml as `stack_name` with parameter overrides; read its key's value."""
    overrides: list[str] = []
    for name, value in parameters.items():
        overrides += ["--parameter-overrides", f"{name}={value}"]
    cloud.mhpe(
        "deploy", "--template", str(REPOSITORY / "template.yaml"), "--stack-name", stack_name,
        *overrides,
    )  # fmt: skip
    outputs = json.loads(cloud.mhpe("outputs", "--stack-name", stack_name).stdout)
    key = cloud.mhpe("api-key", "--stack-name", stack_name).stdout.strip()
    return PricingApi(cloud, stack_name, outputs, key)


def stop_cloud(cloud: Cloud) -> None:
    run_mhpe(cloud.state_dir, "cloud", "down", check=False)
