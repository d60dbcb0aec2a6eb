"""The sample events in events/: valid JSON in the shape AWS sends to each function."""

import json
from typing import Any

import pytest

from tests.template.template_support import EVENTS_DIR, function_resources, load_event

EVENTS_BY_FUNCTION = {
    "IngestFunction": ["ingest_s3_put.json"],
    "ValidateFunction": ["validate.json"],
    "TrainFunction": ["train.json"],
    "EvaluateFunction": ["evaluate.json"],
    "PromoteFunction": ["promote.json"],
    "ServeFunction": ["serve_predict.json", "serve_health.json"],
    "DriftFunction": ["drift_schedule.json"],
}
API_EVENTS = ["serve_predict.json", "serve_health.json"]


@pytest.mark.parametrize("path", sorted(EVENTS_DIR.glob("*.json")), ids=lambda path: path.name)
def test_event_file_is_json_object(path: Any) -> None:
    assert isinstance(json.loads(path.read_text()), dict), path.name


def test_every_function_has_sample_event(template: dict[str, Any]) -> None:
    event_files = {path.name for path in EVENTS_DIR.glob("*.json")}

    assert set(EVENTS_BY_FUNCTION) == set(function_resources(template))
    for function, names in EVENTS_BY_FUNCTION.items():
        for name in names:
            assert name in event_files, f"{function}: events/{name} missing"


def test_s3_event_has_object_created_record() -> None:
    (record,) = load_event("ingest_s3_put.json")["Records"]
    s3_object = record["s3"]["object"]

    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{record['s3']['bucket']['name']}"
    assert s3_object["key"].startswith("batches/")
    for field in ("size", "eTag", "versionId", "sequencer"):
        assert field in s3_object, field
    assert isinstance(s3_object["size"], int)


@pytest.mark.parametrize("name", API_EVENTS)
def test_api_event_is_rest_proxy_event(name: str) -> None:
    event = load_event(name)
    request_context = event["requestContext"]
    identity = request_context["identity"]

    assert request_context["requestId"]
    assert identity["apiKey"]
    assert identity["apiKeyId"]
    assert request_context["resourcePath"] == event["resource"]
    assert request_context["httpMethod"] == event["httpMethod"]
    assert request_context["path"] == f"/{request_context['stage']}{event['path']}"
    assert event["multiValueHeaders"] == {
        header: [value] for header, value in event["headers"].items()
    }


def test_predict_event_prices_one_house() -> None:
    event = load_event("serve_predict.json")
    house = json.loads(event["body"])

    assert event["httpMethod"] == "POST"
    assert event["path"] == "/predict"
    assert event["headers"]["Content-Type"] == "application/json"
    assert "Sale_Price" not in house
    assert house["Gr_Liv_Area"] > 0
    assert house["Mas_Vnr_Type"] == "None"


def test_drift_event_is_scheduled_event() -> None:
    event = load_event("drift_schedule.json")

    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["detail"] == {}
    assert len(event["resources"]) == 1


def test_step_events_accumulate_pipeline_state() -> None:
    # Each task stores its result under its own key, so every step's input extends the
    # previous step's input. validate.json names only the batch's bucket and key, so that it
    # validates the latest version of a batch that `make demo` uploaded. The later events
    # carry the full batch record of one real execution.
    ingest_record = load_event("ingest_s3_put.json")["Records"][0]["s3"]
    steps = [
        ("train.json", None),
        ("evaluate.json", "training"),
        ("promote.json", "evaluation"),
    ]
    previous: dict[str, Any] = {}

    for name, added_key in steps:
        event = load_event(name)
        if added_key is not None:
            assert {**previous, added_key: event[added_key]} == event, name
        previous = event

    first = load_event("validate.json")
    train = load_event("train.json")
    assert first["batch"]["bucket"] == ingest_record["bucket"]["name"]
    assert first["batch"]["key"] == ingest_record["object"]["key"]
    assert first["batch"].items() <= train["batch"].items()
    assert {key: value for key, value in train.items() if key not in ("batch", "validation")} == {
        key: value for key, value in first.items() if key != "batch"
    }
    assert train["batch"]["version_id"] == ingest_record["object"]["versionId"]
    assert first["execution"]["arn"].startswith("arn:aws:states:")
    assert load_event("train.json")["validation"]["quality_gate"]["passed"] is True
    assert load_event("promote.json")["evaluation"]["promote"] is True
