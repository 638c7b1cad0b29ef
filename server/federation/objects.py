"""Object URLs: a post as ActivityStreams for peers (`/posts/<id>`), with authorized fetch.

A post of an open community (or a profile) is public. Any other answers only a signed fetch from
an instance with an accepted member of one of its communities (or, for a community hosted elsewhere, from
its host, which fetches what a reference-only delivery names); to anyone else it does not exist (404).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.federation.actors import _authorize, _not_found
from server.federation.collections import may_read_thread
from server.federation.negotiation import activity_response
from server.federation.state import federation_of
from server.services import outbox
from server.storage import posts as post_store


async def post_object(request: Request) -> Response:
    fed = federation_of(request)
    async with fed.ctx.sessions() as session:
        post = await post_store.get_post(session, int(request.path_params["post_id"]))
        if post is None or not post.local or post.held:
            return _not_found()
    who = await _authorize(fed, request, None)
    if isinstance(who, Response):
        return who
    if not await may_read_thread(fed, who, post.root_id or post.id):
        return _not_found()
    if post.deleted_at is not None:
        return activity_response(
            {"id": post.uri, "type": "Tombstone", "deleted": post.deleted_at.isoformat()}, 410
        )
    async with fed.ctx.sessions() as session:
        document = await outbox.post_document(session, fed.ctx, post)
    return activity_response(document)
