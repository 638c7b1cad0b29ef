"""Activities we sent, served again by their id, so that a third instance can check a relayed one.

FEP-1b12: when the Group of a community hosted on Paris announces an edit that Munich's Alice sent,
Lyon trusts the embedded activity only as fetched from its origin (in a closed or secret community, the
Group's word is enough: `server.federation.vouching`). So every activity id we mint
(`/posts/<id>/create`, `/users/<name>/activities/…`, `/users/<name>/likes/…`) answers with the
payload we delivered (read back from the delivery queue).

Who may fetch one: an instance it was delivered to, or one that may read the post it concerns
under the rules of the post object itself (`collections.may_read_thread`: a post of an open community
or a profile: any peer; of a closed or secret community: an instance with an accepted member, or the
community's host). The sending charter's
*egress* rules apply to the requester's jurisdiction as to a delivery (refused or held: 404). An
activity that carried content whose post is deleted since answers 410; an unknown or refused one
answers 404, so its existence is not confirmed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute

from server.federation.actors import _authorize, _not_found
from server.federation.authentication import Signer
from server.federation.collections import may_read_thread
from server.federation.negotiation import DocumentRoute, activity_response
from server.federation.state import Federation, federation_of
from server.policy import ContentFacts, EgressFacts, evaluate_egress
from server.storage import reach as store
from server.storage.social import Attachment, Post

SENDABLE = ("allow", "label", "redact", "reference_only")
WHOLE = ("allow", "label")


async def _may_read(fed: Federation, post: Post, who: Signer) -> bool:
    """The rule of the post object (`collections.may_read_thread`); a held post is no one's to read."""
    return not post.held and await may_read_thread(fed, who, post.root_id or post.id)


def _egress_allows(fed: Federation, who: Signer, post: Post | None, *, whole: bool = False) -> bool:
    """The sending charter lets this post go to the peer (`whole`: unchanged, neither redacted nor as a
    reference)."""
    ctx = fed.ctx
    peer = ctx.settings.peer(who.domain)
    jurisdiction = peer.jurisdiction if peer else None
    kind = "comment" if post is not None and post.root_id else "post"
    decision = evaluate_egress(
        ctx.charter,
        EgressFacts(
            destination_jurisdiction=jurisdiction,
            content_kind=kind,
            destination_regions=ctx.charter.regions_of(jurisdiction),
            content=ContentFacts(
                text=f"{post.title}\n{post.source}" if post else "",
                kind=kind,
                author_jurisdiction=ctx.charter.jurisdiction,
            ),
        ),
    )
    return decision.action in (WHOLE if whole else SENDABLE)


async def sent_activity(request: Request) -> Response:
    fed = federation_of(request)
    uri = fed.ctx.settings.base_url + request.url.path
    async with fed.ctx.sessions() as session:
        row = await store.sent_activity(session, uri)
        post = await session.get(Post, row.post_id) if row is not None and row.post_id else None
    if row is None:
        return _not_found()
    who = await _authorize(fed, request, None)
    if isinstance(who, Response):
        return who
    if who is None:
        return _not_found()
    async with fed.ctx.sessions() as session:
        # What was sent to this peer, as the charter shaped it for this peer; else, for a peer that may
        # read the post, the activity as no article changed it, and only where the charter sends it whole.
        own = await store.sent_activity(session, uri, domain=who.domain)
        plain = None if own else await store.sent_activity(session, uri, plain=True)
    if own is not None:
        row = own
    elif plain is not None and post is not None and await _may_read(fed, post, who):
        if not _egress_allows(fed, who, post, whole=True):
            return _not_found()
        row = plain
    else:
        return _not_found()
    if post is not None and post.deleted_at is not None and row.payload.get("type") != "Delete":
        return activity_response(
            {"id": uri, "type": "Tombstone", "deleted": post.deleted_at.isoformat()}, 410
        )
    return activity_response(row.payload)


async def file_for_peer(request: Request, attachment_id: int, *, thumbnail: bool) -> Response:
    """A signed GET of a file by a peer instance (to keep a copy of a post's attachment): served when
    that instance may read the post, under the rule of the post object and as the charter's *egress*
    rules allow; never a file that is on no post. Anything else is 404."""
    fed = federation_of(request)
    who = await _authorize(fed, request, None)
    if isinstance(who, Response):
        return who
    async with fed.ctx.sessions() as session:
        attachment = await session.get(Attachment, attachment_id)
        post = await session.get(Post, attachment.post_id) if attachment and attachment.post_id else None
    if who is None or attachment is None or post is None or not post.local or post.deleted_at is not None:
        return _not_found()
    if not await _may_read(fed, post, who) or not _egress_allows(fed, who, post):
        return _not_found()
    relative = attachment.thumbnail_path if thumbnail else attachment.path
    root = fed.ctx.settings.media_dir.resolve()
    path = (root / relative).resolve() if relative else None
    if path is None or not path.is_relative_to(root) or not path.is_file():
        return _not_found()
    return FileResponse(path, media_type="image/webp" if thumbnail else attachment.media_type)


routes: list[BaseRoute] = [
    DocumentRoute("/posts/{post_id:int}/create", sent_activity),
    DocumentRoute("/users/{name}/activities/{rest}", sent_activity),
    DocumentRoute("/users/{name}/likes/{rest}", sent_activity),
    DocumentRoute("/users/{name}/follows/{rest:path}", sent_activity),
    DocumentRoute("/c/{slug}/activities/{rest}", sent_activity),
]
