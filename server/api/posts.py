"""JSON API for posts, comments, reactions, polls, the home feed, follows and notifications."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api.params import (
    json_bool,
    json_int,
    json_int_list,
    json_optional_str,
    json_str,
    json_str_list,
    query_int,
    query_str,
)
from server.api.serializers import actor_json, notification_json, page_json, post_json, revision_json
from server.api.v1 import json_object
from server.context import Context
from server.federation import people
from server.federation.state import federation_of
from server.services import feeds, follows, posts, remote_votes
from server.storage import communities as community_store
from server.storage import delivery as delivery_store
from server.storage import notifications as notification_store
from server.storage import posts as post_store
from server.web.auth import require_user


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def create(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    data = await json_object(request)
    async with ctx.transaction() as session:
        post = await posts.create_post(
            session,
            ctx,
            ctx.clock.now(),
            user,
            body=json_str(data, "body"),
            title=json_str(data, "title", default="", max_length=1000),
            communities=json_str_list(data, "communities") or [],
            on_profile=json_bool(data, "on_profile"),
            poll_options=json_str_list(data, "poll_options"),
            language=json_optional_str(data, "language"),
            attachment_ids=json_int_list(data, "attachment_ids"),
        )
        (view,) = await feeds.hydrate(session, user, [post.id], charter=ctx.charter)
    return JSONResponse(post_json(view), status_code=201)


async def one(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    post_id = int(request.path_params["post_id"])
    if request.method == "DELETE":
        async with ctx.transaction() as session:
            await posts.delete_post(session, ctx, ctx.clock.now(), user, post_id)
        return Response(status_code=204)
    if request.method == "PATCH":
        data = await json_object(request)
        async with ctx.transaction() as session:
            await posts.edit_post(
                session,
                ctx,
                ctx.clock.now(),
                user,
                post_id,
                body=json_str(data, "body"),
                title=json_optional_str(data, "title"),
            )
    async with ctx.sessions() as session:
        post = await posts.readable_post(session, user, post_id)
        (view,) = await feeds.hydrate(session, user, [post.id], charter=ctx.charter)
    return JSONResponse(post_json(view))


async def thread(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        root, comments = await posts.thread(session, user, int(request.path_params["post_id"]))
        views = await feeds.hydrate(session, user, [root.id, *[c.id for c in comments]], charter=ctx.charter)
    return JSONResponse({"post": post_json(views[0]), "comments": [post_json(v) for v in views[1:]]})


async def revisions(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        rows = await posts.revisions(session, user, int(request.path_params["post_id"]))
    return JSONResponse({"items": [revision_json(r) for r in rows]})


async def deliveries(request: Request) -> Response:
    """Where a post went: each peer instance, when, in what state, under which charter article."""
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        post = await posts.readable_post(session, user, int(request.path_params["post_id"]))
        rows = await delivery_store.lineage(session, post.id)
    return JSONResponse(
        {
            "items": [
                {
                    "instance": row.peer_domain,
                    "activity": row.activity_uri,
                    "state": row.state,
                    "attempts": row.attempts,
                    "queued_at": row.created_at.isoformat(),
                    "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
                    "charter_article": row.article,
                }
                for row in rows
            ]
        }
    )


async def comment(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    data = await json_object(request)
    async with ctx.transaction() as session:
        created = await posts.create_comment(
            session,
            ctx,
            ctx.clock.now(),
            user,
            parent_id=int(request.path_params["post_id"]),
            body=json_str(data, "body"),
        )
        (view,) = await feeds.hydrate(session, user, [created.id], charter=ctx.charter)
    return JSONResponse(post_json(view), status_code=201)


async def reaction(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.transaction() as session:
        changed = await posts.react(
            session,
            ctx,
            ctx.clock.now(),
            user,
            int(request.path_params["post_id"]),
            request.path_params["kind"],
            on=request.method == "PUT",
        )
    return Response(status_code=201 if changed and request.method == "PUT" else 204)


async def vote(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    data = await json_object(request)
    async with ctx.transaction() as session:
        await remote_votes.vote(
            session, ctx, ctx.clock.now(), user, int(request.path_params["post_id"]), json_int(data, "option")
        )
    return Response(status_code=204)


async def home(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        page = await feeds.home_feed(
            session,
            user,
            limit=query_int(request, "limit", 50),
            cursor=query_str(request, "cursor"),
            charter=ctx.charter,
        )
    return JSONResponse(page_json(page))


async def person_posts(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        page = await feeds.profile_feed(
            session,
            user,
            request.path_params["username"],
            limit=query_int(request, "limit", 50),
            cursor=query_str(request, "cursor"),
            charter=ctx.charter,
        )
    return JSONResponse(page_json(page))


async def follow(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    if people.is_remote_handle(ctx.settings.domain, request.path_params["username"]):
        fed, on = federation_of(request), request.method == "PUT"
        await people.follow_person(fed, user, request.path_params["username"], on=on)
        return Response(status_code=204)
    async with ctx.transaction() as session:
        await follows.follow(
            session, ctx.clock.now(), user, request.path_params["username"], on=request.method == "PUT"
        )
    return Response(status_code=204)


async def notifications(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        rows = await notification_store.list_notifications(
            session,
            user.id,
            limit=min(max(query_int(request, "limit", 50), 1), 100),
            before_id=query_int(request, "before", 0) or None,
            unread_only=query_str(request, "unread") in ("1", "true"),
        )
        actors = await post_store.load_actors(session, [n.actor_id for n in rows if n.actor_id])
        communities = await community_store.get_communities(
            session, [n.community_id for n in rows if n.community_id]
        )
    items = []
    for row in rows:
        item = notification_json(row)
        item["actor"] = actor_json(actors[row.actor_id]) if row.actor_id in actors else None
        community = communities.get(row.community_id or 0)
        item["community"] = {"slug": community.slug, "name": community.name} if community else None
        items.append(item)
    return JSONResponse({"items": items, "next_before": rows[-1].id if rows else None})


async def mark_read(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    data = await json_object(request)
    ids = data.get("ids")
    async with ctx.transaction() as session:
        count = await notification_store.mark_notifications_read(
            session, user.id, ctx.clock.now(), json_int_list(data, "ids") if ids is not None else None
        )
    return JSONResponse({"marked": count})


async def unread(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        counts = await feeds.unread_counts(session, user)
    return JSONResponse(counts)


routes = [
    Route("/api/v1/posts", create, methods=["POST"]),
    Route("/api/v1/posts/{post_id:int}", one, methods=["GET", "PATCH", "DELETE"]),
    Route("/api/v1/posts/{post_id:int}/thread", thread),
    Route("/api/v1/posts/{post_id:int}/revisions", revisions),
    Route("/api/v1/posts/{post_id:int}/comments", comment, methods=["POST"]),
    Route("/api/v1/posts/{post_id:int}/deliveries", deliveries),
    Route("/api/v1/posts/{post_id:int}/reactions/{kind}", reaction, methods=["PUT", "DELETE"]),
    Route("/api/v1/posts/{post_id:int}/votes", vote, methods=["POST"]),
    Route("/api/v1/feed/home", home),
    Route("/api/v1/people/{username}/posts", person_posts),
    Route("/api/v1/people/{username}/follow", follow, methods=["PUT", "DELETE"]),
    Route("/api/v1/notifications", notifications),
    Route("/api/v1/notifications/read", mark_read, methods=["POST"]),
    Route("/api/v1/unread", unread),
]
