"""JSON API for moderation: reporting content, a community's moderation queue, its decisions and bans."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api.params import json_optional_str, json_str, path_int
from server.api.serializers import actor_json, membership_json, post_json
from server.api.v1 import json_object
from server.context import Context
from server.errors import NotFound
from server.services import feeds, moderation
from server.storage import communities as community_store
from server.storage.moderation import Report
from server.storage.social import Actor, Community
from server.web.auth import require_user


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def report_json(report: Report, *, community: Community, reporter: Actor | None) -> dict[str, Any]:
    return {
        "id": report.id,
        "uri": report.uri,
        "community": community.slug,
        "post_id": report.post_id,
        "category": report.category,
        "comment": report.comment,
        "state": report.state,
        "reporter": actor_json(reporter) if reporter else None,
        "origin": report.origin_domain,
        "created_at": report.created_at.isoformat(),
        "resolved_at": report.resolved_at.isoformat() if report.resolved_at else None,
    }


async def report_post(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    data = await json_object(request)
    async with ctx.transaction() as session:
        made = await moderation.report(
            session,
            ctx,
            ctx.clock.now(),
            user,
            path_int(request, "post_id"),
            category=json_str(data, "category", max_length=50),
            comment=json_str(data, "comment", default="", max_length=10_000),
            community=json_optional_str(data, "community"),
        )
        reporter = await session.get(Actor, user.actor_id)
        places = await community_store.get_communities(session, [r.community_id for r in made])
    items = [report_json(r, community=places[r.community_id], reporter=reporter) for r in made]
    return JSONResponse({"items": items}, status_code=201)


async def queue(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        found = await moderation.queue(session, user, request.path_params["slug"])
        views = {
            v.post.id: v for v in await feeds.hydrate(session, user, found.post_ids, charter=ctx.charter)
        }
    community = found.access.community
    return JSONResponse(
        {
            "community": community.slug,
            "reports": [
                {
                    **report_json(e.report, community=community, reporter=e.reporter),
                    "post": post_json(views[e.report.post_id]),
                }
                for e in found.reports
            ],
            "held": [post_json(views[p.id]) for p in found.held],
        }
    )


async def decide_report(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    slug, decision = request.path_params["slug"], request.path_params["decision"]
    if decision not in ("dismiss", "remove"):
        raise NotFound("no such decision: use dismiss or remove")
    report_id = path_int(request, "report_id")
    async with ctx.transaction() as session:
        if decision == "dismiss":
            row = await moderation.dismiss_report(session, ctx.clock.now(), user, slug, report_id)
        else:
            row = await moderation.remove_reported(session, ctx, ctx.clock.now(), user, slug, report_id)
        community = await session.get(Community, row.community_id)
        reporter = await session.get(Actor, row.reporter_id) if row.reporter_id else None
    assert community is not None
    return JSONResponse(report_json(row, community=community, reporter=reporter))


async def decide_held(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    slug, decision = request.path_params["slug"], request.path_params["decision"]
    if decision not in ("approve", "reject"):
        raise NotFound("no such decision: use approve or reject")
    async with ctx.transaction() as session:
        post = await moderation.decide_held(
            session,
            ctx,
            ctx.clock.now(),
            user,
            slug,
            path_int(request, "post_id"),
            approve=decision == "approve",
        )
        (view,) = await feeds.hydrate(session, user, [post.id], charter=ctx.charter)
    return JSONResponse(post_json(view))


async def bans(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.sessions() as session:
        rows = await moderation.banned_members(session, user, request.path_params["slug"])
    return JSONResponse({"items": [membership_json(m, a) for m, a in rows]})


async def unban(request: Request) -> Response:
    ctx, user = _ctx(request), await require_user(request)
    async with ctx.transaction() as session:
        await moderation.unban(
            session, ctx, ctx.clock.now(), user, request.path_params["slug"], request.path_params["username"]
        )
    return Response(status_code=204)


routes = [
    Route("/api/v1/posts/{post_id:int}/reports", report_post, methods=["POST"]),
    Route("/api/v1/communities/{slug}/moderation", queue),
    Route(
        "/api/v1/communities/{slug}/reports/{report_id:int}/{decision:str}", decide_report, methods=["POST"]
    ),
    Route("/api/v1/communities/{slug}/held/{post_id:int}/{decision:str}", decide_held, methods=["POST"]),
    Route("/api/v1/communities/{slug}/bans", bans),
    Route("/api/v1/communities/{slug}/bans/{username}", unban, methods=["DELETE"]),
]
