"""Reference-only deliveries, receiving side: an activity that names its post by id only.

A sending charter may let a post leave for some countries only as a reference (`reference_only`): the
`Create` carries the post's id instead of the post, or the Group's `Announce` carries the id alone. The
content stays home and is fetched on demand: we GET the id, signed as this instance, so the origin checks
at that moment that we may read it. What comes back must be the post named (same id), of a post type, and
attributed to an actor of the id's origin (the activity's actor, for a `Create`); its HTML is cleaned.
Then it goes through the same handlers as a post delivered whole: addressing against the community's
visibility, the author's membership or the Group's announce, and the receiving charter's ingress rules.

If the origin refuses (403, 404, 410) or cannot be reached, nothing is stored, and the inbox row records
why (`refused: ... not fetched from its origin: HTTP 404`). An object without `content` is taken as a
reference too, except a vote (Mastodon's votes are content-less `Note`s with a `name` and an `inReplyTo`).
The post is completed before any other `Create` handler sees it, so a profile post and the files of a post
sent by reference are handled as when sent whole. The fetch goes through `Fetcher`, so a reference to a
host outside the allowlist, or to a private address in open mode, is never followed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from server.activitypub.polls import is_vote
from server.activitypub.vocabulary import id_of, same_origin
from server.federation import handlers
from server.federation.outcome import Outcome
from server.federation.sanitize import sanitize_object
from server.storage import posts as post_store

if TYPE_CHECKING:
    from server.federation.state import Federation

POST_TYPES = frozenset({"Note", "Question", "Article", "Page"})
Handler = Callable[["Federation", dict[str, Any], int, str | None], Awaitable[Outcome]]


def is_reference(obj: Any) -> bool:
    """A bare id, or a post object without its content; never a vote (a `Note` that has no content by
    nature, `server.activitypub.polls.is_vote`)."""
    if isinstance(obj, str):
        return True
    return (
        isinstance(obj, dict)
        and obj.get("type") in (None, *POST_TYPES)
        and "content" not in obj
        and not is_vote(obj)
    )


def _kind(document: dict[str, Any]) -> str | None:
    kind = document.get("type")
    return kind if isinstance(kind, str) else None


async def fetch_post(fed: Federation, uri: str) -> dict[str, Any] | str:
    """The post at `uri` fetched from its origin and cleaned, or why it cannot be had."""
    fetched = await fed.fetcher.get_document(uri)
    if not fetched.ok or fetched.document is None:
        return f"{uri} not fetched from its origin: {fetched.reason}"
    document = fetched.document
    if document.get("id") != uri:
        return f"{uri} answered with another id"
    if _kind(document) not in POST_TYPES:
        return f"{uri} is not a post"
    author = id_of(document.get("attributedTo"))
    if author is None or not same_origin(author, uri):
        return f"{uri} is not attributed to an actor of its origin"
    cleaned: dict[str, Any] = sanitize_object(document)
    return cleaned


def _wrapped(kind: str, document: dict[str, Any], author: str) -> dict[str, Any]:
    return {
        "id": f"{document['id']}#{kind.lower()}",
        "type": kind,
        "actor": author,
        "object": document,
        "to": document.get("to", []),
        "cc": document.get("cc", []),
        "audience": document.get("audience"),
    }


def create_of(document: dict[str, Any]) -> dict[str, Any] | None:
    """A post on its own as its author's `Create`; None if not attributed to an actor of its origin."""
    post_id, author = id_of(document), id_of(document.get("attributedTo"))
    if post_id is None or author is None or not same_origin(author, post_id):
        return None
    return _wrapped("Create", document, author)


async def as_activity(fed: Federation, document: dict[str, Any]) -> dict[str, Any] | None:
    """A post fetched or announced on its own, as its author's `Create` (an `Update` for an edited post we
    already have); None if it is not attributed to an actor of its own origin."""
    create = create_of(document)
    if create is None or is_reference(document) or "updated" not in document:
        return create
    async with fed.ctx.sessions() as session:
        known = await post_store.get_post_by_uri(session, create["object"]["id"]) is not None
    return _wrapped("Update", document, create["actor"]) if known else create


async def resolve(fed: Federation, activity: dict[str, Any]) -> dict[str, Any] | Outcome:
    """`activity` with its post complete: as it came, or completed from the post's origin; or a refusal."""
    obj = activity.get("object")
    if not is_reference(obj):
        return activity
    uri, actor = id_of(obj), id_of(activity.get("actor"))
    if uri is None or actor is None or not same_origin(uri, actor):
        return Outcome("refused: a referenced post must be of its actor's origin")
    note = await fetch_post(fed, uri)
    if isinstance(note, str):
        return Outcome(f"refused: {note}")
    if id_of(note.get("attributedTo")) != actor:
        return Outcome("refused: the referenced post is not attributed to the activity's actor")
    return {**activity, "object": note}


def dereferencing(next_handler: Handler) -> Handler:
    """A `Create` handler that first completes a post named by id only, then hands it to `next_handler`."""

    async def handle(
        fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
    ) -> Outcome:
        resolved = await resolve(fed, activity)
        if isinstance(resolved, Outcome):
            return resolved
        return await next_handler(fed, resolved, depth, via)

    return handle


async def handle_create(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None, *, quiet: bool = False
) -> Outcome:
    """`handlers.handle_create` for a post delivered whole or by reference."""
    resolved = await resolve(fed, activity)
    if isinstance(resolved, Outcome):
        return resolved
    return await handlers.handle_create(fed, resolved, depth, via, quiet=quiet)
