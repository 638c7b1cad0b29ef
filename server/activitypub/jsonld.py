"""JSON-LD handling that never touches the network.

Contexts we know (ActivityStreams, security v1, multikey v1, data-integrity v1) ship as files in
``contexts/`` and are read on first use. :func:`document_loader` serves them to pyld and raises
:class:`UnknownContextError` for any other URL.

:func:`normalize_document` has a fast path, taken by nearly every real activity: when every ``@context``
in the document (top level and nested) is a known URL or an inline map of simple term definitions that
neither redefine a standard term nor give a standard IRI another name, the document already means what our
code reads, so it is returned unchanged, with no pyld call. Otherwise the document is expanded and compacted
to our standard context, so a peer that renames ``actor`` through its own context is read correctly.
Unknown remote contexts are refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld

from server.activitypub.vocabulary import (
    AS_CONTEXT,
    DATA_INTEGRITY_V1_CONTEXT,
    MULTIKEY_V1_CONTEXT,
    SECURITY_V1_CONTEXT,
    default_context,
)

_CONTEXT_FILES = {
    AS_CONTEXT: "activitystreams.jsonld",
    "http://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    SECURITY_V1_CONTEXT: "security-v1.jsonld",
    MULTIKEY_V1_CONTEXT: "multikey-v1.jsonld",
    DATA_INTEGRITY_V1_CONTEXT: "data-integrity-v1.jsonld",
}
_SIMPLE_KEYS = frozenset({"@id", "@type", "@container"})


class UnknownContextError(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(f"unknown @context {url}: remote contexts are never fetched")
        self.url = url


@dataclass(frozen=True, slots=True)
class NormalizeResult:
    ok: bool
    document: dict[str, Any] | None = None
    reason: str | None = None


def is_known_context(url: str) -> bool:
    return url in _CONTEXT_FILES


@cache
def _load(filename: str) -> str:
    return resources.files("server.activitypub").joinpath("contexts", filename).read_text("utf-8")


def context_document(url: str) -> dict[str, Any]:
    """The parsed context document for a known URL (a fresh copy); raises UnknownContextError."""
    filename = _CONTEXT_FILES.get(url)
    if filename is None:
        raise UnknownContextError(url)
    document: dict[str, Any] = json.loads(_load(filename))
    return document


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": context_document(url),
    }


@cache
def _standard_terms() -> dict[str, Any]:
    terms: dict[str, Any] = {}
    for url in (AS_CONTEXT, SECURITY_V1_CONTEXT):
        terms.update(context_document(url)["@context"])
    return terms


def _expand_iri(value: str, prefixes: dict[str, Any]) -> str:
    prefix, sep, rest = value.partition(":")
    base = prefixes.get(prefix) if sep else None
    return base + rest if isinstance(base, str) and not rest.startswith("//") else value


@cache
def _standard_names() -> dict[str, str]:
    """Full IRI -> the term our standard contexts name it with."""
    terms = _standard_terms()
    names: dict[str, str] = {}
    for term, definition in terms.items():
        iri = definition if isinstance(definition, str) else definition.get("@id")
        if isinstance(iri, str) and not iri.startswith("@"):
            names.setdefault(_expand_iri(iri, terms), term)
    return names


def _inline_is_simple(definitions: dict[str, Any]) -> bool:
    """Simple: plain term definitions that neither redefine a standard term nor alias a standard IRI."""
    standard = _standard_terms()
    names = _standard_names()
    for term, definition in definitions.items():
        if term.startswith("@"):
            return False
        if isinstance(definition, dict):
            if not set(definition) <= _SIMPLE_KEYS:
                return False
            if not all(isinstance(v, str) for v in definition.values()):
                return False
        elif not isinstance(definition, str):
            return False
        if term in standard and standard[term] != definition:
            return False
        iri = definition if isinstance(definition, str) else definition.get("@id")
        if iri is not None and names.get(_expand_iri(iri, standard), term) != term:
            return False
    return True


def _classify(context: Any) -> str | None:
    """``None`` when the fast path applies, ``"slow"`` when pyld is needed, else an unknown context URL."""
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, str):
            if not is_known_context(entry):
                return entry
        elif not (isinstance(entry, dict) and _inline_is_simple(entry)):
            return "slow"
    return None


def _scan(doc: dict[str, Any]) -> str | None:
    verdict: str | None = None
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "@context" in node:
                found = _classify(node["@context"])
                if found is not None and found != "slow":
                    return found
                verdict = verdict or found
            stack.extend(v for k, v in node.items() if k != "@context")
        elif isinstance(node, list):
            stack.extend(node)
    return verdict


def normalize_document(doc: dict[str, Any]) -> NormalizeResult:
    verdict = _scan(doc)
    if verdict is None:
        return NormalizeResult(True, doc, None)
    if verdict != "slow":
        return NormalizeResult(False, None, f"unknown @context {verdict}")
    refused: list[str] = []

    def loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return document_loader(url, options)
        except UnknownContextError:
            refused.append(url)
            raise

    options = {"documentLoader": loader}
    try:
        expanded = jsonld.expand(doc, options)
        compacted: dict[str, Any] = jsonld.compact(expanded, {"@context": default_context()}, options)
    except jsonld.JsonLdError as exc:
        if refused:
            return NormalizeResult(False, None, f"unknown @context {refused[0]}")
        return NormalizeResult(False, None, f"invalid JSON-LD: {str(exc).splitlines()[0][:200]}")
    return NormalizeResult(True, compacted, None)
