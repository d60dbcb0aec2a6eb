"""The quarantine bucket's layout: a rejected batch is copied beside a JSON reason or report.

Keys are `{stage}/{batch key}/{version label}/{file name}` with `reason.json` (ingest) or
`report.json` (validate) in the same folder, so every rejected version keeps its own folder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from mhpe.pipeline.state import BatchRef
from mhpe.storage import ObjectLocation, ObjectStore

logger = logging.getLogger(__name__)

INGEST_STAGE = "ingest"
VALIDATE_STAGE = "validate"


@dataclass(frozen=True)
class QuarantinedBatch:
    """Where a rejected batch and the document explaining it were written."""

    batch_copy: ObjectLocation | None
    document: ObjectLocation

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch_copy.to_dict() if self.batch_copy else None,
            "document": self.document.to_dict(),
            "document_uri": self.document.uri,
        }


def quarantine_prefix(stage: str, batch: BatchRef) -> str:
    return f"{stage}/{batch.key}/{batch.version_label}/"


def quarantine_batch(
    store: ObjectStore,
    quarantine_bucket: str,
    stage: str,
    batch: BatchRef,
    document_name: str,
    document: dict[str, Any],
    *,
    copy_batch: bool = True,
) -> QuarantinedBatch:
    """Copy the batch version to the quarantine bucket and write the document beside it.

    `copy_batch` False writes only the document, for a batch that cannot be read at all.
    """
    prefix = quarantine_prefix(stage, batch)
    batch_copy = None
    if copy_batch:
        batch_copy = store.copy(batch.location, quarantine_bucket, prefix + batch.file_name)
    body = json.dumps(document, indent=2, default=str).encode()
    written = store.create(
        quarantine_bucket, prefix + document_name, body, content_type="application/json"
    )
    logger.warning("quarantined %s: %s", batch.location.uri, written.uri)
    return QuarantinedBatch(batch_copy, written)
