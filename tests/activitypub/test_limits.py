from __future__ import annotations

import pytest

from server.activitypub.limits import ParseResult, parse_json_body


def parse(body: bytes, max_bytes: int = 1000, max_depth: int = 5) -> ParseResult:
    return parse_json_body(body, max_bytes=max_bytes, max_depth=max_depth)


def test_object_is_returned() -> None:
    assert parse(b'{"type": "Note", "tag": [{"a": [1]}]}') == ParseResult(
        True, {"type": "Note", "tag": [{"a": [1]}]}, None
    )


def test_depth_at_the_limit_passes_and_one_more_fails() -> None:
    assert parse(b'{"a": {"b": {"c": {"d": {}}}}}').ok
    assert parse(b'{"a": {"b": {"c": {"d": {"e": {}}}}}}').reason == "JSON nested deeper than 5"


def test_very_deep_nesting_is_refused_without_recursion() -> None:
    body = b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    assert parse(body, max_bytes=1_000_000).reason == "JSON nested deeper than 5"


def test_brackets_inside_strings_do_not_count() -> None:
    assert parse(b'{"content": "[[[[[[[[{{{{{{ \\" [[[[[["}').ok


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"x" * 1001, "body larger than 1000 bytes"),
        (b'{"a": "\xff"}', "body is not valid UTF-8"),
        (b'{"a": ', "body is not valid JSON"),
        (b'{"a": NaN}', "body is not valid JSON"),
        (b"[1, 2]", "top-level JSON value is not an object"),
        (b'"just a string"', "top-level JSON value is not an object"),
    ],
)
def test_bad_bodies_are_refused_with_reason(body: bytes, reason: str) -> None:
    assert parse(body) == ParseResult(False, None, reason)
