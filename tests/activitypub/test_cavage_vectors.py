from __future__ import annotations

import pytest

from server.activitypub import cavage
from server.activitypub.results import Failure
from tests.activitypub.vectors import load_json, private_key, public_key

VECTORS = load_json("cavage_vectors.json")
REQUEST = VECTORS["request"]
CASES = {case["name"]: case for case in VECTORS["cases"]}
KEY = "cavage_test_key.pem"
PUBLIC = "cavage_test_key_public.pem"


def _parse(header: str) -> cavage.CavageSignature:
    sig = cavage.parse_signature_header(header)
    assert not isinstance(sig, Failure), sig
    return sig


@pytest.mark.parametrize("name", sorted(CASES))
def test_signing_string_is_the_published_one(name: str) -> None:
    case = CASES[name]
    sig = _parse(case["header"])
    text = cavage.signing_string(sig.headers, REQUEST["method"], REQUEST["url"], REQUEST["headers"])
    assert text == case["signing_string"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_signature_verifies(name: str) -> None:
    sig = _parse(CASES[name]["header"])
    assert sig.key_id == "Test"
    check = cavage.verify(sig, REQUEST["method"], REQUEST["url"], REQUEST["headers"], public_key(PUBLIC))
    assert check.ok, check.reason


@pytest.mark.parametrize("name", sorted(CASES))
def test_signing_reproduces_the_published_header(name: str) -> None:
    case = CASES[name]
    header = cavage.sign(
        method=REQUEST["method"],
        url=REQUEST["url"],
        headers=REQUEST["headers"],
        key=private_key(KEY),
        key_id="Test",
        covered=case["covered"] or ["date"],
        include_headers=case["covered"] is not None,
    )
    assert header == case["header"]


def test_authorization_form_is_parsed_too() -> None:
    sig = _parse("Signature " + CASES["C.2"]["header"])
    assert sig.headers == ("(request-target)", "host", "date")


def test_published_signature_fails_for_another_path() -> None:
    sig = _parse(CASES["C.2"]["header"])
    check = cavage.verify(sig, "POST", "http://example.com/bar", REQUEST["headers"], public_key(PUBLIC))
    assert check.reason == "invalid signature"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ('algorithm="rsa-sha256",signature="AAAA"', "Signature header has no keyId"),
        ('keyId="k",algorithm="rsa-sha256"', "Signature header has no signature"),
        ('keyId="k",signature="not base64!"', "signature is not base64"),
        ('keyId="k" signature="AAAA"', "malformed Signature header"),
    ],
)
def test_malformed_headers_give_reasons(header: str, reason: str) -> None:
    assert cavage.parse_signature_header(header) == Failure(reason)


def test_unknown_algorithm_is_refused() -> None:
    sig = _parse('keyId="Test",algorithm="hmac-sha256",signature="AAAA"')
    check = cavage.verify(sig, "GET", "http://example.com/", REQUEST["headers"], public_key(PUBLIC))
    assert check.reason == "unsupported algorithm hmac-sha256"
