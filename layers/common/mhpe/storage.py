"""A thin S3 client for the pipeline: versioned reads, and writes that never overwrite.

Every write that creates data sends `If-None-Match: *`, so S3 rejects it when the key exists.
A retried step that writes the same bytes again finds the object it wrote before, compares the
ETag with the MD5 of its bytes, and carries on. The only mutable objects are small pointers
written with `replace`, which sends `If-Match` with the ETag the caller read, so two writers
never overwrite each other's update unknowingly.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from mhpe.exceptions import MhpeError

logger = logging.getLogger(__name__)

PRECONDITION_FAILED = "PreconditionFailed"
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404"})
# S3 reports a conditional write that raced with another write as 409 ConditionalRequestConflict.
CONFLICT_CODES = frozenset({PRECONDITION_FAILED, "ConditionalRequestConflict"})


class ObjectExistsError(MhpeError):
    """An object that must be created already exists with different content."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        super().__init__(
            f"object {uri} already exists with different content and was left unchanged; "
            "write to a new key"
        )


class ObjectChangedError(MhpeError):
    """A conditional replace found the object changed since the caller read it."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        super().__init__(f"object {uri} changed since it was read; read it again and retry")


class ObjectMissingError(MhpeError):
    """The object or the object version to read does not exist."""

    def __init__(self, uri: str, code: str) -> None:
        self.uri = uri
        self.code = code
        super().__init__(f"object {uri} not found ({code})")


@dataclass(frozen=True)
class ObjectLocation:
    """An S3 object, or one version of it when `version_id` is set."""

    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        base = f"s3://{self.bucket}/{self.key}"
        return f"{base}?versionId={self.version_id}" if self.version_id else base

    def to_dict(self) -> dict[str, str | None]:
        return {"bucket": self.bucket, "key": self.key, "version_id": self.version_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectLocation:
        return cls(str(data["bucket"]), str(data["key"]), data.get("version_id"))


@dataclass(frozen=True)
class ObjectSummary:
    """One entry of a bucket listing: the latest version of a key."""

    key: str
    size_bytes: int
    last_modified: datetime
    etag: str


@dataclass(frozen=True)
class ReplacedObject:
    """The version a conditional replace wrote, with the ETag for the next replace."""

    location: ObjectLocation
    etag: str


@dataclass(frozen=True)
class VersionedBody:
    """An object's bytes with the ETag to pass to `ObjectStore.replace`."""

    body: bytes
    etag: str


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _md5_etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


class ObjectStore:
    """S3 reads and writes through a boto3 client, which honours AWS_ENDPOINT_URL."""

    def __init__(self, client: Any | None = None) -> None:
        self._s3 = client if client is not None else boto3.client("s3")

    def read(self, location: ObjectLocation) -> bytes:
        """Return the bytes of the object, or of its version when given, or raise ObjectMissingError."""
        arguments: dict[str, str] = {"Bucket": location.bucket, "Key": location.key}
        if location.version_id:
            arguments["VersionId"] = location.version_id
        try:
            response = self._s3.get_object(**arguments)
        except ClientError as error:
            code = _error_code(error)
            if code in MISSING_OBJECT_CODES:
                raise ObjectMissingError(location.uri, code) from error
            raise
        return response["Body"].read()

    def read_latest(self, bucket: str, key: str) -> VersionedBody | None:
        """Return the latest bytes and ETag of a key, or None when the key does not exist."""
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in MISSING_OBJECT_CODES:
                return None
            raise
        return VersionedBody(response["Body"].read(), response["ETag"])

    def create(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> ObjectLocation:
        """Create a new object, or return the existing one when it contains the same bytes.

        Raises ObjectExistsError when the key already holds different bytes.
        """
        try:
            response = self._s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=metadata or {},
                IfNoneMatch="*",
            )
        except ClientError as error:
            if _error_code(error) not in CONFLICT_CODES:
                raise
            return self._existing_copy(bucket, key, body)
        location = ObjectLocation(bucket, key, response.get("VersionId"))
        logger.info("created %s (%d bytes)", location.uri, len(body))
        return location

    def _existing_copy(self, bucket: str, key: str, body: bytes) -> ObjectLocation:
        head = self._s3.head_object(Bucket=bucket, Key=key)
        location = ObjectLocation(bucket, key, head.get("VersionId"))
        if head["ETag"] != _md5_etag(body):
            raise ObjectExistsError(location.uri)
        logger.info("%s already exists with the same bytes; kept it", location.uri)
        return location

    def replace(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        expected_etag: str | None,
        content_type: str = "application/json",
    ) -> ReplacedObject:
        """Write a new version of a pointer object, only if it is still as the caller read it.

        `expected_etag` None means the caller found no object. Raises ObjectChangedError when
        another writer got there first. The bucket's versioning keeps every earlier version.
        """
        condition = {"IfNoneMatch": "*"} if expected_etag is None else {"IfMatch": expected_etag}
        try:
            response = self._s3.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType=content_type, **condition
            )
        except ClientError as error:
            if _error_code(error) in CONFLICT_CODES or _error_code(error) in MISSING_OBJECT_CODES:
                raise ObjectChangedError(f"s3://{bucket}/{key}") from error
            raise
        location = ObjectLocation(bucket, key, response.get("VersionId"))
        return ReplacedObject(location, response["ETag"])

    def copy(self, source: ObjectLocation, bucket: str, key: str) -> ObjectLocation:
        """Copy one object version to a key, whose earlier versions the bucket keeps."""
        copy_source: dict[str, str] = {"Bucket": source.bucket, "Key": source.key}
        if source.version_id:
            copy_source["VersionId"] = source.version_id
        response = self._s3.copy_object(Bucket=bucket, Key=key, CopySource=copy_source)
        location = ObjectLocation(bucket, key, response.get("VersionId"))
        logger.info("copied %s to %s", source.uri, location.uri)
        return location

    def list(self, bucket: str, prefix: str) -> list[ObjectSummary]:
        """List the latest version of every key under `prefix`, sorted by key."""
        paginator = self._s3.get_paginator("list_objects_v2")
        summaries = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                summaries.append(
                    ObjectSummary(
                        key=entry["Key"],
                        size_bytes=int(entry["Size"]),
                        last_modified=entry["LastModified"],
                        etag=entry["ETag"],
                    )
                )
        return sorted(summaries, key=lambda summary: summary.key)
