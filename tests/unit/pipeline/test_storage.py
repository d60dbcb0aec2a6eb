"""ObjectStore: versioned reads, creates that never overwrite, conditional replaces."""

from __future__ import annotations

from typing import Any

import pytest
from mhpe.storage import (
    ObjectChangedError,
    ObjectExistsError,
    ObjectLocation,
    ObjectMissingError,
    ObjectStore,
)


def test_create_rejects_different_bytes(store: ObjectStore, s3: Any) -> None:
    store.create("curated", "a.json", b"first")

    with pytest.raises(ObjectExistsError, match="s3://curated/a.json"):
        store.create("curated", "a.json", b"second")

    body = s3.get_object(Bucket="curated", Key="a.json")["Body"].read()
    versions = s3.list_object_versions(Bucket="curated", Prefix="a.json")["Versions"]
    assert body == b"first"
    assert len(versions) == 1


def test_create_accepts_same_bytes_again(store: ObjectStore) -> None:
    first = store.create("curated", "a.json", b"same")

    again = store.create("curated", "a.json", b"same")

    assert again == first


def test_read_returns_requested_version(store: ObjectStore, s3: Any) -> None:
    old = s3.put_object(Bucket="raw", Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket="raw", Key="k", Body=b"new")

    assert store.read(ObjectLocation("raw", "k", old)) == b"old"
    assert store.read(ObjectLocation("raw", "k")) == b"new"


def test_read_missing_object_raises(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissingError, match="s3://raw/absent"):
        store.read(ObjectLocation("raw", "absent"))


def test_replace_requires_current_etag(store: ObjectStore) -> None:
    created = store.replace("models", "pointer.json", b"1", expected_etag=None)
    store.replace("models", "pointer.json", b"2", expected_etag=created.etag)

    with pytest.raises(ObjectChangedError):
        store.replace("models", "pointer.json", b"3", expected_etag=created.etag)
    with pytest.raises(ObjectChangedError):
        store.replace("models", "pointer.json", b"3", expected_etag=None)

    latest = store.read_latest("models", "pointer.json")
    assert latest is not None
    assert latest.body == b"2"


def test_copy_keeps_source_version(store: ObjectStore, s3: Any) -> None:
    version = s3.put_object(Bucket="raw", Key="b.csv", Body=b"v1")["VersionId"]
    s3.put_object(Bucket="raw", Key="b.csv", Body=b"v2")

    copied = store.copy(ObjectLocation("raw", "b.csv", version), "quarantine", "x/b.csv")

    assert store.read(copied) == b"v1"


def test_list_returns_sorted_keys(store: ObjectStore) -> None:
    for key in ("p/b", "p/a", "q/c"):
        store.create("curated", key, b"x")

    assert [summary.key for summary in store.list("curated", "p/")] == ["p/a", "p/b"]
