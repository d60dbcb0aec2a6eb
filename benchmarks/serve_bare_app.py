"""The serve function's app on uvicorn, without API Gateway and the Lambda runtime.

Same app, champion loading, audit trail (log, file, S3) and validation as
functions/serve/app.py, so that the gap to the gateway numbers is what the gateway and the
function runtime add. Settings come from the same environment variables.

Run: MODELS_BUCKET_NAME=... AWS_ENDPOINT_URL=... uvicorn benchmarks.serve_bare_app:app
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from mhpe.serving.assembly import build_serving
from mhpe.serving.settings import ServingSettings

app = build_serving(
    ServingSettings.from_environment(), audit_log=Logger(service="mhpe"), metrics=None
).app
