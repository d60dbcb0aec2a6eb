"""Reads of the champion pointer and the promoted ONNX file from the models bucket."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from mhpe.serving.manifest import CHAMPION_POINTER_KEY, ChampionManifest, parse_manifest
from mhpe.storage import MISSING_OBJECT_CODES, ObjectStore

logger = logging.getLogger(__name__)

# A stalled S3 read must not hold a worker's first request for Lambda's whole timeout.
CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
)


@dataclass(frozen=True)
class PointerVersion:
    """The ETag of the champion pointer as last read; it changes with every promotion."""

    etag: str


class ChampionStore:
    """Reads `champion/manifest.json` and the ONNX file it names from one bucket."""

    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = client if client is not None else boto3.client("s3", config=CLIENT_CONFIG)
        self._objects = ObjectStore(self._s3)

    @property
    def pointer_uri(self) -> str:
        return f"s3://{self.bucket}/{CHAMPION_POINTER_KEY}"

    def pointer_version(self) -> PointerVersion | None:
        """Return the pointer's ETag with a HEAD request, or None when nothing is promoted."""
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=CHAMPION_POINTER_KEY)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in MISSING_OBJECT_CODES:
                return None
            raise
        return PointerVersion(head["ETag"])

    def read_manifest(self) -> tuple[ChampionManifest, PointerVersion] | None:
        """Read and parse the pointer; return None when nothing is promoted.

        Raises ManifestError when the pointer is not a valid manifest.
        """
        latest = self._objects.read_latest(self.bucket, CHAMPION_POINTER_KEY)
        if latest is None:
            return None
        return parse_manifest(latest.body, self.pointer_uri), PointerVersion(latest.etag)

    def read_model(self, manifest: ChampionManifest) -> bytes:
        """Read the manifest's ONNX file, of its recorded S3 version when there is one."""
        return self._objects.read(manifest.onnx.location)
