"""The champion model of one warm worker, and how a promotion reaches it.

A worker loads the champion once, at init. Afterwards `poll()`, called at the start of
every request, starts a background check when the last one is older than the refresh
interval. The check sends one HEAD request for `champion/manifest.json`. When the ETag
changed, it reads the manifest and the ONNX file, checks and loads the model, and then
replaces the reference in one assignment. A request reads `current` once and prices every
house with that object, so one version prices the whole request, and requests never wait
for a load. A model that fails its checks is never served: the previous one stays, and the
same pointer is not tried again.

On Lambda, a background thread runs only while an invocation runs, so a promotion reaches
a worker within the refresh interval plus the load time of its next requests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mhpe.serving.champion_store import ChampionStore
from mhpe.serving.exceptions import ManifestError, ModelNotReadyError, ModelRejectedError
from mhpe.serving.price_model import PriceModel
from mhpe.storage import ObjectMissingError

logger = logging.getLogger(__name__)

MODEL_SWAPPED = "ModelSwaps"
MODEL_REJECTED = "ModelRejections"
CHECK_FAILED = "ModelCheckFailures"
# Errors of one check that a later check may not repeat: S3 unreachable, throttled, or the
# ONNX file not yet readable.
TRANSIENT_ERRORS = (ClientError, BotoCoreError, ObjectMissingError)

EventListener = Callable[[str], None]


@dataclass(frozen=True)
class WatcherStatus:
    """The worker's model and its last check, as GET /health reports them."""

    model_version: str | None
    loaded_at: str | None
    last_check_at: str | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "model_loaded_at": self.loaded_at,
            "last_check_at": self.last_check_at,
            "last_error": self.last_error,
        }


class ChampionWatcher:
    """Keeps this worker's champion model and swaps in a newly promoted one.

    `on_event` receives MODEL_SWAPPED, MODEL_REJECTED or CHECK_FAILED, e.g. to count them as
    metrics. `clock` returns monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        store: ChampionStore,
        refresh_interval_s: float,
        *,
        on_event: EventListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not refresh_interval_s > 0:
            raise ValueError(
                f"refresh_interval_s {refresh_interval_s} is invalid: it must be more than 0"
            )
        self._store = store
        self._refresh_interval_s = refresh_interval_s
        self._on_event = on_event
        self._clock = clock

        self._model: PriceModel | None = None
        self._pointer_etag: str | None = None
        self._rejected_etag: str | None = None
        self._last_check_at: str | None = None
        self._last_error: str | None = "no check yet"

        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._next_check_s = 0.0
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> PriceModel | None:
        """The model that serves now. Read it once per request."""
        return self._model

    def require(self) -> PriceModel:
        """Return the current model; raise ModelNotReadyError when none is loaded."""
        model = self._model
        if model is None:
            raise ModelNotReadyError(self._last_error or "no champion pointer found")
        return model

    def status(self) -> WatcherStatus:
        model = self._model
        return WatcherStatus(
            model_version=model.version if model else None,
            loaded_at=model.loaded_at if model else None,
            last_check_at=self._last_check_at,
            last_error=self._last_error,
        )

    def poll(self) -> None:
        """Start a background check when one is due and none is running, without waiting for it."""
        now = self._clock()
        with self._lock:
            if now < self._next_check_s or (self._thread is not None and self._thread.is_alive()):
                return
            self._next_check_s = now + self._refresh_interval_s
            self._thread = threading.Thread(
                target=self.refresh, name="champion-refresh", daemon=True
            )
            self._thread.start()

    def wait_for_check(self, timeout_s: float) -> bool:
        """Wait for a running background check; return False if it is still running."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    def refresh(self) -> bool:
        """Check the pointer now and load a new champion; return True when the model changed.

        The errors of S3, of the manifest and of the model's checks are logged and kept for
        GET /health, not raised, so that a failed check leaves the current model serving.
        """
        with self._refresh_lock:
            with self._lock:
                self._next_check_s = self._clock() + self._refresh_interval_s
            self._last_check_at = datetime.now(UTC).isoformat()
            try:
                changed = self._refresh()
            except (ModelRejectedError, ManifestError) as error:
                self._last_error = str(error)
                logger.error("%s; model version %s keeps serving", error, self._version_text())
                self._emit(MODEL_REJECTED)
                return False
            except TRANSIENT_ERRORS as error:
                self._last_error = f"champion check failed: {error}"
                logger.warning(
                    "champion check of %s failed, retrying in %.0f s: %s",
                    self._store.pointer_uri,
                    self._refresh_interval_s,
                    error,
                )
                self._emit(CHECK_FAILED)
                return False
            return changed

    def _refresh(self) -> bool:
        """Run one check. Sets `_last_error` to the check's outcome, None when it succeeded."""
        pointer = self._store.pointer_version()
        if pointer is None:
            if self._pointer_etag is not None:
                logger.warning(
                    "%s is gone; model version %s keeps serving",
                    self._store.pointer_uri,
                    self._version_text(),
                )
                self._pointer_etag = None
            self._last_error = f"no champion pointer at {self._store.pointer_uri}"
            return False
        if pointer.etag == self._rejected_etag:
            return False
        if pointer.etag == self._pointer_etag:
            self._last_error = None
            return False

        try:
            found = self._store.read_manifest()
        except ManifestError:
            self._rejected_etag = pointer.etag
            raise
        if found is None:
            self._last_error = f"no champion pointer at {self._store.pointer_uri}"
            return False
        manifest, read_version = found
        current = self._model
        if (
            current is not None
            and current.version == manifest.version
            and current.manifest.onnx.sha256 == manifest.onnx.sha256
        ):
            self._pointer_etag = read_version.etag
            self._last_error = None
            return False

        try:
            model = PriceModel.from_onnx_bytes(self._store.read_model(manifest), manifest)
        except ModelRejectedError:
            self._rejected_etag = read_version.etag
            raise

        self._model = model
        self._pointer_etag = read_version.etag
        self._last_error = None
        logger.info(
            "champion changed: model %s version %s replaces %s",
            model.model_name,
            model.version,
            current.version if current else "no model",
        )
        self._emit(MODEL_SWAPPED)
        return True

    def _version_text(self) -> str:
        return self._model.version if self._model else "(none)"

    def _emit(self, event: str) -> None:
        if self._on_event is not None:
            self._on_event(event)
