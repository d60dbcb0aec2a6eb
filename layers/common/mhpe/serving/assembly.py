"""Assembly of the serve function's parts from its settings, at init."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Metrics
from fastapi import FastAPI

from mhpe.serving.api import create_app
from mhpe.serving.audit import AuditTrail, StructuredLogger, audit_file_path
from mhpe.serving.audit_shipper import AuditShipper
from mhpe.serving.champion import ChampionWatcher
from mhpe.serving.champion_store import CLIENT_CONFIG, ChampionStore
from mhpe.serving.service import PricingService
from mhpe.serving.settings import AUDIT_FILE_BACKUPS, AUDIT_FILE_MAX_BYTES, ServingSettings
from mhpe.serving.telemetry import ServeMetrics
from mhpe.storage import ObjectStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Serving:
    """The app and the parts behind it, kept for tests and shutdown."""

    app: FastAPI
    service: PricingService
    watcher: ChampionWatcher
    audit: AuditTrail


def build_serving(
    settings: ServingSettings,
    *,
    audit_log: StructuredLogger | None,
    metrics: Metrics | None,
    s3_client: Any | None = None,
) -> Serving:
    """Load the champion once (a missing one is not an error) and build the app.

    `audit_log` receives one structured line per prediction; `metrics` gets the EMF
    metrics. Audit records ship to S3 only when `settings.reports_bucket` is set.
    """
    s3 = s3_client if s3_client is not None else boto3.client("s3", config=CLIENT_CONFIG)
    serve_metrics = ServeMetrics(metrics) if metrics is not None else None

    watcher = ChampionWatcher(
        ChampionStore(settings.models_bucket, s3),
        settings.refresh_interval_s,
        on_event=serve_metrics.record_model_event if serve_metrics else None,
    )
    if not watcher.refresh():
        logger.warning("serving starts without a model: %s", watcher.status().last_error)

    shipper = None
    if settings.reports_bucket:
        shipper = AuditShipper(
            ObjectStore(s3),
            settings.reports_bucket,
            max_records=settings.audit_ship_max_records,
            interval_s=settings.audit_ship_interval_s,
        )
        shipper.start()
    audit = AuditTrail(
        audit_log,
        audit_file_path(settings.audit_dir),
        shipper,
        file_max_bytes=AUDIT_FILE_MAX_BYTES,
        file_backups=AUDIT_FILE_BACKUPS,
    )

    service = PricingService(watcher, audit, serve_metrics)
    return Serving(create_app(service, serve_metrics), service, watcher, audit)
