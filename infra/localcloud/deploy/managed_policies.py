"""AWS managed IAM policies by name, for the SAM transform and for moto without them.

SAM turns a policy name such as AWSLambdaBasicExecutionRole into its ARN through a map
that it would otherwise fetch from IAM. The map comes from the copy of AWS's managed
policies that moto ships, read as a file so that moto's IAM models are not imported, and
from a short built-in table when that copy cannot be read.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

AWS_POLICY_ARN_PREFIX = "arn:aws:iam::aws:policy"
# Path of each common managed policy, as AWS publishes it; used when moto's copy is missing.
BUILT_IN_POLICY_PATHS = {
    "AWSLambdaBasicExecutionRole": "/service-role/",
    "AWSLambdaRole": "/service-role/",
    "AWSLambdaVPCAccessExecutionRole": "/service-role/",
    "AWSLambdaDynamoDBExecutionRole": "/service-role/",
    "AWSLambdaSQSQueueExecutionRole": "/service-role/",
    "AWSLambdaKinesisExecutionRole": "/service-role/",
    "AmazonAPIGatewayPushToCloudWatchLogs": "/service-role/",
    "AWSLambdaExecute": "/",
    "AWSXrayWriteOnlyAccess": "/",
    "AWSXRayDaemonWriteAccess": "/",
    "AmazonS3ReadOnlyAccess": "/",
    "AmazonS3FullAccess": "/",
    "CloudWatchLogsFullAccess": "/",
    "CloudWatchLambdaInsightsExecutionRolePolicy": "/",
    "AWSStepFunctionsFullAccess": "/",
    "AmazonSSMReadOnlyAccess": "/",
    "SecretsManagerReadWrite": "/",
}


def managed_policy_arns() -> dict[str, str]:
    """Return the ARN of every known AWS managed policy, keyed by policy name."""
    documents = _moto_policies()
    if documents:
        return {
            name: f"{AWS_POLICY_ARN_PREFIX}{entry.get('Path', '/')}{name}"
            for name, entry in documents.items()
        }
    return {
        name: f"{AWS_POLICY_ARN_PREFIX}{path}{name}" for name, path in BUILT_IN_POLICY_PATHS.items()
    }


def managed_policy_document(arn: str) -> dict[str, Any] | None:
    """Return the policy document of an AWS managed policy ARN, or None when it is unknown."""
    if not arn.startswith(AWS_POLICY_ARN_PREFIX):
        return None
    name = arn.rsplit("/", 1)[-1]
    entry = _moto_policies().get(name)
    if entry is None:
        return None
    return entry.get("Document")


@functools.cache
def _moto_policies() -> dict[str, dict[str, Any]]:
    spec = importlib.util.find_spec("moto")
    if spec is None or spec.origin is None:
        logger.warning(
            "moto is not installed; only %d managed policies are known", len(BUILT_IN_POLICY_PATHS)
        )
        return {}
    path = Path(spec.origin).parent / "iam" / "aws_managed_policies.py"
    try:
        source = path.read_text()
        # The module assigns one JSON document in a triple-quoted string.
        start = source.index('"""') + 3
        end = source.rindex('"""')
        policies = json.loads(source[start:end])
    except (OSError, ValueError) as error:
        logger.warning("could not read AWS managed policies from %s: %s", path, error)
        return {}
    return policies
