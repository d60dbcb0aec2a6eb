"""Invoke one Lambda handler in this fresh interpreter, as a cold start would.

Usage: python handler_runner.py CODE_DIR EVENT_FILE RESULT_FILE

CODE_DIR comes first on sys.path, as /var/task does on Lambda, and layers/common second, as
the layer's /opt/python. The handler's JSON result is written to RESULT_FILE; its logs go
to stdout.
"""

import importlib
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "2024/05/06/[$LATEST]0123456789abcdef"
    timeout_ms: int = 30_000

    def __post_init__(self) -> None:
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def main(code_dir: Path, event_file: Path, result_file: Path) -> None:
    sys.path[:0] = [str(code_dir), str(REPO_ROOT / "layers" / "common")]
    handler_module = importlib.import_module("app")
    event = json.loads(event_file.read_text())
    context = LambdaContext(function_name=f"mhpe-dev-{code_dir.name}")

    result = handler_module.lambda_handler(event, context)

    result_file.write_text(json.dumps({"result": result, "request_id": context.aws_request_id}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
