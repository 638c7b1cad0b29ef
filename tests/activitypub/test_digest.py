from __future__ import annotations

import pytest

from server.activitypub.digest import DigestResult, check_body_digest, content_digest_header, digest_header

BODY = b'{"hello": "world"}'
SHA256 = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="  # draft-cavage Appendix C / RFC 9530
SHA512 = (
    "WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew=="  # RFC 9421 B.2
)


def test_builders_match_published_values() -> None:
    assert digest_header(BODY) == f"SHA-256={SHA256}"
    assert content_digest_header(BODY) == f"sha-256=:{SHA256}:"
    assert content_digest_header(BODY, "sha-512") == f"sha-512=:{SHA512}:"


@pytest.mark.parametrize(
    ("headers", "header_name"),
    [
        ({"Digest": f"SHA-256={SHA256}"}, "digest"),
        ({"digest": f"sha-256={SHA256}"}, "digest"),
        ({"Digest": f"MD5=AAAA, SHA-256={SHA256}"}, "digest"),
        ({"Content-Digest": f"sha-256=:{SHA256}:"}, "content-digest"),
        ({"Content-Digest": f"sha-512=:{SHA512}:, sha-256=:{SHA256}:"}, "content-digest"),
        ({"Content-Digest": f"sha-256=:{SHA256}:", "Digest": f"SHA-256={SHA256}"}, "digest"),
    ],
)
def test_matching_digests_pass(headers: dict[str, str], header_name: str) -> None:
    assert check_body_digest(headers, BODY) == DigestResult(True, None, header_name)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing digest"),
        ({"Digest": f"SHA-256={SHA256}"[:-4] + "AAA="}, "digest mismatch"),
        ({"Content-Digest": f"sha-512=:{SHA512}:, sha-256=:{SHA512}:"}, "digest mismatch"),
        ({"Content-Digest": f"sha-256=:{SHA256}:", "Digest": "SHA-256=AAAA"}, "digest mismatch"),
        ({"Digest": "MD5=AAAA"}, "unsupported digest algorithm"),
        ({"Digest": "SHA-256"}, "malformed digest"),
        ({"Content-Digest": f"sha-256={SHA256}"}, "malformed digest"),
        ({"Content-Digest": "sha-256=:not base64!:"}, "malformed digest"),
    ],
)
def test_bad_digests_fail_with_reason(headers: dict[str, str], reason: str) -> None:
    result = check_body_digest(headers, BODY)
    assert (result.ok, result.reason) == (False, reason)
