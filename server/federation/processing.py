"""Processing of accepted inbox activities, after the 202: one dispatch table, idempotent by activity id.

The endpoint has already verified the signature, that the key's owner is the activity's ``actor``, that
ids share the actor's origin and that the peer is allowed; it stored the activity with its HTML cleaned.
Here each row is read, dispatched on its ``type`` and marked processed with a short outcome, in the same
transaction as any write the handler asks for (``Outcome.apply``), and only if no other worker marked it
first: a redelivery or a second process never applies an activity twice.

Types without a handler are recorded as ``ignored``. An exception is a bug or an unreachable peer: the row
stays unprocessed and is tried again at the next start-up, up to ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from server.activitypub.vocabulary import id_of, same_origin
from server.federation import backfill, handlers, invitations, reach, references, vouching
from server.federation import moderation as moderation_handlers
from server.federation.outcome import Outcome
from server.federation.remote import ACTOR_TYPES
from server.federation.sanitize import sanitize_object
from server.storage import federation as store

if TYPE_CHECKING:
    from server.federation.state import Federation

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_ANNOUNCE_DEPTH = 1


IGNORED = Outcome("ignored")
# (federation state, activity, depth of Announce nesting, the Group that announced it if any)
Handler = Callable[["Federation", dict[str, Any], int, str | None], Awaitable[Outcome]]


def type_of(activity: dict[str, Any]) -> str | None:
    kind = activity.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str)), None)
    return kind if isinstance(kind, str) else None


async def handle_update(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    """``Update`` of the sending actor refreshes our copy (from the embedded document, else by a fetch)."""
    actor, obj = id_of(activity.get("actor")), activity.get("object")
    if actor is None or id_of(obj) != actor:
        return await reach.note_update(fed, activity, via)
    if isinstance(obj, dict) and obj.get("type") in ACTOR_TYPES:
        stored = await fed.actors.store_actor(obj, actor)
    else:
        stored = await fed.actors.refresh_actor(actor)
    return Outcome(f"refused: {stored}" if isinstance(stored, str) else "updated actor")


async def handle_delete(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    """``Delete`` of the sending actor marks it deleted and drops its keys; of a post, leaves a tombstone."""
    actor = id_of(activity.get("actor"))
    if actor is None or id_of(activity.get("object")) != actor:
        return await handlers.note_delete(fed, activity, via)
    async with fed.ctx.transaction() as session:
        deleted = await store.mark_actor_deleted(session, actor, fed.ctx.clock.now())
    fed.actors.forget(actor)
    return Outcome("deleted actor" if deleted else "ignored: actor unknown or already deleted")


async def handle_announce(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    """FEP-1b12: a group announces an activity. One from another origin is trusted only as fetched there,
    or, in a closed or secret community, on the Group's word (`vouching`)."""
    actor, inner = id_of(activity.get("actor")), activity.get("object")
    inner_id = id_of(inner)
    if actor is None or inner_id is None:
        return Outcome("refused: Announce without an object id")
    if depth >= MAX_ANNOUNCE_DEPTH:
        return Outcome("ignored: nested Announce")
    if isinstance(inner, dict) and (
        same_origin(inner_id, actor) or await vouching.vouches_for(fed, actor, inner)
    ):
        trusted = inner
    else:
        fetched = await fed.fetcher.get_document(inner_id)
        if not fetched.ok or fetched.document is None:
            return Outcome(f"refused: announced {inner_id} not fetched from its origin: {fetched.reason}")
        if fetched.document.get("id") != inner_id:
            return Outcome(f"refused: {inner_id} answered with another id")
        trusted = sanitize_object(fetched.document)
    if type_of(trusted) in references.POST_TYPES:  # a post announced on its own, or by reference
        as_activity = await references.as_activity(fed, trusted)
        if as_activity is None:
            return Outcome(f"refused: announced {inner_id} is not attributed to an actor of its origin")
        trusted = as_activity
    inner_actor = id_of(trusted.get("actor"))
    if inner_actor is not None and not same_origin(inner_actor, inner_id):
        return Outcome(f"refused: announced {inner_id} has an actor of another origin")
    result = await dispatch(fed, trusted, depth + 1, via=actor)
    return Outcome(f"announce of {type_of(trusted)}: {result.label}", result.apply)


# The activity types handled; any other is recorded as "ignored".
HANDLERS: dict[str, Handler] = {
    "Update": handle_update,
    "Delete": handle_delete,
    "Announce": handle_announce,
    "Follow": reach.follows_of_people(handlers.handle_follow),
    "Accept": reach.answers_to_people(backfill.requesting_backfill(handlers.handle_accept), accepted=True),
    "Reject": reach.answers_to_people(handlers.handle_reject, accepted=False),
    # Undo(Block) in moderation, any other Undo to handlers
    "Undo": reach.undos_of_people(moderation_handlers.handle_undo),
    # a post named by id is fetched first, so that a profile post or the files of a post delivered by
    # reference are handled as when delivered whole (a vote, content-less by nature, is no reference)
    "Create": references.dereferencing(reach.creates_with_reach(handlers.handle_create)),
    "Like": handlers.handle_like,
    "EmojiReact": handlers.handle_like,
    "Flag": moderation_handlers.handle_flag,
    "Add": moderation_handlers.handle_add,
    "Remove": moderation_handlers.handle_remove,
    "Block": moderation_handlers.handle_block,
    "Invite": invitations.handle_invite,
}


async def dispatch(
    fed: Federation, activity: dict[str, Any], depth: int = 0, *, via: str | None = None
) -> Outcome:
    handler = HANDLERS.get(type_of(activity) or "")
    if handler is None:
        return IGNORED
    return await handler(fed, activity, depth, via)


async def process_row(fed: Federation, row_id: int) -> None:
    ctx = fed.ctx
    fresh = fed.fresh.pop(row_id, None)
    if fresh is not None:
        raw, peer = fresh
    else:
        async with ctx.sessions() as session:
            row = await store.get_inbox_activity(session, row_id)
            if row is None or row.processed_at is not None:
                return
            raw, peer = row.raw, row.peer_domain
    try:
        outcome = await dispatch(fed, raw)
    except Exception as exc:
        logger.exception("inbox activity %s from %s failed", row_id, peer)
        async with ctx.transaction() as session:
            attempts = await store.record_inbox_failure(session, row_id, f"error: {type(exc).__name__}")
            if attempts >= MAX_ATTEMPTS:
                await store.finish_inbox_activity(session, row_id, ctx.clock.now(), "failed")
        return
    async with ctx.transaction() as session:
        finished = await store.finish_inbox_activity(session, row_id, ctx.clock.now(), outcome.label)
        if finished and outcome.apply is not None:
            await outcome.apply(session)
    logger.debug("inbox activity %s from %s: %s", row_id, peer, outcome.label)
