"""The part of RFC 8941 Structured Field Values that HTTP Message Signatures need.

Parses Dictionaries whose members are Items or Inner Lists (bare items: integer, decimal, string, token,
byte sequence, boolean; with parameters) and serialises Inner Lists and parameters back, which is how
``@signature-params`` is rebuilt. Malformed input raises :class:`StructuredFieldError`; callers turn it
into a result.
"""

from __future__ import annotations

import base64
import binascii
import string
from dataclasses import dataclass, field

BareItem = int | float | str | bytes | bool


class Token(str):
    """An sf-token, kept apart from an sf-string so it serialises unquoted."""

    __slots__ = ()


class StructuredFieldError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Item:
    value: BareItem
    params: dict[str, BareItem] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InnerList:
    items: tuple[Item, ...]
    params: dict[str, BareItem] = field(default_factory=dict)


_KEY_START = set(string.ascii_lowercase + "*")
_KEY_CHARS = set(string.ascii_lowercase + string.digits + "_-.*")
_TOKEN_START = set(string.ascii_letters + "*")
_TOKEN_CHARS = set(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/")


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.i += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.i += 1

    def key(self) -> str:
        if self.peek() not in _KEY_START or not self.peek():
            raise StructuredFieldError(f"bad key at {self.i}")
        start = self.i
        while self.peek() and self.peek() in _KEY_CHARS:
            self.i += 1
        return self.s[start : self.i]

    def bare_item(self) -> BareItem:
        c = self.peek()
        if c == '"':
            return self.string()
        if c == ":":
            return self.bytes_()
        if c == "?":
            self.i += 1
            v = self.peek()
            if v not in ("0", "1") or not v:
                raise StructuredFieldError("bad boolean")
            self.i += 1
            return v == "1"
        if c == "-" or (c.isdigit() and c):
            return self.number()
        if c and c in _TOKEN_START:
            start = self.i
            while self.peek() and self.peek() in _TOKEN_CHARS:
                self.i += 1
            return Token(self.s[start : self.i])
        raise StructuredFieldError(f"bad item at {self.i}")

    def string(self) -> str:
        self.i += 1
        out = []
        while True:
            c = self.peek()
            if not c:
                raise StructuredFieldError("unterminated string")
            self.i += 1
            if c == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\") or not nxt:
                    raise StructuredFieldError("bad escape")
                out.append(nxt)
                self.i += 1
            elif c == '"':
                return "".join(out)
            elif not " " <= c <= "~":
                raise StructuredFieldError("non-printable character in string")
            else:
                out.append(c)

    def bytes_(self) -> bytes:
        end = self.s.find(":", self.i + 1)
        if end < 0:
            raise StructuredFieldError("unterminated byte sequence")
        encoded = self.s[self.i + 1 : end]
        self.i = end + 1
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StructuredFieldError("bad base64 in byte sequence") from exc

    def number(self) -> int | float:
        start = self.i
        if self.peek() == "-":
            self.i += 1
        while self.peek() and (self.peek().isdigit() or self.peek() == "."):
            self.i += 1
        text = self.s[start : self.i]
        try:
            return float(text) if "." in text else int(text)
        except ValueError as exc:
            raise StructuredFieldError(f"bad number {text!r}") from exc

    def params(self) -> dict[str, BareItem]:
        out: dict[str, BareItem] = {}
        while self.peek() == ";":
            self.i += 1
            self.skip_sp()
            name = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            out[name] = value
        return out

    def item_or_inner_list(self) -> Item | InnerList:
        if self.peek() != "(":
            value = self.bare_item()
            return Item(value, self.params())
        self.i += 1
        items: list[Item] = []
        while True:
            self.skip_sp()
            if self.peek() == ")":
                self.i += 1
                return InnerList(tuple(items), self.params())
            if not self.peek():
                raise StructuredFieldError("unterminated inner list")
            value = self.bare_item()
            items.append(Item(value, self.params()))
            if self.peek() not in (" ", ")"):
                raise StructuredFieldError("bad inner list")


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    p = _Parser(text.strip(" "))
    out: dict[str, Item | InnerList] = {}
    while p.peek():
        name = p.key()
        if p.peek() == "=":
            p.i += 1
            out[name] = p.item_or_inner_list()
        else:
            out[name] = Item(True, p.params())
        p.skip_ows()
        if not p.peek():
            break
        if p.peek() != ",":
            raise StructuredFieldError(f"expected ',' at {p.i}")
        p.i += 1
        p.skip_ows()
        if not p.peek():
            raise StructuredFieldError("trailing comma")
    return out


def serialize_bare_item(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, Token):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"


def serialize_params(params: dict[str, BareItem]) -> str:
    return "".join(f";{k}" if v is True else f";{k}={serialize_bare_item(v)}" for k, v in params.items())


def serialize_item(item: Item) -> str:
    return serialize_bare_item(item.value) + serialize_params(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    return "(" + " ".join(serialize_item(i) for i in inner.items) + ")" + serialize_params(inner.params)
