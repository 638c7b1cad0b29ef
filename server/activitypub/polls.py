"""Polls as Mastodon federates them: a `Question` with `oneOf` options, votes as `Note`s.

A vote is a `Create` of a `Note` whose `name` is the option's text and whose `inReplyTo` is the
`Question`, addressed to the poll's author only. The host counts it and sends an `Update` of the
`Question` in which each option carries `replies.totalItems` (its count) and `votersCount` the number
of people who voted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from server.activitypub.vocabulary import AS_CONTEXT

MAX_COUNT = 10_000_000


def with_tallies(question: dict[str, Any], counts: Mapping[int, int]) -> dict[str, Any]:
    """The `Question` with each option's count (`replies.totalItems`) and `votersCount`."""
    options = question.get("oneOf")
    if not isinstance(options, list):
        return question
    question["oneOf"] = [
        {**option, "replies": {"type": "Collection", "totalItems": int(counts.get(index, 0))}}
        for index, option in enumerate(options)
    ]
    question["votersCount"] = sum(int(v) for v in counts.values())
    return question


def tallies_of(question: Mapping[str, Any], option_count: int) -> list[int] | None:
    """The counts a `Question` reports for its first `option_count` options, or None if it gives none."""
    options = question.get("oneOf")
    if not isinstance(options, list) or not options:
        return None
    counts: list[int] = []
    for option in options[:option_count]:
        replies = option.get("replies") if isinstance(option, dict) else None
        total = replies.get("totalItems") if isinstance(replies, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or not 0 <= total <= MAX_COUNT:
            return None
        counts.append(total)
    return counts if len(counts) == option_count else None


def vote_note(
    *, vote_id: str, voter: str, question: str, question_author: str, option: str
) -> dict[str, Any]:
    """The `Note` that carries one vote."""
    return {
        "id": vote_id,
        "type": "Note",
        "attributedTo": voter,
        "name": option,
        "inReplyTo": question,
        "to": [question_author],
        "cc": [],
    }


def vote_create(note: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": f"{note['id']}-create",
        "type": "Create",
        "actor": note["attributedTo"],
        "object": note,
        "to": note["to"],
        "cc": [],
    }


def is_vote(note: Mapping[str, Any]) -> bool:
    """A `Note` with a `name`, an `inReplyTo` and no content: Mastodon's shape of a vote."""
    content = note.get("content")
    return (
        note.get("type") == "Note"
        and isinstance(note.get("name"), str)
        and isinstance(note.get("inReplyTo"), str)
        and (content is None or (isinstance(content, str) and not content.strip()))
    )


def option_index(options: Sequence[str], name: str) -> int | None:
    try:
        return list(options).index(name)
    except ValueError:
        return None
