"""Inbound activities about communities and posts (FEP-1b12), after the inbox has verified them.

Each handler reads what it needs, then returns an `Outcome` whose `apply` writes in the same
transaction that marks the activity processed, so a redelivered or replayed activity changes
nothing twice. Deliveries it causes (an `Accept`, a group's `Announce`) are enqueued in that
same transaction.

Trust. The inbox has checked that the signer is the activity's `actor` and that ids share its
origin. Here: a post into a community hosted here must come from an accepted member allowed to
post (or comment); content for a community hosted elsewhere is taken only when that community's
Group announced it (`via`); a deletion or an edit only from the author, or announced by the
Group (moderation). Content whose addressing does not match the community (a closed or secret
community's post addressed to `as:Public`) is dropped. The receiving charter's `ingress` rules
apply to all content: reject, hold for a moderator, or label.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub.vocabulary import AS_PUBLIC, id_of, ids_of, same_origin
from server.federation.outcome import Outcome
from server.policy import ContentFacts, IngressFacts, evaluate_ingress
from server.services import charter as charter_service
from server.services import communities as community_service
from server.services import indexing, notifications, outbox
from server.services.permissions import Action, allowed, standing
from server.services.rendering import extract_hashtags
from server.storage import communities as community_store
from server.storage import federation as federation_store
from server.storage import federation_graph as graph
from server.storage import moderation as moderation_store
from server.storage import posts as post_store
from server.storage.social import Actor, Community, Membership, Post, Reaction

if TYPE_CHECKING:
    from server.federation.state import Federation

REACTION_OF_EMOJI = {"👍": "like", "🎉": "celebrate", "💪": "support", "💡": "insightful", "🤔": "curious"}


def _now(fed: Federation) -> datetime:
    return fed.ctx.clock.now()


async def stored_actor(fed: Federation, uri: str) -> Actor | None:
    """Our copy of an actor, local or remote, if we have one."""
    async with fed.ctx.sessions() as session:
        return await federation_store.get_actor_by_uri(session, uri)


async def known_actor(fed: Federation, uri: str) -> Actor | None:
    """An actor from our copy, else fetched from its origin and stored; None if it cannot be had."""
    found = await stored_actor(fed, uri)
    if found is None and not isinstance(await fed.actors.refresh_actor(uri), str):
        found = await stored_actor(fed, uri)
    return found


# --- membership ------------------------------------------------------------------------------------------


async def handle_follow(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    """Someone on another instance asks to join a community hosted here (or to follow a person)."""
    person_uri, target, follow_id = (
        id_of(activity.get("actor")),
        id_of(activity.get("object")),
        id_of(activity),
    )
    if person_uri is None or target is None or follow_id is None:
        return Outcome("refused: Follow without actor, object or id")
    async with fed.ctx.sessions() as session:
        found = await graph.community_of_group(session, target)
    if found is None or not found[0].local:
        return Outcome("ignored: Follow of something not hosted here as a community")
    community, group = found
    person = await known_actor(fed, person_uri)
    if person is None or person.kind != "Person":
        return Outcome("refused: follower is not a person we can fetch")
    ctx = fed.ctx

    async def apply(session: AsyncSession) -> None:
        now = _now(fed)
        membership = await community_store.get_membership(session, community.id, person.id)
        decision = await charter_service.check_membership(
            session,
            now,
            ctx.charter,
            person_actor_id=person.id,
            person_jurisdiction=person.jurisdiction,
            community_uri=group.uri,
            community_kind=community.kind,
            community_tags=community.tags,
        )
        who = standing(membership.role, membership.state) if membership else None
        refused = decision.action == "deny" or not allowed(Action.JOIN, community.visibility, who)
        if membership is not None and membership.state == "active":
            membership.activity_uri = follow_id
            await community_service.answer_follow(session, ctx, now, community, membership, accept=True)
            return
        if refused:
            reply = Membership(
                community_id=community.id,
                actor_id=person.id,
                role="member",
                state="refused",
                activity_uri=follow_id,
                created_at=now,
                updated_at=now,
            )
            await community_service.answer_follow(session, ctx, now, community, reply, accept=False)
            return
        if membership is None:
            membership = await community_store.add_membership(
                session,
                Membership(
                    community_id=community.id,
                    actor_id=person.id,
                    role="member",
                    state="pending",
                    created_at=now,
                    updated_at=now,
                ),
            )
        membership.activity_uri, membership.updated_at = follow_id, now
        if community.visibility == "open" or membership.state == "invited":
            membership.state = "active"
            await community_service.answer_follow(session, ctx, now, community, membership, accept=True)
        else:
            membership.state = "pending"
            managers = await community_store.staff_actor_ids(session, community.id, ("owner", "manager"))
            await notifications.notify(
                session,
                now,
                kind="join_request",
                recipients=managers,
                by_actor_id=person.id,
                community_id=community.id,
            )

    return Outcome("follow of a community", apply)


async def _answer(fed: Federation, activity: dict[str, Any], accepted: bool) -> Outcome:
    group_uri, follow = id_of(activity.get("actor")), activity.get("object")
    follow_id = id_of(follow)
    if group_uri is None or follow_id is None:
        return Outcome("refused: answer without actor or object")

    async def apply(session: AsyncSession) -> None:
        membership = await graph.membership_by_activity(session, follow_id)
        if membership is None:
            return
        found = await graph.community_of_group(session, group_uri)
        if found is None or found[0].id != membership.community_id:
            return
        now = _now(fed)
        user_recipients = [membership.actor_id]
        if accepted:
            membership.state, membership.updated_at = "active", now
        else:
            await community_store.remove_membership(session, membership)
        await notifications.notify(
            session,
            now,
            kind="join_decision",
            recipients=user_recipients,
            by_actor_id=found[1].id,
            community_id=found[0].id,
            detail="approved" if accepted else "denied",
        )

    return Outcome("accept of a follow" if accepted else "reject of a follow", apply)


async def handle_accept(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    return await _answer(fed, activity, True)


async def handle_reject(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    return await _answer(fed, activity, False)


async def handle_undo(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    inner = activity.get("object")
    actor_uri = id_of(activity.get("actor"))
    inner_type = inner.get("type") if isinstance(inner, dict) else None
    inner_id = id_of(inner)
    if actor_uri is None or inner_id is None:
        return Outcome("refused: Undo without actor or object")
    if isinstance(inner, dict) and inner_type in ("Like", "EmojiReact"):
        return await _reaction(fed, inner, actor_uri, on=False, via=via)

    async def apply(session: AsyncSession) -> None:
        membership = await graph.membership_by_activity(session, inner_id)
        actor = await federation_store.get_actor_by_uri(session, actor_uri)
        if membership is not None and actor is not None and membership.actor_id == actor.id:
            await community_store.remove_membership(session, membership)

    return Outcome("undo of a follow", apply)


# --- content ---------------------------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _published(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if when.tzinfo is not None:
                return min(when, fallback)
        except ValueError:
            pass
    return fallback


async def handle_create(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None, *, quiet: bool = False
) -> Outcome:
    """`quiet` (backfill of a community's history): stored without notifying anyone or announcing it."""
    note = activity.get("object")
    author_uri = id_of(activity.get("actor"))
    if not isinstance(note, dict) or note.get("type") not in ("Note", "Question", "Article", "Page"):
        return Outcome("ignored: Create of something that is not a post")
    note_id = id_of(note)
    if author_uri is None or note_id is None or id_of(note.get("attributedTo")) not in (None, author_uri):
        return Outcome("refused: Create whose object is not attributed to its actor")
    audience = [id_of(note.get("audience")), *ids_of(note.get("to")), *ids_of(note.get("cc"))]
    async with fed.ctx.sessions() as session:
        if await post_store.get_post_by_uri(session, note_id) is not None:
            return Outcome("ignored: post already known")
        parent = await post_store.get_post_by_uri(session, id_of(note.get("inReplyTo")) or "")
        places = [
            found
            for g in dict.fromkeys(a for a in audience if a)
            if (found := await graph.community_of_group(session, g)) is not None
        ]
        profile_thread = False
        if parent is not None:
            root = parent if parent.root_id is None else await post_store.get_post(session, parent.root_id)
            assert root is not None
            places = await graph.communities_of_post(session, root.id)
            profile_thread = not places and root.on_profile
    if note.get("inReplyTo") and parent is None:
        return Outcome("refused: a reply to a post we do not have")
    if not places and not profile_thread:
        return Outcome("ignored: not for a community known here")
    if parent is not None and profile_thread and not await profile_thread_accepts(fed, parent, author_uri):
        return Outcome("refused: a comment on a profile post written elsewhere comes from its own instance")
    author = await known_actor(fed, author_uri)
    if author is None:
        return Outcome("refused: author unknown")
    public = AS_PUBLIC in audience
    kind = "comment" if parent is not None else "post"
    accepted: list[tuple[Community, Actor]] = []
    async with fed.ctx.sessions() as session:
        for community, group in places:
            if public and community.visibility != "open":
                continue  # a private community's content addressed to the world: dropped
            if community.local:
                membership = await community_store.get_membership(session, community.id, author.id)
                who = standing(membership.role, membership.state) if membership else None
                if allowed(Action.COMMENT if parent else Action.POST, community.visibility, who):
                    accepted.append((community, group))
            elif via == group.uri:
                accepted.append((community, group))
    if not accepted and not profile_thread:
        return Outcome("refused: the author may not post there, or it was not announced by the community")
    text = _text(note.get("name"), 300) + "\n" + _text((note.get("source") or {}).get("content"), 50_000)
    decision = evaluate_ingress(
        fed.ctx.charter,
        IngressFacts(
            content=ContentFacts(text=text + _text(note.get("content"), 100_000), kind=kind),
            origin_jurisdiction=author.jurisdiction,
            origin_regions=fed.ctx.charter.regions_of(author.jurisdiction),
        ),
    )
    ctx = fed.ctx

    async def apply(session: AsyncSession) -> None:
        now = _now(fed)
        if decision.article_id is not None or decision.action != "allow":
            await charter_service.record_decision(
                session,
                now,
                ctx.charter,
                decision,
                subject_kind=kind,
                subject=note_id,
                actor_id=author.id,
                peer_domain=author.domain,
            )
        if decision.action in ("reject", "deny"):
            return
        source = (note.get("source") or {}) if isinstance(note.get("source"), dict) else {}
        options = note.get("oneOf") if isinstance(note.get("oneOf"), list) else None
        post = await post_store.add_post(
            session,
            Post(
                uri=note_id,
                author_id=author.id,
                kind="comment" if parent else ("poll" if options else "post"),
                parent_id=parent.id if parent else None,
                root_id=(parent.root_id or parent.id) if parent else None,
                on_profile=False,
                title=_text(note.get("name"), 300),
                source=_text(source.get("content"), 50_000),
                content_html=_text(note.get("content"), 100_000),
                poll_options=[_text(o.get("name"), 200) for o in options if isinstance(o, dict)][:10]
                if options
                else None,
                local=False,
                held=decision.action == "hold",
                comment_count=0,
                reaction_count=0,
                created_at=_published(note.get("published"), now),
            ),
            community_ids=[] if parent else [c.id for c, _ in accepted],
            tags=extract_hashtags(_text(source.get("content"), 50_000)),
            mentioned_actor_ids=[],
        )
        await indexing.index_post(session, post)
        if parent is not None:
            await post_store.bump_counter(session, post.root_id or parent.id, "comment_count", 1)
        if parent is not None and not quiet:
            await notifications.notify(
                session,
                now,
                kind="reply",
                recipients=[parent.author_id],
                by_actor_id=author.id,
                post_id=post.id,
            )
        if post.held or quiet:
            return
        for community, _group in accepted:
            if community.local:
                await outbox.announce(
                    session, ctx, now, community, activity, post=post, kind=kind, author_user=None, text=text
                )

    return Outcome(f"{kind} stored", apply)


async def _relay(
    session: AsyncSession,
    fed: Federation,
    places: list[tuple[Community, Actor]],
    activity: dict[str, Any],
    post: Post,
) -> None:
    """A change to a post in communities hosted here: their Groups announce it to the member instances."""
    for community, _ in places:
        if community.local:
            await outbox.announce(
                session,
                fed.ctx,
                _now(fed),
                community,
                activity,
                post=post,
                kind="post",
                author_user=None,
                text="",
            )


async def profile_thread_accepts(fed: Federation, post: Post, actor_uri: str) -> bool:
    """Whether a comment or reaction from `actor_uri` in the thread of `post` is taken, when the thread
    is under a person's profile post (no community). Profile posts are public: their own instance
    takes comments and reactions from anyone; a copy elsewhere only from that instance, which speaks
    for the thread (its followers' instances get them from it)."""
    async with fed.ctx.sessions() as session:
        root = post if post.root_id is None else await post_store.get_post(session, post.root_id)
        if root is None or not root.on_profile or root.deleted_at is not None:
            return False
        if root.local:
            return True
        owner = await session.get(Actor, root.author_id)
    return owner is not None and same_origin(actor_uri, owner.uri)


async def _post_and_places(
    fed: Federation, post_uri: str
) -> tuple[Post | None, list[tuple[Community, Actor]]]:
    async with fed.ctx.sessions() as session:
        post = await post_store.get_post_by_uri(session, post_uri)
        if post is None:
            return None, []
        root_id = post.root_id or post.id
        return post, await graph.communities_of_post(session, root_id)


async def _may_change(
    fed: Federation, post: Post, actor_uri: str, via: str | None, places: list[tuple[Community, Actor]]
) -> bool:
    """The author may change a post; so may a moderator here, or the Group hosting it (announced)."""
    async with fed.ctx.sessions() as session:
        author = await session.get(Actor, post.author_id)
        actor = await federation_store.get_actor_by_uri(session, actor_uri)
        if author is not None and author.uri == actor_uri:
            return True
        hosts = [community for community, group in places if group.uri == via and not community.local]
        if hosts:  # announced by the Group: its own people, or a moderator it named with Add
            return same_origin(actor_uri, via or "") or (
                actor is not None
                and await moderation_store.is_group_moderator(session, hosts[0].id, actor.id)
            )
        for community, _ in places:
            if community.local and actor is not None:
                membership = await community_store.get_membership(session, community.id, actor.id)
                if membership and allowed(
                    Action.MODERATE, community.visibility, standing(membership.role, membership.state)
                ):
                    return True
    return False


async def note_delete(fed: Federation, activity: dict[str, Any], via: str | None) -> Outcome:
    actor_uri, target = id_of(activity.get("actor")), id_of(activity.get("object"))
    if actor_uri is None or target is None:
        return Outcome("refused: Delete without actor or object")
    post, places = await _post_and_places(fed, target)
    if post is None or post.deleted_at is not None:
        return Outcome("ignored: post unknown or already deleted")
    if post.local or not await _may_change(fed, post, actor_uri, via, places):
        return Outcome("refused: only the author or the community's moderators delete a post")

    async def apply(session: AsyncSession) -> None:
        row = await session.get(Post, post.id)
        if row is None or row.deleted_at is not None:
            return
        row.deleted_at, row.source, row.title, row.content_html, row.poll_options = (
            _now(fed),
            "",
            "",
            "",
            None,
        )
        await indexing.index_post(session, row)
        if row.root_id is not None:
            await post_store.bump_counter(session, row.root_id, "comment_count", -1)
        await _relay(session, fed, places, activity, row)

    return Outcome("post deleted", apply)


async def note_update(fed: Federation, activity: dict[str, Any], via: str | None) -> Outcome:
    note = activity.get("object")
    actor_uri = id_of(activity.get("actor"))
    if not isinstance(note, dict) or actor_uri is None:
        return Outcome("refused: Update without an object")
    post, places = await _post_and_places(fed, id_of(note) or "")
    if post is None or post.deleted_at is not None:
        return Outcome("ignored: post unknown or deleted")
    if post.local or not await _may_change(fed, post, actor_uri, via, places):
        return Outcome("refused: only the author edits a post")

    async def apply(session: AsyncSession) -> None:
        row = await session.get(Post, post.id)
        if row is None:
            return
        source = note.get("source") if isinstance(note.get("source"), dict) else {}
        row.title = _text(note.get("name"), 300)
        row.content_html = _text(note.get("content"), 100_000)
        row.source = _text((source or {}).get("content"), 50_000)
        row.edited_at = _now(fed)
        await indexing.index_post(session, row)
        await _relay(session, fed, places, activity, row)

    return Outcome("post updated", apply)


async def _reaction(
    fed: Federation, like: dict[str, Any], actor_uri: str, *, on: bool, via: str | None
) -> Outcome:
    target = id_of(like.get("object"))
    post, places = await _post_and_places(fed, target or "")
    if post is None or post.deleted_at is not None:
        return Outcome("ignored: reaction to an unknown post")
    actor = await known_actor(fed, actor_uri)
    if actor is None:
        return Outcome("refused: reacting actor unknown")
    kind = (
        "like"
        if like.get("type") == "Like"
        else REACTION_OF_EMOJI.get(_text(like.get("content"), 10), "like")
    )
    local_places = [c for c, _ in places if c.local]
    if not places:
        if not await profile_thread_accepts(fed, post, actor_uri):
            return Outcome("refused: reaction outside a community or a profile post's thread")
    elif not local_places and not any(g.uri == via for _, g in places):
        return Outcome("refused: reaction not announced by the community")
    ctx = fed.ctx
    wrapper = {
        "id": f"{actor_uri}#undo-{uuid.uuid4().hex}",
        "type": "Undo",
        "actor": actor_uri,
        "object": like,
    }

    async def apply(session: AsyncSession) -> None:
        now = _now(fed)
        for community in local_places:
            membership = await community_store.get_membership(session, community.id, actor.id)
            who = standing(membership.role, membership.state) if membership else None
            if not allowed(Action.REACT, community.visibility, who):
                return
        existing = await post_store.get_reaction(session, post.id, actor.id, kind)
        if on and existing is None:
            await post_store.add_reaction(
                session,
                Reaction(post_id=post.id, actor_id=actor.id, kind=kind, uri=id_of(like), created_at=now),
            )
            await post_store.bump_counter(session, post.id, "reaction_count", 1)
        elif not on and existing is not None:
            await post_store.remove_reaction(session, existing)
            await post_store.bump_counter(session, post.id, "reaction_count", -1)
        else:
            return
        for community in local_places:
            await outbox.announce(
                session,
                ctx,
                now,
                community,
                like if on else wrapper,
                post=post,
                kind="reaction",
                author_user=None,
                text="",
            )

    return Outcome("reaction", apply)


async def handle_like(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    actor_uri = id_of(activity.get("actor"))
    if actor_uri is None:
        return Outcome("refused: Like without actor")
    return await _reaction(fed, activity, actor_uri, on=True, via=via)
