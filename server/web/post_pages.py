"""Writing and reading posts: the composer (with preview and attachments), threads, reactions, polls,
editing with its history, deleting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import CercleError, ValidationFailed
from server.services import feeds, media, posts, profiles, remote_votes
from server.services.feeds import PostView
from server.services.permissions import Action, allowed, standing
from server.services.rendering import render_markdown
from server.storage import communities as community_store
from server.storage.models import User
from server.storage.social import Community, Post
from server.web.auth import require_user
from server.web.common import FormError, back, ctx_of, form_error, is_htmx, redirect
from server.web.forms import safe_next, text
from server.web.templating import render

MAX_FILES = 4
MAX_DEPTH = 6


@dataclass
class Composer:
    title: str = ""
    body: str = ""
    communities: Sequence[str] = ()
    on_profile: bool = False
    poll: str = ""
    file_description: str = ""


async def _postable(request: Request, user: User) -> list[Community]:
    """The communities where this person may post, by name."""
    ctx = ctx_of(request)
    async with ctx.sessions() as session:
        ids = await community_store.active_community_ids(session, user.actor_id or 0)
        found = await community_store.get_communities(session, ids)
        memberships = await community_store.memberships_of(session, user.actor_id or 0, ids)
    return sorted(
        (
            c
            for cid, c in found.items()
            if cid in memberships
            and allowed(Action.POST, c.visibility, standing(memberships[cid].role, memberships[cid].state))
        ),
        key=lambda c: c.name.lower(),
    )


async def _compose_page(
    request: Request, user: User, values: Composer, error: FormError | None, status: int = 200
) -> Response:
    return render(
        request,
        "compose.html",
        {
            "values": values,
            "error": error,
            "communities": await _postable(request, user),
            "max_files": MAX_FILES,
        },
        status_code=status,
    )


def _uploads(form: FormData) -> list[UploadFile]:
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if len(files) > MAX_FILES:
        raise ValidationFailed(f"at most {MAX_FILES} files on a post", field="files")
    return files


async def compose(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    if request.method == "GET":
        preset = request.query_params.get("community", "")
        return await _compose_page(request, user, Composer(communities=[preset] if preset else []), None)
    async with request.form(max_files=MAX_FILES + 1, max_fields=100) as form:
        values = Composer(
            title=text(form, "title", max_length=1000),
            body=text(form, "body", max_length=100_000),
            communities=[v for v in form.getlist("communities") if isinstance(v, str)],
            on_profile=text(form, "on_profile") == "1",
            poll=text(form, "poll", max_length=5000),
            file_description=text(form, "file_description", max_length=2000),
        )
        poll_options = [line.strip() for line in values.poll.splitlines() if line.strip()]
        try:
            files = _uploads(form)
            stored: list[int] = []
            if files:
                # Uploads are committed first, like the API's POST /api/v1/media: the post that
                # uses them then passes the charter with its attachments' types and sizes.
                async with ctx.transaction() as session:
                    actor, _ = await profiles.person_of(session, user)
                    for upload in files:
                        data = await upload.read(max(media.SIZE_LIMITS.values()) + 1)
                        attachment = await media.store_upload(
                            session,
                            ctx,
                            ctx.clock.now(),
                            actor,
                            upload.filename or "",
                            upload.content_type or "",
                            data,
                            values.file_description,
                        )
                        stored.append(attachment.id)
            async with ctx.transaction() as session:
                post = await posts.create_post(
                    session,
                    ctx,
                    ctx.clock.now(),
                    user,
                    body=values.body,
                    title=values.title,
                    communities=values.communities,
                    on_profile=values.on_profile,
                    poll_options=poll_options or None,
                    attachment_ids=stored,
                )
                post_id = post.id
        except CercleError as exc:
            return await _compose_page(request, user, values, form_error(request, exc), exc.status)
    return redirect(f"/posts/{post_id}")


async def preview(request: Request) -> Response:
    await require_user(request)
    form = await request.form()
    body = text(form, "body", max_length=100_000)
    return render(request, "_preview.html", {"html": render_markdown(body), "empty": not body.strip()})


def _depth_order(root: Post, views: list[PostView]) -> list[tuple[PostView, int]]:
    """Comments in thread order: each followed by its replies, with its depth (indent) under the root."""
    children: dict[int, list[PostView]] = {}
    for view in views:
        children.setdefault(view.post.parent_id or root.id, []).append(view)
    ordered: list[tuple[PostView, int]] = []

    def walk(parent_id: int, depth: int) -> None:
        for child in children.get(parent_id, []):
            ordered.append((child, min(depth, MAX_DEPTH)))
            walk(child.post.id, depth + 1)

    walk(root.id, 0)
    return ordered


async def _thread_page(
    request: Request,
    user: User,
    post_id: int,
    error: FormError | None = None,
    typed: str = "",
    status: int = 200,
) -> Response:
    ctx = ctx_of(request)
    async with ctx.sessions() as session:
        root, comments = await posts.thread(session, user, post_id)
        views = await feeds.hydrate(session, user, [root.id, *[c.id for c in comments]], charter=ctx.charter)
        shared = [c for c, _ in views[0].communities]
        mine = await community_store.memberships_of(session, user.actor_id or 0, [c.id for c in shared])
    moderated = [
        c.slug
        for c in shared
        if c.id in mine
        and allowed(Action.MODERATE, c.visibility, standing(mine[c.id].role, mine[c.id].state))
    ]
    return render(
        request,
        "thread.html",
        {
            "root": views[0],
            "comments": _depth_order(root, views[1:]),
            "error": error,
            "typed": typed,
            "reply_to": int(request.query_params.get("reply", "0") or 0),
            "moderate_in": moderated[0] if moderated else None,
        },
        status_code=status,
    )


async def thread(request: Request) -> Response:
    user = await require_user(request)
    return await _thread_page(request, user, int(request.path_params["post_id"]))


async def comment(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    parent_id = int(request.path_params["post_id"])
    form = await request.form()
    body = text(form, "body", max_length=100_000)
    try:
        async with ctx.transaction() as session:
            created = await posts.create_comment(
                session, ctx, ctx.clock.now(), user, parent_id=parent_id, body=body
            )
            root_id, created_id = created.root_id or created.id, created.id
    except CercleError as exc:
        return await _thread_page(request, user, parent_id, form_error(request, exc), body, exc.status)
    return redirect(f"/posts/{root_id}#post-{created_id}")


async def react(request: Request) -> Response:
    """Toggle one reaction; htmx swaps the reaction bar, a plain form goes back to the page."""
    ctx, user = ctx_of(request), await require_user(request)
    post_id = int(request.path_params["post_id"])
    form = await request.form()
    kind = text(form, "kind", max_length=50)
    async with ctx.transaction() as session:
        if not await posts.react(session, ctx, ctx.clock.now(), user, post_id, kind, on=True):
            await posts.react(session, ctx, ctx.clock.now(), user, post_id, kind, on=False)
        (view,) = await feeds.hydrate(session, user, [post_id], charter=ctx.charter)
    if is_htmx(request):
        return render(request, "_reactions.html", {"view": view, "next_url": safe_next(text(form, "next"))})
    return back(form, f"/posts/{post_id}")


async def vote(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    post_id = int(request.path_params["post_id"])
    form = await request.form()
    option = text(form, "option")
    if not option.isdigit():
        raise ValidationFailed("choose an option", field="option")
    async with ctx.transaction() as session:
        await remote_votes.vote(session, ctx, ctx.clock.now(), user, post_id, int(option))
    return back(form, f"/posts/{post_id}")


async def edit(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    post_id = int(request.path_params["post_id"])
    error: FormError | None = None
    status = 200
    async with ctx.sessions() as session:
        post = await posts.readable_post(session, user, post_id)
        values = {"title": post.title, "body": post.source}
        is_comment, root_id = post.root_id is not None, post.root_id or post.id
    if request.method == "POST":
        form = await request.form()
        values = {
            "title": text(form, "title", max_length=1000),
            "body": text(form, "body", max_length=100_000),
        }
        try:
            async with ctx.transaction() as session:
                await posts.edit_post(
                    session,
                    ctx,
                    ctx.clock.now(),
                    user,
                    post_id,
                    body=values["body"],
                    title=None if is_comment else values["title"],
                )
        except CercleError as exc:
            error, status = form_error(request, exc), exc.status
        else:
            return redirect(f"/posts/{root_id}#post-{post_id}")
    return render(
        request,
        "edit.html",
        {"post_id": post_id, "values": values, "error": error, "is_comment": is_comment},
        status_code=status,
    )


async def history(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    post_id = int(request.path_params["post_id"])
    async with ctx.sessions() as session:
        post = await posts.readable_post(session, user, post_id)
        revisions = await posts.revisions(session, user, post_id)
    return render(request, "history.html", {"post": post, "revisions": list(reversed(revisions))})


async def delete(request: Request) -> Response:
    ctx, user = ctx_of(request), await require_user(request)
    post_id = int(request.path_params["post_id"])
    async with ctx.transaction() as session:
        post = await posts.delete_post(session, ctx, ctx.clock.now(), user, post_id)
        root_id = post.root_id
    return redirect(f"/posts/{root_id}" if root_id else "/")


routes = [
    Route("/compose", compose, methods=["GET", "POST"]),
    Route("/compose/preview", preview, methods=["POST"]),
    Route("/posts/{post_id:int}", thread),
    Route("/posts/{post_id:int}/comments", comment, methods=["POST"]),
    Route("/posts/{post_id:int}/react", react, methods=["POST"]),
    Route("/posts/{post_id:int}/vote", vote, methods=["POST"]),
    Route("/posts/{post_id:int}/edit", edit, methods=["GET", "POST"]),
    Route("/posts/{post_id:int}/history", history),
    Route("/posts/{post_id:int}/delete", delete, methods=["POST"]),
]
