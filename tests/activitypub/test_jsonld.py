from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from server.activitypub.jsonld import (
    UnknownContextError,
    context_document,
    document_loader,
    normalize_document,
)
from server.activitypub.keys import ed25519_public_to_multibase, generate_ed25519_key
from server.activitypub.vocabulary import (
    AS_CONTEXT,
    DATA_INTEGRITY_V1_CONTEXT,
    MULTIKEY_V1_CONTEXT,
    SECURITY_V1_CONTEXT,
    person_actor,
)

NOTE: dict[str, Any] = {
    "@context": [AS_CONTEXT, {"sensitive": "as:sensitive", "toot": "http://joinmastodon.org/ns#"}],
    "id": "https://a.example/notes/1",
    "type": "Note",
    "content": "hello",
}


def test_known_contexts_take_the_fast_path_unchanged() -> None:
    result = normalize_document(NOTE)
    assert result.ok
    assert result.document is NOTE


def test_document_without_context_is_returned_unchanged() -> None:
    doc = {"type": "Note"}
    assert normalize_document(doc).document is doc


def test_our_own_actor_takes_the_fast_path() -> None:
    actor = person_actor(
        id="https://a.example/users/alice",
        username="alice",
        inbox="https://a.example/users/alice/inbox",
        outbox="https://a.example/users/alice/outbox",
        followers="https://a.example/users/alice/followers",
        following="https://a.example/users/alice/following",
        shared_inbox="https://a.example/inbox",
        public_key_pem="PEM",
        ed25519_multibase=ed25519_public_to_multibase(generate_ed25519_key().public_key()),
    )
    assert normalize_document(actor).document is actor


def test_unknown_remote_context_is_refused() -> None:
    doc = {"@context": [AS_CONTEXT, "https://evil.example/ctx"], "type": "Note"}
    result = normalize_document(doc)
    assert (result.ok, result.reason) == (False, "unknown @context https://evil.example/ctx")


def test_unknown_context_nested_in_the_object_is_refused() -> None:
    doc = {"@context": AS_CONTEXT, "type": "Create", "object": {"@context": "https://evil.example/x"}}
    assert normalize_document(doc).reason == "unknown @context https://evil.example/x"


def test_unknown_context_imported_by_an_inline_context_is_refused_by_the_loader() -> None:
    doc = {"@context": [AS_CONTEXT, {"@import": "https://evil.example/i"}], "type": "Note"}
    assert normalize_document(doc).reason == "unknown @context https://evil.example/i"


def test_renamed_terms_are_compacted_to_our_context() -> None:
    doc = {
        "@context": [AS_CONTEXT, {"doer": {"@id": "as:actor", "@type": "@id"}}],
        "id": "https://a.example/activities/1",
        "type": "Create",
        "doer": "https://a.example/users/alice",
    }
    result = normalize_document(doc)
    assert result.ok and result.document is not None
    assert result.document["actor"] == "https://a.example/users/alice"
    assert "doer" not in result.document


def test_redefining_a_standard_term_leaves_the_fast_path() -> None:
    doc = {
        "@context": [AS_CONTEXT, {"actor": "https://evil.example/actor"}],
        "type": "Create",
        "actor": "https://a.example/users/alice",
    }
    result = normalize_document(doc)
    assert result.ok and result.document is not None
    assert "actor" not in result.document


def test_actor_with_multikey_survives_expansion_and_compaction() -> None:
    doc = {
        "@context": [
            AS_CONTEXT,
            SECURITY_V1_CONTEXT,
            MULTIKEY_V1_CONTEXT,
            DATA_INTEGRITY_V1_CONTEXT,
            {"@vocab": "https://a.example/ns#"},
        ],
        "id": "https://a.example/users/alice",
        "type": "Person",
        "publicKey": {
            "id": "https://a.example/users/alice#main-key",
            "owner": "https://a.example/users/alice",
            "publicKeyPem": "PEM",
        },
    }
    result = normalize_document(doc)
    assert result.ok, result.reason
    assert result.document is not None
    assert result.document["publicKey"]["publicKeyPem"] == "PEM"


def test_loader_serves_known_contexts_and_refuses_others() -> None:
    assert "Public" in document_loader(AS_CONTEXT)["document"]["@context"]
    assert "publicKeyPem" in context_document(SECURITY_V1_CONTEXT)["@context"]
    assert "Multikey" in context_document(MULTIKEY_V1_CONTEXT)["@context"]
    assert "DataIntegrityProof" in context_document(DATA_INTEGRITY_V1_CONTEXT)["@context"]
    with pytest.raises(UnknownContextError, match="never fetched"):
        document_loader("https://example.com/context.jsonld")


def test_importing_the_package_reads_no_context_file() -> None:
    code = (
        "import server.activitypub.auth, server.activitypub.discovery, server.activitypub.limits\n"
        "import server.activitypub.jsonld as m\n"
        "print(m._load.cache_info().currsize, m._standard_terms.cache_info().currsize)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]
