"""A community's history for peers (FEP-7888, FEP-f228): the Group's `outbox` and a thread's `context`.

`/c/SLUG/outbox` is an `OrderedCollection` of the community's threads, newest first, one `Announce` by the
Group per root post: a post written here is embedded as its `Create` (same origin as the Group), a post
written elsewhere is named by its id only, so the reader fetches it from its origin. `/posts/ID/context`
is the thread of a post written here: the root post then its comments, oldest first; posts written here
are embedded, the others named by id. Deleted and held posts are left out.

Access is the posts' own: an open community's history answers anyone; a closed or secret one's only a
signed fetch from an instance where one of its members lives (or, for a post shared in a community hosted
elsewhere, from that community's host); anyone else gets 404.

Egress. What is embedded for a signed reader passes the sending charter for the reader's jurisdiction, as
a delivery would (and is recorded the same way): `deny` and a missing consent leave the post out,
`reference_only` names it by id (the reader then fetches it with a live access check), `redact` removes
the media metadata named. An unsigned reader, whose jurisdiction is unknown, gets ids only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from server.activitypub.redaction import media_metadata_of, without_media_metadata
from server.activitypub.vocabulary import AS_PUBLIC, ordered_collection, ordered_collection_page
from server.federation.actors import _authorize, _local, _not_found
from server.federation.authentication import Signer
from server.federation.negotiation import activity_response, problem_response
from server.federation.state import Federation, federation_of
from server.services import outbox
from server.services.actors import GROUP
from server.storage import backfill as store
from server.storage import federation as federation_store
from server.storage import federation_graph as graph
from server.storage import posts as post_store
from server.storage.social import Actor, Community, Post

OUTBOX_PAGE = 20
CONTEXT_PAGE = 50
MAX_PAGE = 10_000


async def may_read_thread(fed: Federation, who: Signer | None, root_id: int) -> bool:
    """Whether `who` may read a thread: open everywhere, or asked by a member's (or the host's) instance."""
    async with fed.ctx.sessions() as session:
        places = await graph.communities_of_post(session, root_id)
        private = [(community, group) for community, group in places if community.visibility != "open"]
        if not private:
            return True
        if who is None:
            return False
        domains = await graph.member_instance_domains(session, [c.id for c, _ in private])
    hosts = {group.domain for community, group in private if not community.local}
    return who.domain in domains | hosts


def _page_number(request: Request) -> int | Response | None:
    raw = request.query_params.get("page")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        return problem_response(404, "not-found", "no such page")
    return int(raw)


def _collection_or_page(
    request: Request, total: int, page: int | None, size: int, items: list[Any]
) -> Response:
    base = request.app.state.ctx.settings.base_url + request.url.path
    if page is None:
        return activity_response(ordered_collection(base, total_items=total, first=f"{base}?page=1"))
    more = page * size < total
    document = ordered_collection_page(
        f"{base}?page={page}",
        part_of=base,
        ordered_items=items,
        total_items=total,
        next=f"{base}?page={page + 1}" if more else None,
        prev=f"{base}?page={page - 1}" if page > 1 else None,
    )
    return activity_response(document)


async def _served(
    session: AsyncSession, fed: Federation, who: Signer | None, post: Post, document: dict[str, Any]
) -> dict[str, Any] | str | None:
    """`document` (a local post's Note or Create) as the charter lets it go to `who`: the document, maybe
    redacted; the post's id only; or None when it may not go at all."""
    if who is None:
        return post.uri
    verdict = await outbox.egress_verdict(
        session,
        fed.ctx,
        fed.ctx.clock.now(),
        peer_domain=who.domain,
        kind="comment" if post.root_id else "post",
        author_user=await store.user_of_actor(session, post.author_id),
        text=f"{post.title}\n{post.source}",
        subject=post.uri,
        actor_id=post.author_id,
        media=media_metadata_of(document),
    )
    if verdict.action in ("deny", "consent"):
        return None
    if verdict.action == "reference":
        return post.uri
    if verdict.action == "redact":
        return without_media_metadata(document, verdict.redacted)
    return document


async def _create_of(session: AsyncSession, fed: Federation, post: Post) -> dict[str, Any]:
    note = await outbox.post_document(session, fed.ctx, post)
    author = await session.get(Actor, post.author_id)
    assert author is not None
    create = outbox.wrap(
        "Create", author.uri, note, to=note["to"], cc=note["cc"], audience=note.get("audience")
    )
    create["id"] = f"{post.uri}/create"
    create["published"] = note["published"]
    return create


async def _announce_item(
    session: AsyncSession, fed: Federation, who: Signer | None, group: Actor, community: Community, post: Post
) -> dict[str, Any] | None:
    obj: dict[str, Any] | str | None = post.uri
    if post.local:
        obj = await _served(session, fed, who, post, await _create_of(session, fed, post))
    if obj is None:
        return None
    return {
        "id": f"{group.uri}/announces/{post.id}",
        "type": "Announce",
        "actor": group.uri,
        "object": obj,
        "to": [f"{group.uri}/followers"],
        "cc": [AS_PUBLIC] if community.visibility == "open" else [],
        "audience": group.uri,
        "published": post.created_at.isoformat(),
    }


async def _outbox_reader(
    fed: Federation, request: Request, community: Community | None
) -> Signer | Response | None:
    who = await _authorize(fed, request, community)
    if isinstance(who, Response) or community is None or community.visibility == "open":
        return who
    if who is None:
        return _not_found()
    async with fed.ctx.sessions() as session:
        if not await federation_store.domain_has_member(session, community.id, who.domain):
            return _not_found()
    return who


async def group_outbox(request: Request) -> Response:
    fed = federation_of(request)
    found = await _local(fed, request.path_params["slug"], GROUP)
    community = found[1] if found is not None else None
    if found is None or community is None:
        return _not_found()
    group = found[0]
    who = await _outbox_reader(fed, request, community)
    if isinstance(who, Response):
        return who
    page = _page_number(request)
    if isinstance(page, Response):
        return page
    async with fed.ctx.transaction() as session:
        total = await store.count_community_threads(session, community.id)
        items: list[Any] = []
        if page is not None:
            posts = await store.community_threads(
                session, community.id, offset=(page - 1) * OUTBOX_PAGE, limit=OUTBOX_PAGE
            )
            for post in posts:
                item = await _announce_item(session, fed, who, group, community, post)
                if item is not None:
                    items.append(item)
    return _collection_or_page(request, total, page, OUTBOX_PAGE, items)


async def _context_item(
    session: AsyncSession, fed: Federation, who: Signer | None, post: Post
) -> dict[str, Any] | str | None:
    if not post.local:
        return post.uri
    return await _served(session, fed, who, post, await outbox.post_document(session, fed.ctx, post))


async def thread_context(request: Request) -> Response:
    fed = federation_of(request)
    async with fed.ctx.sessions() as session:
        root = await post_store.get_post(session, int(request.path_params["post_id"]))
    if root is None or not root.local or root.held or root.root_id is not None or root.deleted_at:
        return _not_found()
    who = await _authorize(fed, request, None)
    if isinstance(who, Response):
        return who
    if not await may_read_thread(fed, who, root.id):
        return _not_found()
    page = _page_number(request)
    if isinstance(page, Response):
        return page
    async with fed.ctx.transaction() as session:
        total = await store.count_thread_posts(session, root.id)
        items: list[Any] = []
        if page is not None:
            posts = await store.thread_page(
                session, root.id, offset=(page - 1) * CONTEXT_PAGE, limit=CONTEXT_PAGE
            )
            for post in posts:
                item = await _context_item(session, fed, who, post)
                if item is not None:
                    items.append(item)
    return _collection_or_page(request, total, page, CONTEXT_PAGE, items)
