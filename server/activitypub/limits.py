"""Bounded parsing of untrusted JSON bodies.

The size is checked before anything else, then the text is decoded as strict UTF-8, then the nesting depth
is measured by a scan that lets the regex engine step over string literals and only looks at brackets, so a
body of ten thousand ``[`` is refused without ever reaching the recursive ``json`` decoder. Only then is the
body decoded; ``NaN`` and ``Infinity`` are refused, and the top level must be an object.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


@dataclass(frozen=True, slots=True)
class ParseResult:
    ok: bool
    value: dict[str, Any] | None = None
    reason: str | None = None


def _too_deep(text: str, max_depth: int) -> bool:
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_body(body: bytes, *, max_bytes: int, max_depth: int) -> ParseResult:
    if len(body) > max_bytes:
        return ParseResult(False, None, f"body larger than {max_bytes} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return ParseResult(False, None, "body is not valid UTF-8")
    if _too_deep(text, max_depth):
        return ParseResult(False, None, f"JSON nested deeper than {max_depth}")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return ParseResult(False, None, "body is not valid JSON")
    if not isinstance(value, dict):
        return ParseResult(False, None, "top-level JSON value is not an object")
    return ParseResult(True, value, None)
