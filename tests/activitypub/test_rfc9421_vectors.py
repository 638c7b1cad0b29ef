from __future__ import annotations

from typing import Any

import pytest

from server.activitypub import rfc9421
from server.activitypub.results import Failure
from tests.activitypub.vectors import load_json, private_key, public_key

VECTORS = load_json("rfc9421_vectors.json")
REQUEST = VECTORS["request"]
CASES = {case["name"]: case for case in VECTORS["cases"]}


def _headers(case: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        **REQUEST["headers"],
        "Signature-Input": case["signature_input"],
        "Signature": case["signature"],
        **extra,
    }


def _parse(case: dict[str, Any], headers: dict[str, str]) -> rfc9421.Rfc9421Signature:
    sig = rfc9421.parse_signature(headers, label=case["label"])
    assert not isinstance(sig, Failure), sig
    return sig


@pytest.mark.parametrize("name", sorted(CASES))
def test_signature_base_is_the_published_one(name: str) -> None:
    case = CASES[name]
    sig = _parse(case, _headers(case))
    base = rfc9421.signature_base(
        sig.components, sig.signature_params, REQUEST["method"], REQUEST["url"], REQUEST["headers"]
    )
    assert base == case["base"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_signature_verifies_with_published_key(name: str) -> None:
    case = CASES[name]
    sig = _parse(case, _headers(case))
    key = public_key(case["key"])
    assert rfc9421.verify(sig, REQUEST["method"], REQUEST["url"], REQUEST["headers"], key).ok


@pytest.mark.parametrize("name", ["B.2.3", "B.2.6"])
def test_published_signature_fails_when_a_covered_header_changes(name: str) -> None:
    case = CASES[name]
    headers = {**REQUEST["headers"], "Date": "Tue, 20 Apr 2021 02:07:56 GMT"}
    sig = _parse(case, _headers(case))
    result = rfc9421.verify(sig, REQUEST["method"], REQUEST["url"], headers, public_key(case["key"]))
    assert not result.ok
    assert result.reason == "invalid signature"


def test_b26_signing_reproduces_the_published_ed25519_signature() -> None:
    case = CASES["B.2.6"]
    out = rfc9421.sign(
        method=REQUEST["method"],
        url=REQUEST["url"],
        headers=REQUEST["headers"],
        key=private_key(case["private_key"]),
        key_id="test-key-ed25519",
        components=case["components"],
        created=1618884473,
        label="sig-b26",
    )
    assert out == {"Signature-Input": case["signature_input"], "Signature": case["signature"]}


def test_pss_vector_refused_when_alg_names_another_algorithm() -> None:
    case = CASES["B.2.1"]
    sig = _parse(case, _headers(case))
    wrong = rfc9421.Rfc9421Signature(
        sig.label, sig.components, {**sig.params, "alg": "ed25519"}, sig.signature
    )
    result = rfc9421.verify(
        wrong, REQUEST["method"], REQUEST["url"], REQUEST["headers"], public_key(case["key"])
    )
    assert result.reason == "key type does not match algorithm ed25519"


def test_parse_refuses_a_component_listed_twice() -> None:
    headers = {"Signature-Input": 'sig=("@method" "@method");keyid="k"', "Signature": "sig=:AAAA:"}
    assert rfc9421.parse_signature(headers) == Failure('component "@method" listed twice')


def test_parse_refuses_malformed_structured_fields() -> None:
    headers = {"Signature-Input": 'sig=("@method";keyid="k"', "Signature": "sig=:AAAA:"}
    result = rfc9421.parse_signature(headers)
    assert isinstance(result, Failure)
    assert result.reason.startswith("malformed signature header")


def test_missing_covered_header_is_a_failed_check_not_an_exception() -> None:
    case = CASES["B.2.3"]
    headers = {k: v for k, v in REQUEST["headers"].items() if k != "Content-Type"}
    sig = _parse(case, _headers(case))
    result = rfc9421.verify(sig, REQUEST["method"], REQUEST["url"], headers, public_key(case["key"]))
    assert result.reason == "covered header content-type missing"
