"""Invalid templates raise TemplateError naming the resource and property, before any change."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.localcloud.deploy import TemplateError, deploy, load_stack
from tests.deploy.conftest import FIXTURES

INVALID = FIXTURES / "invalid"

# template, resource, property, and a fragment of the reason
CASES = [
    ("bad_yaml.yaml", None, None, "invalid YAML or JSON at line 6"),
    ("no_resources.yaml", None, None, "the Resources section is missing"),
    (
        "missing_code_folder.yaml",
        "IngestFunction",
        "CodeUri",
        "folder functions/nope/ does not exist",
    ),
    ("unknown_type.yaml", "Queue", "Type", "AWS::Foo::Bar is not supported"),
    (
        "ref_to_nothing.yaml",
        "Setting",
        "Value",
        "Ref to MissingBucket, which is neither a parameter nor a resource",
    ),
    ("missing_required.yaml", "RawBucketPolicy", "PolicyDocument", "missing"),
    ("unknown_attribute.yaml", "Setting", "Value", "AWS::S3::Bucket has no attribute Colour"),
    (
        "circular.yaml",
        None,
        None,
        "circular dependency between resources: First -> Second -> First",
    ),
]


@pytest.mark.parametrize(("name", "resource", "property_name", "reason"), CASES)
def test_invalid_template_raises(
    name: str,
    resource: str | None,
    property_name: str | None,
    reason: str,
    endpoint_url: str,
    tmp_path: Path,
) -> None:
    template = INVALID / name
    with pytest.raises(TemplateError) as caught:
        deploy(template, stack_name="invalid", endpoint_url=endpoint_url, state_dir=tmp_path)

    error = caught.value
    assert error.resource == resource
    assert error.property_name == property_name
    assert reason in error.reason
    assert str(error).startswith(f"{template}: ")
    assert load_stack(tmp_path, "invalid") is None


def test_parameter_outside_allowed_values(endpoint_url: str, tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        deploy(
            FIXTURES / "extras" / "template.yaml",
            stack_name="extras",
            endpoint_url=endpoint_url,
            state_dir=tmp_path,
            parameter_overrides={"Stage": "test"},
        )
    assert "parameter Stage: value 'test' is not one of the AllowedValues" in str(caught.value)


def test_undeclared_parameter_override(endpoint_url: str, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="parameter override Colour is not declared"):
        deploy(
            FIXTURES / "extras" / "template.yaml",
            stack_name="extras",
            endpoint_url=endpoint_url,
            state_dir=tmp_path,
            parameter_overrides={"Colour": "blue"},
        )


def test_missing_template_file(endpoint_url: str, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="template file not found"):
        deploy(
            tmp_path / "template.yaml",
            stack_name="none",
            endpoint_url=endpoint_url,
            state_dir=tmp_path,
        )


def test_invalid_stack_name(endpoint_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid stack name '9lives'"):
        deploy(
            FIXTURES / "extras" / "template.yaml",
            stack_name="9lives",
            endpoint_url=endpoint_url,
            state_dir=tmp_path,
        )
