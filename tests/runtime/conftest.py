"""Fixtures for the function runtime tests: a runtime on a temporary log folder, and specs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.runtime import FunctionSpec, Runtime
from tests.runtime.runtime_support import ACCOUNT_ARN, BASE_ENVIRONMENT, HANDLERS_DIR, SpecFactory


@pytest.fixture(autouse=True)
def _no_cloud_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BASE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def make_spec() -> SpecFactory:
    def build(function_name: str, handler: str, **fields: Any) -> FunctionSpec:
        fields.setdefault("code_dir", HANDLERS_DIR)
        return FunctionSpec(
            function_name=function_name,
            function_arn=f"{ACCOUNT_ARN}:{function_name}",
            handler=handler,
            **fields,
        )

    return build


@pytest.fixture
def runtime_factory(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Build runtimes on tmp_path/logs with short async delays, and shut them down after."""
    runtimes: list[Runtime] = []

    def build(**options: Any) -> Runtime:
        options.setdefault("async_retry_delays_s", (0.2, 0.4))
        options.setdefault("async_throttle_delays_s", (0.1, 0.2))
        runtime = Runtime(tmp_path / "logs", BASE_ENVIRONMENT, **options)
        runtimes.append(runtime)
        return runtime

    yield build
    for runtime in runtimes:
        runtime.shutdown()


@pytest.fixture
def runtime(runtime_factory: Callable[..., Runtime]) -> Runtime:
    return runtime_factory(max_workers_per_function=4)
