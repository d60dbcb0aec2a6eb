"""Fixtures of the deployer tests: a moto server on 127.0.0.1 and clients pointed at it."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

# Dummy credentials, so that no client looks for real ones or the instance metadata address.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_ACCESS_KEY_ID"] = "test"
os.environ["AWS_SECRET_ACCESS_KEY"] = "test"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

FIXTURES = Path(__file__).parent / "fixtures"
REGION = "us-east-1"


def reset_moto(endpoint_url: str) -> None:
    """Empty every moto backend of this process, which all in-process servers share."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    """Start moto's server on a free port of 127.0.0.1 for one test module.

    The backends are emptied before and after, so that other test modules in the same
    process neither see these resources nor leave theirs here.
    """
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        reset_moto(url)
        yield url
    finally:
        reset_moto(url)
        server.stop()


@pytest.fixture(scope="module")
def aws(endpoint_url: str) -> Callable[[str], Any]:
    """Return a factory of boto3 clients for the test server."""
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = boto3.client(service, endpoint_url=endpoint_url, region_name=REGION)
        return clients[service]

    return client
