"""S3 event notifications in the exact shape S3 sends to Lambda."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from infra.localcloud.config import ACCOUNT_ID

_sequence = itertools.count()
_sequence_lock = threading.Lock()


def encode_key(key: str) -> str:
    """Encode an object key as S3 does in event records: form encoding, '/' kept."""
    return quote_plus(key, safe="/")


def next_sequencer() -> str:
    """Return a hexadecimal sequencer that grows with every event, as S3's does per key."""
    with _sequence_lock:
        count = next(_sequence)
    return f"{time.time_ns():016X}{count % 256:02X}"


def object_created_record(
    *,
    event_name: str,
    bucket_name: str,
    bucket_arn: str,
    region: str,
    configuration_id: str,
    key: str,
    size: int,
    etag: str,
    version_id: str | None,
) -> dict[str, Any]:
    """Build one record of an S3 event; event_name is e.g. "ObjectCreated:Put"."""
    now = datetime.now(UTC)
    s3_object: dict[str, Any] = {
        "key": encode_key(key),
        "size": size,
        "eTag": etag.strip('"'),
    }
    # S3 includes versionId only for objects of a versioned bucket.
    if version_id and version_id != "null":
        s3_object["versionId"] = version_id
    s3_object["sequencer"] = next_sequencer()
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": event_name,
        "userIdentity": {"principalId": f"AWS:{ACCOUNT_ID}"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": uuid.uuid4().hex,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket_name,
                "ownerIdentity": {"principalId": ACCOUNT_ID},
                "arn": bucket_arn,
            },
            "object": s3_object,
        },
    }
