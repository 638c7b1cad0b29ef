"""JSON API for communities: directory, creation, membership, moderation, feed, pins."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api.params import json_optional_str, json_str, json_str_list, query_int, query_str
from server.api.serializers import community_json, membership_json, page_json, post_json
from server.api.v1 import json_object
from server.context import Context
from server.errors import NotFound, ValidationFailed
from server.federation import following, people
from server.federation.state import federation_of
from server.services import communities, feeds, moderation, posts
from server.storage import communities as community_store
from server.web.auth import require_user


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _name_cursor(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    name, _, ident = value.rpartition("|")
    if not ident.isdigit():
        raise ValidationFailed("is not a cursor this server gave", field="cursor")
    return name, int(ident)


async def collection(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    if request.method == "POST":
        data = await json_object(request)
        async with ctx.transaction() as session:
            created = await communities.create_community(
                session,
                ctx.settings,
                ctx.clock.now(),
                user,
                slug=json_str(data, "slug", max_length=100),
                name=json_str(data, "name", max_length=1000),
                kind=json_str(data, "kind", max_length=50),
                visibility=json_str(data, "visibility", default="open", max_length=50),
                description=json_str(data, "description", default=""),
                rules=json_str(data, "rules", default=""),
                tags=json_str_list(data, "tags") or [],
            )
            membership = await community_store.get_membership(session, created.id, user.actor_id or 0)
        return JSONResponse(community_json(created, membership=membership, member_count=1), status_code=201)
    limit = query_int(request, "limit", 50)
    if not 1 <= limit <= 100:
        raise ValidationFailed("must be between 1 and 100", field="limit")
    async with ctx.sessions() as session:
        found = await communities.directory(
            session,
            user,
            q=query_str(request, "q"),
            kind=query_str(request, "kind"),
            tag=query_str(request, "tag"),
            limit=limit,
            after=_name_cursor(query_str(request, "cursor")),
        )
        ids = [c.id for c in found]
        counts = await community_store.member_counts(session, ids)
        mine = await community_store.memberships_of(session, user.actor_id or 0, ids)
    items = [community_json(c, membership=mine.get(c.id), member_count=counts.get(c.id, 0)) for c in found]
    next_cursor = f"{found[-1].name.lower()}|{found[-1].id}" if len(found) == limit else None
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def join_remote(request: Request) -> Response:
    """Join a community hosted on another instance ('slug@domain' or its URL): it answers later."""
    user = await require_user(request)
    data = await json_object(request)
    community, membership = await following.join_remote(
        federation_of(request), user, json_str(data, "handle", max_length=500)
    )
    return JSONResponse(
        {**community_json(community, membership=membership), "state": membership.state}, status_code=202
    )


async def one(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    slug = request.path_params["slug"]
    if request.method == "PATCH":
        data = await json_object(request)
        async with ctx.transaction() as session:
            await communities.update_community(
                session,
                ctx.clock.now(),
                user,
                slug,
                name=json_optional_str(data, "name"),
                description=json_optional_str(data, "description"),
                rules=json_optional_str(data, "rules"),
                kind=json_optional_str(data, "kind"),
                visibility=json_optional_str(data, "visibility"),
                tags=json_str_list(data, "tags"),
            )
    async with ctx.sessions() as session:
        found = await communities.access(session, slug, user)
        count = (await community_store.member_counts(session, [found.community.id])).get(
            found.community.id, 0
        )
    return JSONResponse(community_json(found.community, membership=found.membership, member_count=count))


async def join(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.transaction() as session:
        membership = await communities.join(session, ctx, ctx.clock.now(), user, request.path_params["slug"])
        state, role = membership.state, membership.role
    return JSONResponse({"state": state, "role": role}, status_code=201 if state == "active" else 202)


async def leave(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.transaction() as session:
        await communities.leave(session, ctx, ctx.clock.now(), user, request.path_params["slug"])
    return Response(status_code=204)


async def members(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    after = query_int(request, "after", 0) or None
    async with ctx.sessions() as session:
        _, rows = await communities.members(
            session,
            user,
            request.path_params["slug"],
            state=query_str(request, "state") or "active",
            limit=100,
            after_id=after,
        )
    items = [membership_json(m, a) for m, a in rows]
    return JSONResponse({"items": items, "next_after": rows[-1][0].id if len(rows) == 100 else None})


async def invite(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    data = await json_object(request)
    username = json_str(data, "username", max_length=300)
    if people.is_remote_handle(ctx.settings.domain, username):
        await people.invite_person(federation_of(request), user, request.path_params["slug"], username)
        return JSONResponse({"state": "invited"}, status_code=201)
    async with ctx.transaction() as session:
        await communities.invite(
            session,
            ctx.clock.now(),
            user,
            request.path_params["slug"],
            username,
        )
    return JSONResponse({"state": "invited"}, status_code=201)


async def decide(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    if request.path_params["decision"] not in ("approve", "deny"):
        raise NotFound("no such action: use approve or deny")
    approve = request.path_params["decision"] == "approve"
    async with ctx.transaction() as session:
        await communities.decide_request(
            session,
            ctx,
            ctx.clock.now(),
            user,
            request.path_params["slug"],
            request.path_params["username"],
            approve=approve,
        )
    return JSONResponse({"state": "active" if approve else "denied"})


async def moderate_member(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    slug, username, what = (
        request.path_params["slug"],
        request.path_params["username"],
        request.path_params["what"],
    )
    if what not in ("remove", "ban", "role"):
        raise NotFound("no such action: use remove, ban or role")
    async with ctx.transaction() as session:
        if what == "role":
            data = await json_object(request)
            membership = await moderation.set_role(
                session, ctx, ctx.clock.now(), user, slug, username, json_str(data, "role", max_length=50)
            )
            return JSONResponse({"role": membership.role, "state": membership.state})
        await moderation.remove_member(session, ctx, ctx.clock.now(), user, slug, username, ban=what == "ban")
    return Response(status_code=204)


async def feed(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.transaction() as session:
        community, pinned, page = await feeds.community_feed(
            session,
            ctx.clock.now(),
            user,
            request.path_params["slug"],
            limit=query_int(request, "limit", 50),
            cursor=query_str(request, "cursor"),
            charter=ctx.charter,
        )
    return JSONResponse(
        {"community": community.slug, "pinned": [post_json(v) for v in pinned], **page_json(page)}
    )


async def pin(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.transaction() as session:
        await posts.pin(
            session,
            user,
            int(request.path_params["post_id"]),
            request.path_params["slug"],
            pinned=request.method == "PUT",
        )
    return Response(status_code=204)


routes = [
    Route("/api/v1/communities", collection, methods=["GET", "POST"]),
    Route("/api/v1/communities/remote", join_remote, methods=["POST"]),
    Route("/api/v1/communities/{slug}", one, methods=["GET", "PATCH"]),
    Route("/api/v1/communities/{slug}/join", join, methods=["POST"]),
    Route("/api/v1/communities/{slug}/leave", leave, methods=["POST"]),
    Route("/api/v1/communities/{slug}/members", members),
    Route("/api/v1/communities/{slug}/invitations", invite, methods=["POST"]),
    Route("/api/v1/communities/{slug}/requests/{username}/{decision:str}", decide, methods=["POST"]),
    Route("/api/v1/communities/{slug}/members/{username}/{what:str}", moderate_member, methods=["POST"]),
    Route("/api/v1/communities/{slug}/feed", feed),
    Route("/api/v1/communities/{slug}/pins/{post_id:int}", pin, methods=["PUT", "DELETE"]),
]
