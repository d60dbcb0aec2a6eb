"""Keep the local cloud's S3 objects, with every version, across restarts.

moto holds S3 in memory. The S3 backend is pickled to state_dir/s3.pickle shortly after any
S3 write and at shutdown, and loaded back at start.
"""

from __future__ import annotations

import copyreg
import logging
import os
import pickle
import threading
from pathlib import Path
from typing import Any

from moto.s3.models import s3_backends
from moto.s3.utils import _VersionedKeyStore

from infra.localcloud.config import ACCOUNT_ID

logger = logging.getLogger(__name__)

PARTITION = "aws"
SNAPSHOT_DELAY_S = 2.0


def _rebuild_versioned_store(cls: type, items: list[tuple[str, list[Any]]]) -> Any:
    store = cls()
    for key, versions in items:
        dict.__setitem__(store, key, versions)
    return store


def _reduce_versioned_store(store: _VersionedKeyStore) -> tuple[Any, ...]:
    # The default pickling of this dict subclass keeps only each key's newest version.
    items = [(key, dict.__getitem__(store, key)) for key in dict.keys(store)]
    return _rebuild_versioned_store, (type(store), items)


copyreg.pickle(_VersionedKeyStore, _reduce_versioned_store)


class S3Snapshot:
    """Saves and restores moto's S3 backend of the local account."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._save_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="s3-snapshot", daemon=True)

    def restore(self) -> int:
        """Load the last snapshot into moto; return the number of buckets restored."""
        if not self.path.exists():
            return 0
        with self.path.open("rb") as file:
            saved = pickle.load(file)
        backend = s3_backends[ACCOUNT_ID][PARTITION]
        backend.__dict__.update(saved.__dict__)
        for name in backend.buckets:
            s3_backends.bucket_accounts[name] = (PARTITION, ACCOUNT_ID)
        logger.info("restored %d S3 buckets from %s", len(backend.buckets), self.path)
        return len(backend.buckets)

    def mark_dirty(self) -> None:
        self._dirty.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the background saver and write a final snapshot."""
        self._stop.set()
        self._dirty.set()
        self._thread.join(timeout=30)
        self.save()

    def save(self) -> None:
        with self._save_lock:
            backend = s3_backends[ACCOUNT_ID][PARTITION]
            temporary = self.path.with_suffix(".partial")
            data = self._dumps(backend)
            temporary.write_bytes(data)
            os.replace(temporary, self.path)
            logger.debug("saved %d S3 buckets (%d bytes)", len(backend.buckets), len(data))

    @staticmethod
    def _dumps(backend: Any) -> bytes:
        # A request may change a bucket while it is pickled; try again on a consistent copy.
        for attempt in range(5):
            try:
                return pickle.dumps(backend, protocol=pickle.HIGHEST_PROTOCOL)
            except RuntimeError as error:
                logger.debug("S3 changed during snapshot (attempt %d): %s", attempt + 1, error)
        return pickle.dumps(backend, protocol=pickle.HIGHEST_PROTOCOL)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.wait(SNAPSHOT_DELAY_S):
                return
            self._dirty.clear()
            try:
                self.save()
            except Exception:
                logger.exception(
                    "S3 snapshot to %s failed; will retry after the next write", self.path
                )
