"""Media metadata in ActivityStreams documents, found and removed for the charter's `redact` action.

The charter names media metadata `location` and `exif`. In a document, `location` is the ActivityStreams
property (a `Place`) on the object, on its attachments and on an activity's embedded object; those are
what `media_metadata_of` reports and `without_media_metadata` removes. EXIF is carried by image files, not by
documents: Cercle re-encodes every uploaded image without it (`server.services.media`), and documents
only point at files, so no document property stands for it and none is removed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MEDIA_PROPERTIES: dict[str, tuple[str, ...]] = {"location": ("location",)}
_NESTED = ("object", "attachment")
_MAX_DEPTH = 4


def _nodes(document: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(document, list):
        for item in document:
            yield from _nodes(item, depth + 1)
    elif isinstance(document, dict):
        yield document
        for name in _NESTED:
            if name in document:
                yield from _nodes(document[name], depth + 1)


def media_metadata_of(document: dict[str, Any]) -> frozenset[str]:
    """The media metadata names (`EgressFacts.media_metadata`) that `document` carries."""
    return frozenset(
        name
        for name, properties in MEDIA_PROPERTIES.items()
        if any(prop in node for node in _nodes(document) for prop in properties)
    )


def _without(value: Any, properties: frozenset[str], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, list):
        return [_without(item, properties, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    copy = {key: item for key, item in value.items() if key not in properties}
    for name in _NESTED:
        if name in copy:
            copy[name] = _without(copy[name], properties, depth + 1)
    return copy


def without_media_metadata(document: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A copy of `document` without the properties that carry the named media metadata."""
    properties = frozenset(prop for name in names for prop in MEDIA_PROPERTIES.get(name, ()))
    if not properties:
        return document
    result: dict[str, Any] = _without(document, properties, 0)
    return result
