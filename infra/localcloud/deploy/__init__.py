"""`mhpe deploy` for the embedded local cloud: a SAM template's resources, made through boto3.

The deployer reads a SAM or CloudFormation template, expands the SAM transform with
aws-sam-translator, resolves intrinsic functions and creates every resource in dependency
order against an endpoint URL, idempotently. It never imports the functions it deploys.
"""

from infra.localcloud.deploy.engine import DeployResult, ResourceChange, deploy
from infra.localcloud.deploy.errors import DeployError, TemplateError
from infra.localcloud.deploy.functions import LocalFunction, local_functions
from infra.localcloud.deploy.outputs import local_invoke_url
from infra.localcloud.deploy.state import StackRecord, list_stacks, load_stack

__all__ = [
    "DeployError",
    "DeployResult",
    "LocalFunction",
    "ResourceChange",
    "StackRecord",
    "TemplateError",
    "deploy",
    "list_stacks",
    "load_stack",
    "local_functions",
    "local_invoke_url",
]
