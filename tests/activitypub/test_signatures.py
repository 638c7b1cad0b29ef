from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from server.activitypub import cavage, rfc9421
from server.activitypub.digest import content_digest_header, digest_header
from server.activitypub.keys import PrivateKey, generate_ed25519_key, generate_rsa_key
from server.activitypub.signatures import (
    ParsedSignature,
    SignatureFailure,
    VerificationResult,
    parse_request_signature,
    verify_parsed,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
URL = "https://b.example/inbox?x=1"
BODY = b'{"type": "Create"}'
KEY_ID = "https://a.example/users/alice#main-key"
RSA_KEY = generate_rsa_key()
ED_KEY = generate_ed25519_key()

# scheme, algorithm label, key
VARIANTS = [
    ("cavage", "rsa-sha256", RSA_KEY),
    ("cavage", "hs2019", ED_KEY),
    ("rfc9421", "ed25519", ED_KEY),
    ("rfc9421", "rsa-v1_5-sha256", RSA_KEY),
    ("rfc9421", "rsa-pss-sha512", RSA_KEY),
]


def _base_headers(body: bytes | None, when: datetime = NOW) -> dict[str, str]:
    headers = {"Host": "b.example", "Date": format_datetime(when, usegmt=True)}
    if body is not None:
        headers["Content-Type"] = "application/activity+json"
        headers["Digest"] = digest_header(body)
        headers["Content-Digest"] = content_digest_header(body)
    return headers


def sign_request(
    scheme: str,
    alg: str,
    key: PrivateKey,
    *,
    method: str = "POST",
    body: bytes | None = BODY,
    when: datetime = NOW,
    covered: list[str] | None = None,
) -> dict[str, str]:
    headers = _base_headers(body, when)
    if scheme == "cavage":
        if covered is None:
            covered = list(cavage.POST_HEADERS if body is not None else cavage.GET_HEADERS)
        headers["Signature"] = cavage.sign(
            method=method, url=URL, headers=headers, key=key, key_id=KEY_ID, covered=covered
        )
        return headers
    if covered is None:
        covered = ["@method", "@target-uri", "date"] + (["content-digest"] if body is not None else [])
    headers.update(
        rfc9421.sign(
            method=method,
            url=URL,
            headers=headers,
            key=key,
            key_id=KEY_ID,
            components=covered,
            created=int(when.timestamp()),
            alg=alg,
            include_alg=alg == "rsa-pss-sha512",
        )
    )
    return headers


def _parse(method: str, headers: dict[str, str]) -> ParsedSignature:
    parsed = parse_request_signature(method, URL, headers)
    assert isinstance(parsed, ParsedSignature), parsed
    return parsed


def check(
    key: PrivateKey, headers: dict[str, str], *, method: str = "POST", body: bytes = BODY
) -> VerificationResult:
    assert isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
    return verify_parsed(_parse(method, headers), key.public_key(), body=body, now=NOW, max_skew=SKEW)


@pytest.mark.parametrize(("scheme", "alg", "key"), VARIANTS)
def test_signed_post_round_trips(scheme: str, alg: str, key: PrivateKey) -> None:
    result = check(key, sign_request(scheme, alg, key))
    assert result == VerificationResult(True, KEY_ID, None, scheme)


@pytest.mark.parametrize(("scheme", "alg", "key"), VARIANTS)
def test_signed_get_round_trips(scheme: str, alg: str, key: PrivateKey) -> None:
    headers = sign_request(scheme, alg, key, method="GET", body=None)
    assert check(key, headers, method="GET", body=b"").valid


@pytest.mark.parametrize(("scheme", "alg", "key"), VARIANTS)
def test_tampered_body_is_a_digest_mismatch(scheme: str, alg: str, key: PrivateKey) -> None:
    result = check(key, sign_request(scheme, alg, key), body=b'{"type": "Delete"}')
    assert not result.valid
    assert result.reason == "digest mismatch"


@pytest.mark.parametrize(("scheme", "alg", "key"), VARIANTS)
def test_tampered_covered_header_is_invalid(scheme: str, alg: str, key: PrivateKey) -> None:
    headers = sign_request(scheme, alg, key)
    headers["Date"] = format_datetime(NOW + timedelta(seconds=1), usegmt=True)
    result = check(key, headers)
    assert (result.valid, result.reason) == (False, "invalid signature")


@pytest.mark.parametrize(("scheme", "alg", "key"), VARIANTS)
def test_tampered_method_is_invalid(scheme: str, alg: str, key: PrivateKey) -> None:
    result = check(key, sign_request(scheme, alg, key), method="PUT")
    assert (result.valid, result.reason) == (False, "invalid signature")


@pytest.mark.parametrize(("scheme", "alg", "key"), VARIANTS)
def test_another_key_is_invalid(scheme: str, alg: str, key: PrivateKey) -> None:
    other = generate_ed25519_key() if isinstance(key, ed25519.Ed25519PrivateKey) else generate_rsa_key()
    result = check(other, sign_request(scheme, alg, key))
    assert not result.valid


@pytest.mark.parametrize(("scheme", "alg", "key"), VARIANTS)
def test_stale_date_is_rejected(scheme: str, alg: str, key: PrivateKey) -> None:
    result = check(key, sign_request(scheme, alg, key, when=NOW - timedelta(hours=1)))
    assert result.reason == "signature date is stale"


@pytest.mark.parametrize(("scheme", "alg", "key"), VARIANTS)
def test_future_date_is_rejected(scheme: str, alg: str, key: PrivateKey) -> None:
    result = check(key, sign_request(scheme, alg, key, when=NOW + timedelta(hours=1)))
    assert result.reason == "signature date is in the future"


@pytest.mark.parametrize(("scheme", "alg", "key"), VARIANTS)
def test_post_without_digest_is_rejected(scheme: str, alg: str, key: PrivateKey) -> None:
    headers = sign_request(scheme, alg, key, body=None)
    assert check(key, headers).reason == "missing digest"


def test_cavage_digest_not_covered_is_rejected() -> None:
    headers = sign_request("cavage", "rsa-sha256", RSA_KEY, covered=["(request-target)", "host", "date"])
    assert check(RSA_KEY, headers).reason == "digest not covered by signature"


def test_rfc9421_digest_not_covered_is_rejected() -> None:
    headers = sign_request("rfc9421", "ed25519", ED_KEY, covered=["@method", "@target-uri", "date"])
    assert check(ED_KEY, headers).reason == "digest not covered by signature"


def test_request_target_must_be_covered() -> None:
    headers = sign_request("cavage", "rsa-sha256", RSA_KEY, covered=["host", "date", "digest"])
    assert check(RSA_KEY, headers).reason == "request target not covered by signature"


def test_rfc9421_created_alone_is_a_timestamp() -> None:
    headers = sign_request("rfc9421", "ed25519", ED_KEY, covered=["@method", "@target-uri", "content-digest"])
    del headers["Date"]
    assert check(ED_KEY, headers).valid


def test_cavage_without_any_timestamp_is_rejected() -> None:
    headers = sign_request("cavage", "rsa-sha256", RSA_KEY, covered=["(request-target)", "host", "digest"])
    assert check(RSA_KEY, headers).reason == "no signed timestamp (date or created)"


def test_expired_rfc9421_signature_is_rejected() -> None:
    headers = _base_headers(BODY)
    headers.update(
        rfc9421.sign(
            method="POST",
            url=URL,
            headers=headers,
            key=ED_KEY,
            key_id=KEY_ID,
            components=["@method", "@target-uri", "content-digest"],
            created=int(NOW.timestamp()) - 120,
            expires=int(NOW.timestamp()) - 400,
        )
    )
    assert check(ED_KEY, headers).reason == "signature expired"


def test_parse_reports_scheme_key_and_coverage() -> None:
    parsed = _parse("POST", sign_request("rfc9421", "ed25519", ED_KEY))
    assert (parsed.scheme, parsed.key_id) == ("rfc9421", KEY_ID)
    assert parsed.covered == ("@method", "@target-uri", "date", "content-digest")
    assert parsed.created == NOW
    assert parsed.expires is None


def test_authorization_header_is_accepted() -> None:
    headers = sign_request("cavage", "rsa-sha256", RSA_KEY)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    parsed = _parse("POST", headers)
    assert parsed.scheme == "cavage"
    assert verify_parsed(parsed, RSA_KEY.public_key(), body=BODY, now=NOW, max_skew=SKEW).valid


def test_unsigned_request_is_a_parse_failure() -> None:
    assert parse_request_signature("POST", URL, {"Authorization": "Bearer x"}) == SignatureFailure(
        "missing signature"
    )


def test_header_names_are_case_insensitive() -> None:
    headers = {k.upper(): v for k, v in sign_request("cavage", "rsa-sha256", RSA_KEY).items()}
    assert check(RSA_KEY, headers).valid
