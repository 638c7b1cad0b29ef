"""Backfill (FEP-7888, FEP-f228): a newly joined community's recent threads, fetched by the joining instance.

When the hosting Group accepts the first person of this instance into a community hosted elsewhere, the
processing of that `Accept` also writes a pending `Backfill` row (in the same transaction). The background
work (`server.workers`) claims pending rows with a lease and runs them, so a crash only delays a backfill,
and several worker processes never run the same one.

A run reads the Group's `outbox` (signed, as this instance) for the `backfill_threads` newest threads,
oldest stored first, then each thread's `context` collection (up to `backfill_thread_items` posts), and
hands every post to the same handler as a pushed `Create` announced by the Group, in quiet mode: the
addressing must fit the community's visibility, the receiving charter's ingress rules apply (and are
audited), HTML is cleaned, and nothing is notified or announced again. Posts already known are skipped,
so a run is idempotent and may be repeated.

Trust. The Group vouches that a thread belongs to the community, as its `Announce` would: outbox items
must be `Announce`s by the Group with ids of its origin. Content is trusted as embedded only when its id
has the origin of the document it came in (the outbox, or the context collection); anything else is
fetched from its id, signed, and must answer with that id. A post's author must share its origin. The
handler then refuses posts addressed to another community, and replies to posts we do not have.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub.vocabulary import id_of, same_origin
from server.federation import references
from server.federation.outcome import Outcome
from server.federation.sanitize import sanitize_object
from server.storage import backfill as store
from server.storage import federation_graph as graph
from server.storage import posts as post_store
from server.storage.social import Actor, Community

if TYPE_CHECKING:
    from server.federation.state import Federation

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 3
MAX_PAGES = 20


# --- asking for a backfill -------------------------------------------------------------------------------


async def request_if_first(session: AsyncSession, follow_id: str, now: datetime) -> bool:
    """After an accepted `Follow`: a backfill when this is the instance's only member of the community."""
    membership = await graph.membership_by_activity(session, follow_id)
    if membership is None or membership.state != "active":
        return False
    community = await session.get(Community, membership.community_id)
    if community is None or community.local:
        return False
    if await graph.count_local_members(session, community.id, at_most=2) != 1:
        return False
    return await store.request_backfill(session, community.id, now)


def requesting_backfill(next_handler: references.Handler) -> references.Handler:
    """An `Accept` handler that, after `next_handler`'s writes, asks for a backfill when the accepted
    `Follow` made this instance's first member of a community hosted elsewhere."""

    async def handle(
        fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
    ) -> Outcome:
        outcome = await next_handler(fed, activity, depth, via)
        follow_id, accepted = id_of(activity.get("object")), outcome.apply
        if accepted is None or follow_id is None:
            return outcome

        async def apply(session: AsyncSession) -> None:
            await accepted(session)
            if await request_if_first(session, follow_id, fed.ctx.clock.now()):
                logger.info("backfill requested after %s was accepted", follow_id)

        return Outcome(outcome.label, apply)

    return handle


# --- running it ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    stored: int = 0
    known: int = 0
    refused: int = 0
    reasons: list[str] = field(default_factory=list)

    def refuse(self, reason: str) -> None:
        self.refused += 1
        if len(self.reasons) < 3:
            self.reasons.append(reason[:80])

    def summary(self) -> str:
        text = f"{self.stored} stored, {self.known} already known, {self.refused} refused"
        return text + (f" ({'; '.join(self.reasons)})" if self.reasons else "")


async def run_due(fed: Federation, *, limit: int = 5) -> int:
    """Run up to `limit` due backfills; how many ran."""
    ran = 0
    while ran < limit:
        async with fed.ctx.transaction() as session:
            community_id = await store.claim_backfill(session, fed.ctx.clock.now(), LEASE)
        if community_id is None:
            break
        await _run(fed, community_id)
        ran += 1
    return ran


async def _run(fed: Federation, community_id: int) -> None:
    try:
        tally = await backfill_community(fed, community_id)
    except Exception as exc:  # a bug or a peer gone wrong: tried again, then given up, recorded
        logger.exception("backfill of community %s failed", community_id)
        async with fed.ctx.transaction() as session:
            row = await store.get_backfill(session, community_id)
            again = row is not None and row.attempts < MAX_ATTEMPTS
            await store.finish_backfill(
                session,
                community_id,
                fed.ctx.clock.now(),
                state=store.PENDING if again else store.FAILED,
                stored=0,
                outcome=f"error: {type(exc).__name__}",
            )
        return
    async with fed.ctx.transaction() as session:
        await store.finish_backfill(
            session,
            community_id,
            fed.ctx.clock.now(),
            state=store.DONE,
            stored=tally.stored,
            outcome=tally.summary(),
        )
    logger.info("backfill of community %s: %s", community_id, tally.summary())


async def backfill_community(fed: Federation, community_id: int) -> Tally:
    tally = Tally()
    async with fed.ctx.sessions() as session:
        community = await session.get(Community, community_id)
        group = await session.get(Actor, community.actor_id) if community is not None else None
    limit = fed.ctx.settings.backfill_threads
    if community is None or community.local or group is None or not group.outbox_url or limit == 0:
        return tally
    threads: list[dict[str, Any]] = []
    async with aclosing(_threads(fed, group, tally)) as listed:
        async for create in listed:
            threads.append(create)
            if len(threads) >= limit:
                break
    for create in reversed(threads):  # oldest first
        root = create["object"]
        if await _store(fed, create, group.uri, tally) and isinstance(root, dict):
            await _backfill_thread(fed, root, group.uri, tally)
    return tally


async def _document(fed: Federation, url: str, origin_of: str) -> dict[str, Any] | str:
    """A collection or page fetched from the origin of `origin_of`, or why not."""
    if not same_origin(url, origin_of):
        return f"{url} is not on the origin of {origin_of}"
    fetched = await fed.fetcher.get_document(url)
    if not fetched.ok or fetched.document is None:
        return f"{url}: {fetched.reason}"
    return fetched.document


async def _items(fed: Federation, url: str, tally: Tally) -> AsyncIterator[tuple[Any, str]]:
    """(item, URL of the document it came in) of an ordered collection, page after page."""
    collection = await _document(fed, url, url)
    if isinstance(collection, str):
        tally.refuse(collection)
        return
    page: Any = collection.get("first")
    source = url
    for _ in range(MAX_PAGES):
        if isinstance(page, str):
            fetched = await _document(fed, page, url)
            if isinstance(fetched, str):
                tally.refuse(fetched)
                return
            source, page = page, fetched
        if not isinstance(page, dict):
            return
        items = page.get("orderedItems", page.get("items", []))
        for item in items if isinstance(items, list) else []:
            yield item, source
        page = page.get("next")


async def _threads(fed: Federation, group: Actor, tally: Tally) -> AsyncGenerator[dict[str, Any]]:
    """The `Create` of each thread root the Group's outbox lists, newest first."""
    assert group.outbox_url is not None
    async for item, _ in _items(fed, group.outbox_url, tally):
        create = await _thread_root(fed, item, group.uri)
        if isinstance(create, str):
            tally.refuse(create)
        elif create is not None:
            yield create


def _ours(fed: Federation, value: Any) -> bool:
    return same_origin(id_of(value) or "", fed.ctx.settings.base_url)


async def _trusted(fed: Federation, value: Any, origin_of: str) -> dict[str, Any] | str:
    """`value` as embedded if its id has the origin of the document it came in, else fetched from its id."""
    value_id = id_of(value)
    if value_id is None:
        return "an item without an id"
    if isinstance(value, dict) and same_origin(value_id, origin_of) and not references.is_reference(value):
        cleaned: dict[str, Any] = sanitize_object(value)
        return cleaned
    fetched = await fed.fetcher.get_document(value_id)
    if not fetched.ok or fetched.document is None:
        return f"{value_id} not fetched from its origin: {fetched.reason}"
    if fetched.document.get("id") != value_id:
        return f"{value_id} answered with another id"
    fetched_clean: dict[str, Any] = sanitize_object(fetched.document)
    return fetched_clean


async def _thread_root(fed: Federation, item: Any, group_uri: str) -> dict[str, Any] | str | None:
    """The `Create` of the root post an outbox item announces; a reason to refuse; None to skip."""
    if not isinstance(item, dict) or item.get("type") != "Announce" or id_of(item.get("actor")) != group_uri:
        return "an outbox item that is not the community's Announce"
    item_id = id_of(item)
    if item_id is not None and not same_origin(item_id, group_uri):
        return f"outbox item {item_id} is not of the community's origin"
    if _ours(fed, item.get("object")):
        return None  # written here: we have it
    inner = await _trusted(fed, item.get("object"), group_uri)
    if isinstance(inner, str):
        return inner
    if inner.get("type") in references.POST_TYPES:
        create = references.create_of(inner)
        if create is None:
            return f"{id_of(inner)} is not attributed to an actor of its origin"
        inner = create
    if inner.get("type") != "Create":
        return None  # an announced reaction, edit or deletion: not a thread
    actor, note = id_of(inner.get("actor")), inner.get("object")
    inner_id = id_of(inner) or ""
    if actor is None or not same_origin(actor, inner_id):
        return f"{inner_id} has an actor of another origin"
    if isinstance(note, dict) and not same_origin(id_of(note) or "", actor):
        return f"{inner_id} carries a post of another origin"
    if isinstance(note, dict) and note.get("inReplyTo"):
        return None
    return inner


async def _store(fed: Federation, create: dict[str, Any], group_uri: str, tally: Tally) -> bool:
    """Store one post as if the Group had announced it; whether we have it now."""
    post_uri = id_of(create.get("object")) or ""
    try:
        outcome = await references.handle_create(fed, create, 0, group_uri, quiet=True)
        if outcome.apply is not None:
            async with fed.ctx.transaction() as session:
                await outcome.apply(session)
    except IntegrityError:  # pushed by the Group meanwhile
        outcome = Outcome("ignored: post already known")
    async with fed.ctx.sessions() as session:
        have = await post_store.get_post_by_uri(session, post_uri) is not None
    if outcome.label.startswith("ignored: post already known"):
        tally.known += 1
    elif have:
        tally.stored += 1
    else:
        tally.refuse(f"{post_uri}: {outcome.label}")
    return have


async def _backfill_thread(fed: Federation, root: dict[str, Any], group_uri: str, tally: Tally) -> None:
    """The comments of a thread, from its `context` collection (on the root's origin), oldest first."""
    context, root_id = root.get("context"), id_of(root) or ""
    if not isinstance(context, str) or not same_origin(context, root_id):
        return
    budget = fed.ctx.settings.backfill_thread_items
    async for item, source in _items(fed, context, tally):
        if budget <= 0:
            return
        budget -= 1
        if id_of(item) == root_id or _ours(fed, item):
            continue
        note = await _trusted(fed, item, source)
        if isinstance(note, str):
            tally.refuse(note)
            continue
        create = references.create_of(note) if note.get("type") in references.POST_TYPES else None
        if create is None:
            tally.refuse(f"{id_of(item)} is not a post of its author's origin")
            continue
        await _store(fed, create, group_uri, tally)
