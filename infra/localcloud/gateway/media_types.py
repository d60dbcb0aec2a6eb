"""Matching of Content-Type and Accept values against an API's binaryMediaTypes."""

from __future__ import annotations


def is_binary(media_type: str | None, binary_media_types: tuple[str, ...]) -> bool:
    """Return whether `media_type` (parameters allowed) matches an entry such as image/png,
    image/* or */*."""
    if not media_type or not binary_media_types:
        return False
    essence = media_type.split(";", 1)[0].strip().lower()
    main_type, _, _ = essence.partition("/")
    for pattern in binary_media_types:
        pattern = pattern.strip().lower()
        if pattern in ("*/*", essence) or pattern == f"{main_type}/*":
            return True
    return False


def first_accept_type(accept: str | None) -> str | None:
    """Return the first media type of an Accept header, which decides a binary response."""
    if not accept:
        return None
    return accept.split(",", 1)[0].strip() or None
