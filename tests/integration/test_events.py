"""S3 notifications and EventBridge rules delivered by the local cloud."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Cloud, wait_for

pytestmark = pytest.mark.integration


def written_events(cloud: Cloud) -> list[dict]:
    """Return every event the writer functions stored in the output bucket."""
    s3 = cloud.client("s3")
    bucket = cloud.outputs["OutputBucketName"]
    contents = s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents", [])
    return [
        json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        for item in contents
    ]


def s3_records_for(cloud: Cloud, encoded_key: str) -> list[dict]:
    records = []
    for event in written_events(cloud):
        for record in event.get("Records", []):
            if record["s3"]["object"]["key"] == encoded_key:
                records.append(record)
    return records


def test_awslocal_s3_cp_makes_function_write_object(cloud: Cloud, tmp_path: Path) -> None:
    batch = tmp_path / "2008-06.csv"
    batch.write_text("Sale_Price,Gr_Liv_Area\n208500,1710\n")

    cloud.awslocal("s3", "cp", str(batch), f"s3://{cloud.outputs['InputBucketName']}/incoming/")

    records = wait_for(
        lambda: s3_records_for(cloud, "incoming/2008-06.csv"), 30, "the writer's object"
    )
    assert records[0]["eventName"] == "ObjectCreated:Put"


def test_s3_event_has_aws_shape_and_encoded_key(cloud: Cloud) -> None:
    s3 = cloud.client("s3")
    bucket = cloud.outputs["InputBucketName"]
    key = "incoming/batch of Zürich é.csv"
    put = s3.put_object(Bucket=bucket, Key=key, Body=b"a,b\n1,2\n")

    records = wait_for(
        lambda: s3_records_for(cloud, "incoming/batch+of+Z%C3%BCrich+%C3%A9.csv"),
        30,
        "the event of a key with spaces and non-ASCII characters",
    )
    record = records[0]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["size"] == 8
    assert record["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    assert record["s3"]["object"]["versionId"] == put["VersionId"]
    assert len(record["s3"]["object"]["sequencer"]) >= 16


def test_s3_event_is_delivered_after_upload_returns(cloud: Cloud) -> None:
    s3 = cloud.client("s3")
    bucket = cloud.outputs["InputBucketName"]
    started = time.monotonic()
    s3.put_object(Bucket=bucket, Key="incoming/async.csv", Body=b"x\n")
    upload_s = time.monotonic() - started

    wait_for(lambda: s3_records_for(cloud, "incoming/async.csv"), 30, "the async event")
    assert upload_s < 1.0


def test_s3_events_for_copy_and_multipart_upload(cloud: Cloud) -> None:
    s3 = cloud.client("s3")
    bucket = cloud.outputs["InputBucketName"]
    s3.put_object(Bucket=bucket, Key="staging/source.csv", Body=b"x\n")
    s3.copy_object(
        Bucket=bucket,
        Key="incoming/copied.csv",
        CopySource={"Bucket": bucket, "Key": "staging/source.csv"},
    )
    upload = s3.create_multipart_upload(Bucket=bucket, Key="incoming/multipart.csv")
    part = s3.upload_part(
        Bucket=bucket, Key="incoming/multipart.csv", UploadId=upload["UploadId"],
        PartNumber=1, Body=b"y" * 1024,
    )  # fmt: skip
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="incoming/multipart.csv",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )

    copied = wait_for(lambda: s3_records_for(cloud, "incoming/copied.csv"), 30, "copy event")
    multipart = wait_for(
        lambda: s3_records_for(cloud, "incoming/multipart.csv"), 30, "multipart event"
    )
    assert copied[0]["eventName"] == "ObjectCreated:Copy"
    assert multipart[0]["eventName"] == "ObjectCreated:CompleteMultipartUpload"


def test_s3_filter_skips_keys_outside_prefix_and_suffix(cloud: Cloud) -> None:
    s3 = cloud.client("s3")
    bucket = cloud.outputs["InputBucketName"]
    s3.put_object(Bucket=bucket, Key="elsewhere/skipped.csv", Body=b"x\n")
    s3.put_object(Bucket=bucket, Key="incoming/skipped.txt", Body=b"x\n")
    s3.put_object(Bucket=bucket, Key="incoming/filter-probe.csv", Body=b"x\n")

    # The probe is delivered after the two skipped keys were uploaded.
    wait_for(lambda: s3_records_for(cloud, "incoming/filter-probe.csv"), 30, "the probe event")
    time.sleep(1.0)
    assert s3_records_for(cloud, "elsewhere/skipped.csv") == []
    assert s3_records_for(cloud, "incoming/skipped.txt") == []


def test_cloud_fire_invokes_scheduled_rule_target(cloud: Cloud) -> None:
    before = len([e for e in written_events(cloud) if e.get("detail-type") == "Scheduled Event"])

    result = cloud.mhpe("cloud", "fire", "mhpe-test-nightly")

    assert json.loads(result.stdout)["targets"]
    wait_for(
        lambda: (
            len([e for e in written_events(cloud) if e.get("detail-type") == "Scheduled Event"])
            > before
        ),
        30,
        "the scheduled event written by ScheduledFunction",
    )


def test_cloud_fire_unknown_rule_fails_with_name(cloud: Cloud) -> None:
    result = cloud.mhpe("cloud", "fire", "no-such-rule", check=False)

    assert result.returncode != 0
    assert "no-such-rule" in result.stderr


def test_put_events_delivers_to_matching_rule_target(cloud: Cloud) -> None:
    events = cloud.client("events")
    events.put_events(
        Entries=[
            {"Source": "mhpe.test", "DetailType": "BatchReady", "Detail": json.dumps({"m": "ok"})},
            {"Source": "other", "DetailType": "BatchReady", "Detail": json.dumps({"m": "no"})},
        ]
    )

    matched = wait_for(
        lambda: [e for e in written_events(cloud) if e.get("source") == "mhpe.test"],
        30,
        "the matching event",
    )
    assert matched[0]["detail"] == {"m": "ok"}
    assert [e for e in written_events(cloud) if e.get("source") == "other"] == []


@pytest.mark.slow
def test_rate_schedule_fires_on_time(cloud: Cloud) -> None:
    events = cloud.client("events")
    function_arn = cloud.client("lambda").get_function(
        FunctionName=cloud.function_name("ScheduledFunction")
    )["Configuration"]["FunctionArn"]
    events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    events.put_targets(
        Rule="every-minute",
        Targets=[{"Id": "writer", "Arn": function_arn, "Input": json.dumps({"tick": "minute"})}],
    )
    try:
        wait_for(
            lambda: [e for e in written_events(cloud) if e.get("tick") == "minute"],
            80,
            "the rate(1 minute) rule to fire",
            interval_s=1,
        )
    finally:
        events.remove_targets(Rule="every-minute", Ids=["writer"])
        events.delete_rule(Name="every-minute")
