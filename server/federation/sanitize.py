"""Remote HTML is cleaned with nh3 before anything is stored: scripts, event handlers, styles and
``javascript:`` links never reach the database, whatever later code does with the text."""

from __future__ import annotations

from typing import Any

import nh3

HTML_FIELDS = ("content", "summary")
HTML_MAP_FIELDS = ("contentMap", "summaryMap")
_NESTED = ("object", "attachment", "tag", "preview")
_TAGS = {
    "p", "br", "a", "span", "strong", "b", "em", "i", "u", "s", "del", "ins", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "sup", "sub", "img", "hr",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title", "class"}, "span": {"class"}, "img": {"src", "alt", "title"}}
_MAX_NESTING = 8


def clean_html(html: str) -> str:
    return str(
        nh3.clean(
            html,
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
        )
    )


def sanitize_object(value: Any, depth: int = 0) -> Any:
    """A copy of an ActivityStreams object (or list of them) with every HTML field cleaned."""
    if depth > _MAX_NESTING:
        return value
    if isinstance(value, list):
        return [sanitize_object(item, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    cleaned = dict(value)
    for name in HTML_FIELDS:
        if isinstance(cleaned.get(name), str):
            cleaned[name] = clean_html(cleaned[name])
    for name in HTML_MAP_FIELDS:
        mapping = cleaned.get(name)
        if isinstance(mapping, dict):
            cleaned[name] = {k: clean_html(v) if isinstance(v, str) else v for k, v in mapping.items()}
    for name in _NESTED:
        if name in cleaned:
            cleaned[name] = sanitize_object(cleaned[name], depth + 1)
    return cleaned
