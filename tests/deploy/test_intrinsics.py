"""Intrinsic functions, conditions and parameters, resolved without any cloud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.deploy import TemplateError
from infra.localcloud.deploy.intrinsics import (
    IntrinsicResolver,
    Location,
    evaluate_conditions,
    pseudo_parameters,
)
from infra.localcloud.deploy.parameters import resolve_parameters

TEMPLATE = Path("template.yaml")
WHERE = Location("resource", "Thing", "Value")


class FakeResources:
    """Ref returns "physical-ID", GetAtt returns "ID.ATTRIBUTE"."""

    def ref(self, logical_id: str) -> Any:
        return f"physical-{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return f"{logical_id}.{attribute}"


def make_resolver(conditions: dict[str, bool] | None = None) -> IntrinsicResolver:
    parameters = {
        "Stage": "dev",
        "Subnets": ["a", "b"],
        **pseudo_parameters("eu-west-1", "123456789012", "mhpe"),
    }
    return IntrinsicResolver(
        TEMPLATE,
        parameters=parameters,
        conditions=conditions or {"IsProd": False},
        mappings={"Sizes": {"dev": {"Memory": 128}}},
        resource_ids={"Bucket"},
        inactive_ids={"ProdBucket"},
        lookup=FakeResources(),
        region="eu-west-1",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Stage"}, "dev"),
        ({"Ref": "Bucket"}, "physical-Bucket"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, "Bucket.Arn"),
        ({"Fn::GetAtt": "Bucket.Arn"}, "Bucket.Arn"),
        (
            {"Fn::Sub": "${AWS::StackName}-${Stage}-${Bucket}-${Bucket.Arn}"},
            "mhpe-dev-physical-Bucket-Bucket.Arn",
        ),
        ({"Fn::Sub": ["${Name}/${!Literal}", {"Name": {"Ref": "Stage"}}]}, "dev/${Literal}"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, 3]]}, "a-dev-3"),
        ({"Fn::Select": [1, {"Ref": "Subnets"}]}, "b"),
        ({"Fn::Split": [",", "x,y"]}, ["x", "y"]),
        ({"Fn::If": ["IsProd", "big", "small"]}, "small"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}, 128),
        ({"Fn::Select": [0, {"Fn::GetAZs": ""}]}, "eu-west-1a"),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Keep": 1, "Drop": {"Ref": "AWS::NoValue"}}, {"Keep": 1}),
        ([1, {"Fn::If": ["IsProd", 2, {"Ref": "AWS::NoValue"}]}], [1]),
    ],
)
def test_resolver_functions(value: Any, expected: Any) -> None:
    assert make_resolver().resolve(value, WHERE) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"Ref": "Nothing"}, "Ref to Nothing, which is neither a parameter nor a resource"),
        ({"Ref": "ProdBucket"}, "a resource whose Condition is false"),
        ({"Fn::Sub": "${Nothing.Arn}"}, "Fn::GetAtt Nothing.Arn"),
        ({"Fn::If": ["Unknown", 1, 2]}, "Fn::If names condition Unknown, which is not declared"),
        ({"Fn::FindInMap": ["Sizes", "prod", "Memory"]}, "Sizes.prod is not in the Mappings"),
        ({"Fn::Select": [5, ["a"]]}, "index 5 is out of range for a list of 1"),
        ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not supported"),
    ],
)
def test_resolver_errors_name_location(value: Any, reason: str) -> None:
    with pytest.raises(TemplateError) as caught:
        make_resolver().resolve(value, WHERE)
    assert caught.value.resource == "Thing"
    assert caught.value.property_name == "Value"
    assert reason in caught.value.reason


def test_conditions_combine() -> None:
    template = {
        "Conditions": {
            "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
            "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
            "DevAndEu": {
                "Fn::And": [
                    {"Condition": "IsDev"},
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
                ]
            },
            "ProdOrEu": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "DevAndEu"}]},
        }
    }
    parameters = {"Stage": "dev", "AWS::Region": "eu-west-1"}
    results = evaluate_conditions(TEMPLATE, template, parameters, "eu-west-1")
    assert results == {"IsDev": True, "IsProd": False, "DevAndEu": True, "ProdOrEu": True}


def test_conditions_cycle_rejected() -> None:
    template = {"Conditions": {"A": {"Condition": "B"}, "B": {"Condition": "A"}}}
    with pytest.raises(TemplateError, match="conditions refer to each other: A -> B -> A"):
        evaluate_conditions(TEMPLATE, template, {}, "us-east-1")


def test_parameters_defaults_and_types() -> None:
    template = {
        "Parameters": {
            "Rate": {"Type": "Number", "Default": 1.67, "MinValue": 0},
            "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
            "Stage": {"Type": "String", "AllowedPattern": "[a-z]+"},
        }
    }
    values = resolve_parameters(TEMPLATE, template, {"Stage": "prod"})
    assert values == {"Rate": "1.67", "Zones": ["a", "b"], "Stage": "prod"}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, "parameter Stage: no value given and no Default declared"),
        ({"Stage": "Prod1"}, "does not match the AllowedPattern"),
        ({"Stage": "dev", "Rate": "-1"}, "value -1 is below MinValue 0"),
        ({"Stage": "dev", "Rate": "fast"}, "value 'fast' is not a number"),
    ],
)
def test_parameters_rejected(overrides: dict[str, str], reason: str) -> None:
    template = {
        "Parameters": {
            "Rate": {"Type": "Number", "Default": 1, "MinValue": 0},
            "Stage": {"Type": "String", "AllowedPattern": "[a-z]+"},
        }
    }
    with pytest.raises(TemplateError, match=reason):
        resolve_parameters(TEMPLATE, template, overrides)
