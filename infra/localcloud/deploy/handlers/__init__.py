"""One handler per CloudFormation resource type that the local deployer creates."""

from __future__ import annotations

from infra.localcloud.deploy.handlers.apigateway import (
    DeploymentHandler,
    RestApiHandler,
    StageHandler,
)
from infra.localcloud.deploy.handlers.apigateway_keys import (
    ApiKeyHandler,
    UsagePlanHandler,
    UsagePlanKeyHandler,
)
from infra.localcloud.deploy.handlers.awslambda import FunctionHandler, LayerVersionHandler
from infra.localcloud.deploy.handlers.base import ResourceHandler
from infra.localcloud.deploy.handlers.events import RuleHandler
from infra.localcloud.deploy.handlers.iam import (
    IamPolicyHandler,
    ManagedPolicyHandler,
    RoleHandler,
)
from infra.localcloud.deploy.handlers.lambda_invoke_config import EventInvokeConfigHandler
from infra.localcloud.deploy.handlers.lambda_permission import PermissionHandler
from infra.localcloud.deploy.handlers.logs import LogGroupHandler
from infra.localcloud.deploy.handlers.s3 import BucketHandler, BucketPolicyHandler
from infra.localcloud.deploy.handlers.scheduler import ScheduleHandler
from infra.localcloud.deploy.handlers.secretsmanager import SecretHandler
from infra.localcloud.deploy.handlers.ssm import ParameterHandler
from infra.localcloud.deploy.handlers.stepfunctions import StateMachineHandler

HANDLERS: dict[str, ResourceHandler] = {
    handler.resource_type: handler
    for handler in (
        BucketHandler(),
        BucketPolicyHandler(),
        RoleHandler(),
        IamPolicyHandler(),
        ManagedPolicyHandler(),
        LayerVersionHandler(),
        FunctionHandler(),
        PermissionHandler(),
        EventInvokeConfigHandler(),
        StateMachineHandler(),
        RuleHandler(),
        ScheduleHandler(),
        LogGroupHandler(),
        ParameterHandler(),
        SecretHandler(),
        RestApiHandler(),
        DeploymentHandler(),
        StageHandler(),
        ApiKeyHandler(),
        UsagePlanHandler(),
        UsagePlanKeyHandler(),
    )
}

__all__ = ["HANDLERS", "ResourceHandler"]
