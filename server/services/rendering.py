"""Markdown to safe HTML, with mentions and hashtags linked.

Local content is rendered with raw HTML disabled, then sanitised anyway with nh3 (the same
allow-list that remote HTML goes through), so what reaches a page is always from the list below.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt

MENTION_RE = re.compile(
    r"(?<![\w/@.])@([a-z0-9](?:[a-z0-9_.-]{0,28}[a-z0-9_])?)(?:@((?:[a-z0-9-]+\.)*[a-z0-9-]+(?::\d{1,5})?))?",
    re.IGNORECASE,
)
HASHTAG_RE = re.compile(r"(?<![\w&#/])#([^\W_][\w-]{0,99})")
_TAG_SPLIT = re.compile(r"(<[^>]*>)")
_SKIP_INSIDE = ("a", "code", "pre")

ALLOWED_TAGS = {
    "p",
    "br",
    "a",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "class", "title"}, "span": {"class"}, "code": {"class"}}
URL_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class Mention:
    username: str
    domain: str | None

    @property
    def handle(self) -> str:
        return f"@{self.username}@{self.domain}" if self.domain else f"@{self.username}"


@functools.cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def sanitize(value: str) -> str:
    """Any HTML (ours or a peer's) reduced to the allow-list: no script, no style, no event handler."""
    return nh3.clean(
        value,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def _prose(source: str) -> str:
    """The text of `source` outside code and links: where mentions and hashtags count."""
    pieces: list[str] = []

    def keep(text: str) -> str:
        pieces.append(html.unescape(text))
        return text

    _link_outside(_markdown().render(source), keep)
    return " ".join(pieces)


def extract_mentions(source: str) -> list[Mention]:
    found: dict[tuple[str, str | None], Mention] = {}
    for match in MENTION_RE.finditer(_prose(source)):
        mention = Mention(match.group(1).lower(), match.group(2).lower() if match.group(2) else None)
        found.setdefault((mention.username, mention.domain), mention)
    return list(found.values())


def extract_hashtags(source: str) -> list[str]:
    return list(dict.fromkeys(tag.lower() for tag in HASHTAG_RE.findall(_prose(source))))


def _link_text(text: str, mention_urls: Mapping[str, str]) -> str:
    def mention(match: re.Match[str]) -> str:
        handle = match.group(0).lower()
        url = mention_urls.get(handle)
        if url is None:
            return match.group(0)
        return f'<a href="{html.escape(url)}" class="mention">{match.group(0)}</a>'

    def hashtag(match: re.Match[str]) -> str:
        tag = match.group(1)
        return f'<a href="/tags/{html.escape(tag.lower())}" class="hashtag">#{tag}</a>'

    return HASHTAG_RE.sub(hashtag, MENTION_RE.sub(mention, text))


def _link_outside(rendered: str, link: Callable[[str], str]) -> str:
    parts = _TAG_SPLIT.split(rendered)
    depth = 0
    for index, part in enumerate(parts):
        if part.startswith("<"):
            name = part.strip("</>").split()[0].lower() if part.strip("</>") else ""
            if name in _SKIP_INSIDE:
                depth += -1 if part.startswith("</") else 1
        elif part and depth == 0:
            parts[index] = link(part)
    return "".join(parts)


def render_markdown(source: str, mention_urls: Mapping[str, str] | None = None) -> str:
    """HTML for `source`; `mention_urls` maps a lower-case handle ('@ada', '@ada@munich.example') to a URL."""
    rendered = _markdown().render(source)
    urls = mention_urls or {}
    return sanitize(_link_outside(rendered, lambda text: _link_text(text, urls)))
