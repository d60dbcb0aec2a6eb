"""Expand the SAM transform (AWS::Serverless-2016-10-31) into plain CloudFormation."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from samtranslator.model.exceptions import ExceptionWithMessage, InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from infra.localcloud.deploy.errors import TemplateError
from infra.localcloud.deploy.loader import SAM_TRANSFORM, transforms_of
from infra.localcloud.deploy.managed_policies import managed_policy_arns

logger = logging.getLogger(__name__)

RESOURCE_ID_PATTERN = re.compile(r"Resource with id \[([^\]]+)\]")
FEATURE_TOGGLE_LOGGER = "samtranslator.feature_toggle.feature_toggle"


class _MissingFeatureFilter(logging.Filter):
    """Drop the translator's warning that its own default config lacks a feature flag.

    aws-sam-translator 1.115 logs it on every API it expands; the flag falls back to off.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "not available in Feature Toggle Config" not in record.getMessage()


logging.getLogger(FEATURE_TOGGLE_LOGGER).addFilter(_MissingFeatureFilter())


def expand_sam(
    template_path: Path,
    template: dict[str, Any],
    parameter_values: Mapping[str, Any],
    region: str,
) -> dict[str, Any]:
    """Return a CloudFormation copy of the template with every AWS::Serverless-* expanded.

    A template without a Transform is returned as a copy. Raises TemplateError for any
    other transform and for the SAM translator's errors, naming the resource it blames.
    """
    transforms = transforms_of(template)
    unsupported = [name for name in transforms if name != SAM_TRANSFORM]
    if unsupported:
        raise TemplateError(
            template_path,
            f"transform {', '.join(unsupported)} is not supported; only {SAM_TRANSFORM} is",
            property_name="Transform",
        )
    if not transforms:
        return copy.deepcopy(template)

    # The session only sets the translator's region. It makes no AWS call, because managed
    # policy names are looked up in a local table instead of IAM.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        translated = translator.translate(
            copy.deepcopy(template),
            parameter_values=dict(parameter_values),
            get_managed_policy_map=managed_policy_arns,
        )
    except InvalidDocumentException as error:
        raise _template_error(template_path, list(error.causes)) from None
    except ExceptionWithMessage as error:
        raise _template_error(template_path, [error]) from None
    finally:
        # The translator's default metrics publisher is a no-op; publishing empties its
        # cache, which it would otherwise warn about when it is garbage-collected.
        translator.metrics.publish()
    logger.debug("expanded %s into %d resources", template_path, len(translated["Resources"]))
    return translated


def _template_error(template_path: Path, causes: list[ExceptionWithMessage]) -> TemplateError:
    messages = [cause.message for cause in causes]
    match = RESOURCE_ID_PATTERN.search(messages[0]) if messages else None
    resource = match.group(1) if match and len(causes) == 1 else None
    return TemplateError(
        template_path, "SAM transform failed: " + " ".join(messages), resource=resource
    )
