"""Outbound federation (FEP-1b12): what local actions send to peer instances.

Every function here runs inside the transaction that writes the content, and only enqueues
deliveries (`server.storage.delivery.enqueue`): the worker sends them later, so a post and
the record of its deliveries are committed together or not at all.

Routing. A post lives in communities. For a community hosted here, its Group actor
`Announce`s the activity, unchanged, to every instance where it has an accepted member
(one delivery per shared inbox). For a community hosted elsewhere (a local mirror with
`local = False`), the author's own actor sends the activity to that Group's inbox, and
the Group announces it to its followers. Content of closed and secret communities is
never addressed to `as:Public`.

The sender's charter decides, per destination jurisdiction, what may leave (`egress`):
allowed, denied, sent as a reference only (the receiving instance fetches it with a signed
request and a live access check), or held until the author gives a separate cross-border
consent (rows in state `awaiting_consent`, released by `consent_given`).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub.polls import with_tallies
from server.activitypub.redaction import media_metadata_of, without_media_metadata
from server.activitypub.vocabulary import AS_CONTEXT, AS_PUBLIC, id_of
from server.context import Context
from server.policy import ContentFacts, EgressFacts, evaluate_egress
from server.services import charter as charter_service
from server.storage import delivery as delivery_store
from server.storage import federation_graph as graph
from server.storage import posts as post_store
from server.storage import reach as reach_store
from server.storage.delivery_models import Delivery
from server.storage.models import User
from server.storage.social import Actor, Attachment, Community, Post

SENDABLE = ("allow", "label", "redact")


@dataclass(frozen=True)
class Route:
    destination: str
    peer_domain: str


@dataclass(frozen=True)
class Verdict:
    """What the charter lets leave for one destination: send | redact | reference | consent | deny."""

    action: str
    article: str | None
    redacted: tuple[str, ...] = ()


def activity_id(actor_uri: str, kind: str) -> str:
    return f"{actor_uri}/activities/{kind.lower()}-{uuid.uuid4().hex}"


def note_document(
    post: Post,
    author: Actor,
    communities: Sequence[tuple[Community, Actor]],
    *,
    in_reply_to: str | None,
    context: str | None,
    attachments: Sequence[Attachment] = (),
    base_url: str,
) -> dict[str, Any]:
    """The ActivityStreams object of a post or comment."""
    groups = [group.uri for _, group in communities]
    public = all(c.visibility == "open" for c, _ in communities) or (not communities and post.on_profile)
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": post.uri,
        "type": "Question" if post.kind == "poll" else "Note",
        "attributedTo": author.uri,
        "content": post.content_html,
        "mediaType": "text/html",
        "source": {"content": post.source, "mediaType": "text/markdown"},
        "published": post.created_at.isoformat(),
        "to": groups or [f"{author.uri}/followers"],
        "cc": [AS_PUBLIC] if public else [],
        "url": post.uri,
    }
    if groups:
        document["audience"] = groups[0]
    if post.title:
        document["name"] = post.title
    if post.edited_at:
        document["updated"] = post.edited_at.isoformat()
    if in_reply_to:
        document["inReplyTo"] = in_reply_to
    if context:
        document["context"] = context
    if post.kind == "poll" and post.poll_options:
        document["oneOf"] = [{"type": "Note", "name": option} for option in post.poll_options]
    if attachments:
        document["attachment"] = [
            {
                "type": "Document",
                "mediaType": a.media_type,
                "name": a.description or a.filename,
                "url": a.remote_url or f"{base_url}/media/{a.id}/{a.filename}",
            }
            for a in attachments
        ]
    return document


def referenced_id(activity: dict[str, Any]) -> Any:
    """What a reference-only delivery names: the post itself for a Create or Update of one (the receiver
    fetches it from its origin, with a live access check), else the activity."""
    shortened = by_reference(activity)
    return shortened["object"] if shortened is not None else activity.get("id")


def by_reference(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The activity with its post replaced by the post's id, for a reference-only destination."""
    obj = activity.get("object")
    if activity.get("type") in ("Create", "Update") and isinstance(obj, dict) and id_of(obj):
        return {**activity, "object": id_of(obj)}
    return None


def wrap(
    kind: str, actor_uri: str, obj: Any, *, to: list[str], cc: list[str], audience: str | None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": activity_id(actor_uri, kind),
        "type": kind,
        "actor": actor_uri,
        "object": obj,
        "to": to,
        "cc": cc,
    }
    if audience:
        document["audience"] = audience
    return document


async def _consents(session: AsyncSession, author_user: User | None) -> frozenset[str]:
    return await charter_service.consented_jurisdictions(session, author_user) if author_user else frozenset()


async def egress_verdict(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    *,
    peer_domain: str,
    kind: str,
    author_user: User | None,
    text: str,
    subject: str,
    actor_id: int | None,
    media: frozenset[str] = frozenset(),
    consents: frozenset[str] | None = None,
) -> Verdict:
    """The sender's charter on one destination, recorded when an article decides: for a delivery, or for
    content a peer fetches in a collection (a Group's outbox, a thread's `context`), the same decision.
    `media` names the media metadata the payload carries, `consents` the author's cross-border consents
    when the caller already has them."""
    peer = ctx.settings.peer(peer_domain)
    jurisdiction = peer.jurisdiction if peer else None
    if consents is None:
        consents = await _consents(session, author_user)
    decision = evaluate_egress(
        ctx.charter,
        EgressFacts(
            destination_jurisdiction=jurisdiction,
            content_kind=kind,
            destination_regions=ctx.charter.regions_of(jurisdiction),
            consented_jurisdictions=consents,
            media_metadata=media,
            content=ContentFacts(text=text, kind=kind, author_jurisdiction=ctx.charter.jurisdiction),
        ),
    )
    if decision.article_id is not None or decision.action not in SENDABLE:
        await charter_service.record_decision(
            session,
            now,
            ctx.charter,
            decision,
            subject_kind=kind,
            subject=subject,
            actor_id=actor_id,
            peer_domain=peer_domain,
        )
    if decision.action == "redact":
        return Verdict("redact", decision.article_id, decision.redacted_fields)
    if decision.action in SENDABLE:
        return Verdict("send", decision.article_id)
    if decision.action == "reference_only":
        return Verdict("reference", decision.article_id)
    if decision.action == "require_consent":
        # Consent protects a local person's data; an activity that carries none (a Group's Accept,
        # the announce of a post written elsewhere) has no one to ask and goes.
        return Verdict("consent" if author_user is not None else "send", decision.article_id)
    return Verdict("deny", decision.article_id)


def _body(verdict: Verdict, payload: dict[str, Any], reference: dict[str, Any] | None) -> dict[str, Any]:
    if verdict.action == "reference" and reference is not None:
        return reference
    if verdict.action == "redact":
        return without_media_metadata(payload, verdict.redacted)
    return payload


async def _enqueue(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    *,
    routes: Sequence[Route],
    payload: dict[str, Any],
    reference: dict[str, Any] | None,
    signer: Actor,
    post: Post | None,
    kind: str,
    author_user: User | None,
    text: str,
) -> int:
    rows: list[Delivery] = []
    held: list[Delivery] = []
    media = media_metadata_of(payload)
    consents = await _consents(session, author_user)  # once for all destinations
    for route in {r.destination: r for r in routes}.values():
        verdict = await egress_verdict(
            session,
            ctx,
            now,
            peer_domain=route.peer_domain,
            kind=kind,
            author_user=author_user,
            text=text,
            subject=post.uri if post else payload["id"],
            actor_id=signer.id,
            media=media,
            consents=consents,
        )
        if verdict.action == "deny":
            continue
        body = _body(verdict, payload, reference)
        row = Delivery(
            destination=route.destination,
            peer_domain=route.peer_domain,
            activity_uri=str(body["id"]),
            payload=body,
            signer_actor_id=signer.id,
            post_id=post.id if post else None,
            article=verdict.article,
            state="awaiting_consent" if verdict.action == "consent" else "pending",
            attempts=0,
            created_at=now,
        )
        (held if verdict.action == "consent" else rows).append(row)
    await delivery_store.enqueue(session, now, rows)
    session.add_all(held)
    return len(rows)


async def member_routes(
    session: AsyncSession, community: Community, *, exclude_domain: str | None = None
) -> list[Route]:
    """One route per instance with an accepted member of this (local) community."""
    inboxes = await graph.remote_member_inboxes(session, community.id)
    return [Route(inbox, domain) for inbox, domain in inboxes if domain != exclude_domain]


async def announce(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    community: Community,
    inner: dict[str, Any],
    *,
    post: Post | None,
    kind: str,
    author_user: User | None,
    text: str,
) -> int:
    """The community's Group announces `inner` to every member instance."""
    group = await session.get(Actor, community.actor_id)
    assert group is not None
    routes = await member_routes(session, community)
    if not routes:
        return 0
    public = community.visibility == "open"
    to, cc = [f"{group.uri}/followers"], [AS_PUBLIC] if public else []
    payload = wrap("Announce", group.uri, inner, to=to, cc=cc, audience=group.uri)
    reference = wrap("Announce", group.uri, referenced_id(inner), to=to, cc=cc, audience=group.uri)
    return await _enqueue(
        session,
        ctx,
        now,
        routes=routes,
        payload=payload,
        reference=reference,
        signer=group,
        post=post,
        kind=kind,
        author_user=author_user,
        text=text,
    )


async def from_group(
    session: AsyncSession, ctx: Context, now: datetime, community: Community, activity: dict[str, Any]
) -> int:
    """A local community's Group sends one of its own activities (Add, Remove) to every member instance."""
    group = await session.get(Actor, community.actor_id)
    assert group is not None
    routes = await member_routes(session, community)
    return await _enqueue(
        session,
        ctx,
        now,
        routes=routes,
        payload=activity,
        reference=None,
        signer=group,
        post=None,
        kind="membership",
        author_user=None,
        text="",
    )


async def send_to_group(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    group: Actor,
    activity: dict[str, Any],
    *,
    signer: Actor,
    post: Post | None,
    kind: str,
    author_user: User | None,
    text: str,
) -> int:
    """A local person's activity for a community hosted elsewhere goes to that Group's inbox."""
    if not group.inbox_url:
        return 0
    route = Route(group.inbox_url, group.domain)
    return await _enqueue(
        session,
        ctx,
        now,
        routes=[route],
        payload=activity,
        reference=by_reference(activity),
        signer=signer,
        post=post,
        kind=kind,
        author_user=author_user,
        text=text,
    )


async def send_to_actor(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    target: Actor,
    activity: dict[str, Any],
    *,
    signer: Actor,
    person: User | None = None,
) -> int:
    """A direct activity (Accept, Reject, Follow, Undo) to one remote actor's inbox; `person` is the
    local person whose data it carries (their cross-border consents count)."""
    if not target.inbox_url or target.local:
        return 0
    return await _enqueue(
        session,
        ctx,
        now,
        routes=[Route(target.inbox_url, target.domain)],
        payload=activity,
        reference=None,
        signer=signer,
        post=None,
        kind="membership",
        author_user=person,
        text="",
    )


async def send_to_followers(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    author: Actor,
    activity: dict[str, Any],
    *,
    post: Post,
    author_user: User | None,
    signer: Actor | None = None,
) -> int:
    """A local person's profile post (its creation, edit or deletion) goes to every instance where
    someone follows them (one delivery per shared inbox), as the sending charter allows; so do the
    comments and reactions of people here in its thread (`signer`: who wrote them)."""
    if not author.local:
        return 0
    inboxes = await reach_store.follower_inboxes(session, author.id)
    routes = [Route(inbox, domain) for inbox, domain in inboxes]
    return await _enqueue(
        session,
        ctx,
        now,
        routes=routes,
        payload=activity,
        reference={**activity, "object": post.uri} if activity.get("type") in ("Create", "Update") else None,
        signer=signer or author,
        post=post,
        kind="post",
        author_user=author_user,
        text=f"{post.title}\n{post.source}",
    )


async def consent_given(
    session: AsyncSession, ctx: Context, now: datetime, user: User, jurisdiction: str
) -> int:
    """The author's deliveries that waited for this cross-border consent leave now."""
    if user.actor_id is None:
        return 0
    wanted = jurisdiction.upper()
    domains = [
        peer.domain
        for peer in ctx.settings.peers
        if peer.jurisdiction == wanted or wanted in ctx.charter.regions_of(peer.jurisdiction)
    ]
    return await delivery_store.release_awaiting_consent(session, now, user.actor_id, domains)


async def _thread(
    session: AsyncSession, post: Post
) -> tuple[Post, list[tuple[Community, Actor]], str | None]:
    root = post if post.root_id is None else await session.get(Post, post.root_id)
    assert root is not None
    parent = await session.get(Post, post.parent_id) if post.parent_id else None
    return root, await graph.communities_of_post(session, root.id), parent.uri if parent else None


def thread_context_url(root: Post) -> str | None:
    """The FEP-7888 `context` of a thread: a collection of its posts, served where its root was written."""
    return f"{root.uri}/context" if root.local else None


async def post_document(session: AsyncSession, ctx: Context, post: Post) -> dict[str, Any]:
    """The Note (or Question) of a post as peers see it: also what the object URL serves."""
    author = await session.get(Actor, post.author_id)
    assert author is not None
    root, communities, parent_uri = await _thread(session, post)
    files = await post_store.attachments_of(session, [post.id])
    document = note_document(
        post,
        author,
        communities,
        in_reply_to=parent_uri,
        context=thread_context_url(root),
        attachments=files.get(post.id, []),
        base_url=ctx.settings.base_url,
    )
    if post.kind == "poll" and post.local:
        with_tallies(document, (await post_store.poll_results(session, [post.id]))[post.id])
    return document


async def _route(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    post: Post,
    activity: dict[str, Any],
    *,
    sender: Actor,
    author_user: User | None,
) -> int:
    """Send `activity` about `post` where its thread lives: announced by local groups, to remote groups."""
    root, communities, _ = await _thread(session, post)
    kind = "comment" if post.root_id else "post"
    sent = 0
    if not communities and root.on_profile:
        sent += await _route_profile_thread(
            session, ctx, now, root, post, activity, sender=sender, author_user=author_user
        )
    for community, group in communities:
        if community.local:
            sent += await announce(
                session,
                ctx,
                now,
                community,
                activity,
                post=post,
                kind=kind,
                author_user=author_user,
                text=post.source,
            )
        elif sender.local:
            sent += await send_to_group(
                session,
                ctx,
                now,
                group,
                activity,
                signer=sender,
                post=post,
                kind=kind,
                author_user=author_user,
                text=post.source,
            )
    return sent


async def _route_profile_thread(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    root: Post,
    post: Post,
    activity: dict[str, Any],
    *,
    sender: Actor,
    author_user: User | None,
) -> int:
    """A thread under a person's profile post lives on their instance. There, the post, and what people
    of that instance write or react in its thread, go to the instances of the person's followers; from
    elsewhere, a comment or reaction goes to the person's inbox."""
    if not sender.local:
        return 0
    owner = sender if sender.id == root.author_id else await session.get(Actor, root.author_id)
    if owner is None:
        return 0
    if owner.local:
        return await send_to_followers(
            session, ctx, now, owner, activity, post=post, author_user=author_user, signer=sender
        )
    return await send_to_actor(session, ctx, now, owner, activity, signer=sender, person=author_user)


async def post_created(
    session: AsyncSession, ctx: Context, now: datetime, post: Post, author_user: User
) -> int:
    if post.held:
        return 0
    note = await post_document(session, ctx, post)
    author = await session.get(Actor, post.author_id)
    assert author is not None
    create = wrap("Create", author.uri, note, to=note["to"], cc=note["cc"], audience=note.get("audience"))
    create["id"] = f"{post.uri}/create"
    return await _route(session, ctx, now, post, create, sender=author, author_user=author_user)


async def post_updated(
    session: AsyncSession, ctx: Context, now: datetime, post: Post, author_user: User
) -> int:
    if post.held:
        return 0
    note = await post_document(session, ctx, post)
    author = await session.get(Actor, post.author_id)
    assert author is not None
    update = wrap("Update", author.uri, note, to=note["to"], cc=note["cc"], audience=note.get("audience"))
    return await _route(session, ctx, now, post, update, sender=author, author_user=author_user)


async def post_deleted(session: AsyncSession, ctx: Context, now: datetime, post: Post, by: User) -> int:
    deleter = await session.get(Actor, by.actor_id) if by.actor_id else None
    if deleter is None:
        return 0
    _, communities, _ = await _thread(session, post)
    to = [group.uri for _, group in communities]
    delete = wrap("Delete", deleter.uri, {"id": post.uri, "type": "Tombstone"}, to=to, cc=[], audience=None)
    return await _route(session, ctx, now, post, delete, sender=deleter, author_user=None)


async def reacted(
    session: AsyncSession, ctx: Context, now: datetime, post: Post, by: User, kind: str, on: bool
) -> int:
    actor = await session.get(Actor, by.actor_id) if by.actor_id else None
    if actor is None:
        return 0
    _, communities, _ = await _thread(session, post)
    to = [group.uri for _, group in communities]
    like = wrap("Like", actor.uri, post.uri, to=to, cc=[], audience=to[0] if to else None)
    like["id"] = f"{actor.uri}/likes/{post.id}-{kind}"
    if kind != "like":
        like["type"], like["content"] = "EmojiReact", kind
    activity = like if on else wrap("Undo", actor.uri, like, to=to, cc=[], audience=like.get("audience"))
    return await _route(session, ctx, now, post, activity, sender=actor, author_user=None)


def follow_activity(person: Actor, target: Actor, row_id: int, *, of_person: bool = False) -> dict[str, Any]:
    """`person`'s `Follow` of a Group (`row_id`: the membership) or, `of_person`, of a person elsewhere
    (`row_id`: the follow)."""
    follow = wrap("Follow", person.uri, target.uri, to=[target.uri], cc=[], audience=None)
    # Random part: a row id can come back after a leave or an unfollow (SQLite reuses it), and a peer that
    # saw the old Follow would drop a new one with the same id as a duplicate.
    serial = f"person-{row_id}" if of_person else str(row_id)
    follow["id"] = f"{person.uri}/follows/{target.domain}/{serial}-{secrets.token_hex(6)}"
    return follow


async def purged(session: AsyncSession, ctx: Context, now: datetime, post_ids: Sequence[int]) -> int:
    """Retention purged these posts here: every instance that received one is told to delete it."""
    sent = 0
    for post_id in post_ids:
        post = await session.get(Post, post_id)
        if post is None or not post.local:
            continue
        author = await session.get(Actor, post.author_id)
        if author is None:
            continue
        _, communities, _ = await _thread(session, post)
        to = [group.uri for _, group in communities]
        delete = wrap(
            "Delete", author.uri, {"id": post.uri, "type": "Tombstone"}, to=to, cc=[], audience=None
        )
        sent += await _route(session, ctx, now, post, delete, sender=author, author_user=None)
    return sent


async def person_deactivated(session: AsyncSession, now: datetime, user: User) -> int:
    """Tell the instances that hold this person's memberships that the account is gone (`Delete` of the
    Person): they drop the actor and its keys. The notice carries only the actor's id, so no charter
    egress rule applies to it."""
    person = await session.get(Actor, user.actor_id) if user.actor_id else None
    if person is None:
        return 0
    routes = [Route(inbox, domain) for inbox, domain in await graph.instances_that_know(session, person.id)]
    payload = wrap("Delete", person.uri, person.uri, to=[AS_PUBLIC], cc=[], audience=None)
    rows = [
        Delivery(
            destination=route.destination,
            peer_domain=route.peer_domain,
            activity_uri=str(payload["id"]),
            payload=payload,
            signer_actor_id=person.id,
            state="pending",
            attempts=0,
            created_at=now,
        )
        for route in routes
    ]
    await delivery_store.enqueue(session, now, rows)
    return len(rows)
