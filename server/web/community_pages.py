"""Community pages: the directory, creating one, its feed, about and rules, members, the animators' tools."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import CercleError, NotFound, ValidationFailed
from server.services import communities, feeds, moderation, posts
from server.services.communities import KINDS, CommunityAccess
from server.services.permissions import ROLES, VISIBILITIES
from server.services.rendering import render_markdown
from server.storage import communities as community_store
from server.web.auth import require_user
from server.web.common import FormError, back, ctx_of, form_error, is_htmx, redirect, split_list
from server.web.community_header import abilities, header_context
from server.web.forms import text
from server.web.templating import render

PAGE = 20
DIRECTORY_PAGE = 30


def _name_cursor(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    name, _, ident = value.rpartition("|")
    if not ident.isdigit():
        raise ValidationFailed("is not a cursor this server gave", field="cursor")
    return name, int(ident)


async def directory(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    params = request.query_params
    filters = {"q": params.get("q", ""), "kind": params.get("kind", ""), "tag": params.get("tag", "")}
    error: FormError | None = None
    found: list[Any] = []
    counts: dict[int, int] = {}
    mine: dict[int, Any] = {}
    async with ctx.sessions() as session:
        try:
            found = list(
                await communities.directory(
                    session,
                    user,
                    q=filters["q"] or None,
                    kind=filters["kind"] or None,
                    tag=filters["tag"] or None,
                    limit=DIRECTORY_PAGE,
                    after=_name_cursor(params.get("cursor")),
                )
            )
        except CercleError as exc:
            error = form_error(request, exc)
        ids = [c.id for c in found]
        counts = await community_store.member_counts(session, ids)
        mine = await community_store.memberships_of(session, user.actor_id or 0, ids)
    next_cursor = f"{found[-1].name.lower()}|{found[-1].id}" if len(found) == DIRECTORY_PAGE else None
    return render(
        request,
        "communities.html",
        {
            "found": found,
            "counts": counts,
            "mine": mine,
            "filters": filters,
            "kinds": KINDS,
            "error": error,
            "next_cursor": next_cursor,
        },
        status_code=422 if error else 200,
    )


async def create(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    values = {
        "slug": "",
        "name": "",
        "kind": "practice",
        "visibility": "open",
        "description": "",
        "rules": "",
        "tags": "",
    }
    error: FormError | None = None
    status = 200
    if request.method == "POST":
        form = await request.form()
        values = {name: text(form, name, max_length=20_000) for name in values}
        try:
            async with ctx.transaction() as session:
                created = await communities.create_community(
                    session,
                    ctx.settings,
                    ctx.clock.now(),
                    user,
                    slug=values["slug"],
                    name=values["name"],
                    kind=values["kind"],
                    visibility=values["visibility"],
                    description=values["description"],
                    rules=values["rules"],
                    tags=split_list(values["tags"]),
                )
                slug = created.slug
        except CercleError as exc:
            error, status = form_error(request, exc), exc.status
        else:
            return redirect(f"/c/{slug}")
    return render(
        request,
        "community_new.html",
        {"values": values, "error": error, "kinds": KINDS, "visibilities": VISIBILITIES},
        status_code=status,
    )


async def _header(request: Request, slug: str) -> tuple[CommunityAccess, dict[str, Any]]:
    ctx, user = ctx_of(request), await require_user(request)
    async with ctx.sessions() as session:
        found = await communities.access(session, slug, user)
        context = await header_context(session, found)
    return found, context


async def page(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    slug = request.path_params["slug"]
    found, context = await _header(request, slug)
    can = abilities(found)
    cursor = request.query_params.get("cursor") or None
    more_url = f"/c/{slug}"
    moderate_in = slug if can["moderate"] else None
    if not can["read"]:
        return render(request, "community.html", {**context, "can": can, "tab": "feed", "page": None})
    async with ctx.transaction() as session:
        _, pinned, feed = await feeds.community_feed(
            session, ctx.clock.now(), user, slug, limit=PAGE, cursor=cursor, charter=ctx.charter
        )
    if cursor and is_htmx(request):
        return render(
            request, "_feed_more.html", {"page": feed, "more_url": more_url, "moderate_in": moderate_in}
        )
    pinned_ids = {v.post.id for v in pinned}
    feed.items = [v for v in feed.items if v.post.id not in pinned_ids] if not cursor else feed.items
    return render(
        request,
        "community.html",
        {
            **context,
            "can": can,
            "tab": "feed",
            "pinned": pinned,
            "page": feed,
            "more_url": more_url,
            "moderate_in": moderate_in,
        },
    )


async def about(request: Request) -> Response:
    found, context = await _header(request, request.path_params["slug"])
    community = found.community
    return render(
        request,
        "community_about.html",
        {
            **context,
            "can": abilities(found),
            "tab": "about",
            "description_html": render_markdown(community.description),
            "rules_html": render_markdown(community.rules),
        },
    )


async def members(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    slug = request.path_params["slug"]
    found, context = await _header(request, slug)
    can = abilities(found)
    async with ctx.sessions() as session:
        _, active = await communities.members(session, user, slug, state="active", limit=100)
        pending: list[Any] = []
        if can["manage"]:
            _, rows = await communities.members(session, user, slug, state="pending", limit=100)
            pending = list(rows)
    return render(
        request,
        "community_members.html",
        {
            **context,
            "can": can,
            "tab": "members",
            "active": active,
            "pending": pending,
            "roles": ROLES,
            "notice": request.query_params.get("done"),
        },
    )


async def join(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    slug = request.path_params["slug"]
    form = await request.form()
    async with ctx.transaction() as session:
        if text(form, "leave"):
            await communities.leave(session, ctx, ctx.clock.now(), user, slug)
        else:
            await communities.join(session, ctx, ctx.clock.now(), user, slug)
    return back(form, f"/c/{slug}")


async def decide(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    slug, username = request.path_params["slug"], request.path_params["username"]
    form = await request.form()
    decision = text(form, "decision")
    if decision not in ("approve", "deny"):
        raise NotFound("no such action: use approve or deny")
    async with ctx.transaction() as session:
        await communities.decide_request(
            session, ctx, ctx.clock.now(), user, slug, username, approve=decision == "approve"
        )
    return redirect(f"/c/{slug}/members?done={decision}")


async def manage_member(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    slug, username = request.path_params["slug"], request.path_params["username"]
    form = await request.form()
    action = text(form, "action")
    async with ctx.transaction() as session:
        if action == "role":
            await moderation.set_role(session, ctx, ctx.clock.now(), user, slug, username, text(form, "role"))
        elif action in ("remove", "ban"):
            await moderation.remove_member(
                session, ctx, ctx.clock.now(), user, slug, username, ban=action == "ban"
            )
        else:
            raise NotFound("no such action: use role, remove or ban")
    return redirect(f"/c/{slug}/members?done={action}")


async def pin(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    slug = request.path_params["slug"]
    form = await request.form()
    async with ctx.transaction() as session:
        await posts.pin(
            session, user, int(request.path_params["post_id"]), slug, pinned=text(form, "pinned") == "1"
        )
    return redirect(f"/c/{slug}")


routes = [
    Route("/communities", directory),
    Route("/communities/new", create, methods=["GET", "POST"]),
    Route("/c/{slug}", page),
    Route("/c/{slug}/about", about),
    Route("/c/{slug}/members", members),
    Route("/c/{slug}/join", join, methods=["POST"]),
    Route("/c/{slug}/requests/{username}", decide, methods=["POST"]),
    Route("/c/{slug}/members/{username}", manage_member, methods=["POST"]),
    Route("/c/{slug}/pins/{post_id:int}", pin, methods=["POST"]),
]
