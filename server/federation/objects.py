"""Object URLs: a post as ActivityStreams for peers (`/posts/<id>`), with authorized fetch.

A post of an open community (or a profile) is public. Any other answers only a signed fetch from
an instance with an accepted member of one of its communities; to anyone else it does not exist (404).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.federation.actors import _authorize, _not_found
from server.federation.negotiation import activity_response
from server.federation.state import federation_of
from server.services import outbox
from server.storage import federation_graph as graph
from server.storage import posts as post_store


async def post_object(request: Request) -> Response:
    fed = federation_of(request)
    async with fed.ctx.sessions() as session:
        post = await post_store.get_post(session, int(request.path_params["post_id"]))
        if post is None or not post.local or post.held:
            return _not_found()
        root_id = post.root_id or post.id
        places = await graph.communities_of_post(session, root_id)
    who = await _authorize(fed, request, None)
    if isinstance(who, Response):
        return who
    private = [community for community, _ in places if community.visibility != "open"]
    if private:
        if who is None:
            return _not_found()
        async with fed.ctx.sessions() as session:
            domains = await graph.member_instance_domains(session, [c.id for c in private])
        if who.domain not in domains:
            return _not_found()
    if post.deleted_at is not None:
        return activity_response(
            {"id": post.uri, "type": "Tombstone", "deleted": post.deleted_at.isoformat()}, 410
        )
    async with fed.ctx.sessions() as session:
        document = await outbox.post_document(session, fed.ctx, post)
    return activity_response(document)
