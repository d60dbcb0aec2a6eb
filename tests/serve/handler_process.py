"""Run the serve handler in this fresh interpreter on events, as a Lambda worker would.

Usage: python handler_process.py EVENTS_FILE RESULT_FILE

functions/serve comes first on sys.path, as /var/task does on Lambda, and layers/common
second, as the layer's /opt/python. EVENTS_FILE contains a JSON list of events. RESULT_FILE
receives the handler's results, the init time, and the top-level packages imported by the
end, so that a test can check that neither scikit-learn nor pandas was loaded.
"""

import importlib
import json
import sys
import time
import uuid
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


class LambdaContext:
    function_name = "mhpe-dev-servefunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:mhpe-dev-serve"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def main(events_file: Path, result_file: Path) -> None:
    sys.path[:0] = [str(REPOSITORY / "functions" / "serve"), str(REPOSITORY / "layers" / "common")]
    started = time.perf_counter()
    app = importlib.import_module("app")
    init_ms = (time.perf_counter() - started) * 1000

    results = [
        app.lambda_handler(event, LambdaContext()) for event in json.loads(events_file.read_text())
    ]

    packages = sorted({name.split(".")[0] for name in sys.modules})
    result_file.write_text(
        json.dumps({"results": results, "init_ms": init_ms, "packages": packages})
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
