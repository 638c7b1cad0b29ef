"""Inbound activities that reach people across instances: follows of people, their profile posts,
votes, and the files attached to posts.

These handlers sit in front of the community handlers (`server.federation.handlers`): each takes
what is its own and hands the rest over unchanged.

- `Follow` of a local *person* is accepted at once (`Accept`); `Accept`/`Reject` of a `Follow` we
  sent to a person settle it; `Undo` of a `Follow` ends it (only from the follower).
- `Create` of a `Note` that is a vote (a `name`, an `inReplyTo` the `Question`, no content) for a
  poll written here is counted once per voter, only from a person who may react where the poll is
  (a member of one of its communities here, or for a profile poll a follower of its author), in an
  open poll and for an option it has; then the `Question` goes out again with the counts.
- `Create` of a profile post (no community, not a reply) is kept only from a person someone here
  follows, and passes the receiving charter's *ingress* rules like any post.
- `Update` of a `Question` written elsewhere (its host's counts) updates the counts shown here.
- `Invite` to a community hosted elsewhere: see `server.federation.invitations`.
- Every post stored from a peer has its attachments fetched from their origin first
  (`server.services.remote_media`); a file that cannot be had leaves a placeholder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub.polls import is_vote, option_index, tallies_of
from server.activitypub.vocabulary import AS_PUBLIC, id_of, ids_of
from server.federation import handlers
from server.federation.outcome import Outcome
from server.policy import ContentFacts, IngressFacts, evaluate_ingress
from server.services import charter as charter_service
from server.services import indexing, remote_follows, remote_media, remote_votes
from server.services.permissions import Action, allowed, standing
from server.services.rendering import extract_hashtags
from server.storage import communities as community_store
from server.storage import federation as federation_store
from server.storage import federation_graph as graph
from server.storage import follows as follow_store
from server.storage import posts as post_store
from server.storage import reach as store
from server.storage.social import Actor, Follow, Post

if TYPE_CHECKING:
    from server.federation.state import Federation

Handler = Callable[["Federation", dict[str, Any], int, str | None], Awaitable[Outcome]]


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


async def remote_actor(fed: Federation, uri: str) -> Actor | None:
    """A remote actor not deleted, from our copy or fetched from its origin (`handlers.known_actor`)."""
    found = await handlers.known_actor(fed, uri)
    return found if found is not None and not found.local and found.deleted_at is None else None


# --- follows of people -----------------------------------------------------------------------------------


def follows_of_people(then: Handler) -> Handler:
    """`Follow`: of a local person here, of anything else by `then`."""

    async def handle(
        fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
    ) -> Outcome:
        target = await handlers.stored_actor(fed, id_of(activity.get("object")) or "")
        if target is None or not target.local or target.kind != "Person":
            return await then(fed, activity, depth, via)
        return await _follow_person(fed, activity, target)

    return handle


async def _follow_person(fed: Federation, activity: dict[str, Any], target: Actor) -> Outcome:
    follower_uri, follow_id = id_of(activity.get("actor")), id_of(activity)
    if follower_uri is None or follow_id is None or target.deleted_at is not None:
        return Outcome("refused: Follow of a person without actor or id, or of a removed account")
    follower = await remote_actor(fed, follower_uri)
    if follower is None or follower.kind != "Person":
        return Outcome("refused: follower is not a person we can fetch")
    ctx = fed.ctx

    async def apply(session: AsyncSession) -> None:
        await remote_follows.accept_follower(session, ctx, ctx.clock.now(), follower, target, follow_id)

    return Outcome("follow of a person", apply)


def answers_to_people(then: Handler, *, accepted: bool) -> Handler:
    """`Accept`/`Reject` of a `Follow` we sent to a person here; any other by `then`."""

    async def handle(
        fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
    ) -> Outcome:
        async with fed.ctx.sessions() as session:
            follow = await store.follow_by_activity(session, id_of(activity.get("object")) or "")
            followed = await session.get(Actor, follow.followed_id) if follow is not None else None
        if follow is None or followed is None:
            return await then(fed, activity, depth, via)
        return _answer(activity, follow, followed, accepted)

    return handle


def _answer(activity: dict[str, Any], follow: Follow, followed: Actor, accepted: bool) -> Outcome:
    if followed.uri != id_of(activity.get("actor")):
        return Outcome("refused: only the followed person answers a Follow")
    follow_id = follow.id

    async def apply(session: AsyncSession) -> None:
        row = await session.get(Follow, follow_id)
        if row is not None:
            await remote_follows.answered(session, row, accepted=accepted)

    return Outcome("accept of a person follow" if accepted else "reject of a person follow", apply)


def undos_of_people(then: Handler) -> Handler:
    """`Undo` of a `Follow` of a person here; any other by `then`."""

    async def handle(
        fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
    ) -> Outcome:
        async with fed.ctx.sessions() as session:
            follow = await store.follow_by_activity(session, id_of(activity.get("object")) or "")
            follower = await session.get(Actor, follow.follower_id) if follow is not None else None
        if follow is None or follower is None:
            return await then(fed, activity, depth, via)
        return _undo(activity, follow, follower)

    return handle


def _undo(activity: dict[str, Any], follow: Follow, follower: Actor) -> Outcome:
    if follower.uri != id_of(activity.get("actor")):
        return Outcome("refused: only the follower undoes a Follow")
    follow_id = follow.id

    async def apply(session: AsyncSession) -> None:
        row = await session.get(Follow, follow_id)
        if row is not None:
            await follow_store.remove_follow(session, row)

    return Outcome("undo of a person follow", apply)


# --- posts: votes, profile posts, attachments ------------------------------------------------------------


def creates_with_reach(then: Handler) -> Handler:
    """`Create`: a vote or a profile post here, any other post by `then`; the files of a post it keeps
    are fetched from their origin."""

    async def handle(
        fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
    ) -> Outcome:
        note = activity.get("object")
        if not isinstance(note, dict):
            return await then(fed, activity, depth, via)
        if is_vote(note):
            return await _vote(fed, activity, note)
        profile = await _profile_post(fed, activity, note)
        outcome = profile if profile is not None else await then(fed, activity, depth, via)
        return await _with_attachments(fed, outcome, note, id_of(activity.get("actor")))

    return handle


async def _with_attachments(
    fed: Federation, outcome: Outcome, note: dict[str, Any], author_uri: str | None
) -> Outcome:
    """Fetch the note's files before its post is written; the post's writes then attach them."""
    write, note_id = outcome.apply, id_of(note)
    if write is None or note_id is None or author_uri is None or not remote_media.described(note):
        return outcome
    files = await remote_media.fetch(
        fed.ctx, note, origin=note_id, refusal=fed.fetcher.refusal, auth=await fed.instance_auth()
    )
    ctx = fed.ctx

    async def apply(session: AsyncSession) -> None:
        await write(session)
        post = await post_store.get_post_by_uri(session, note_id)
        owner = await federation_store.get_actor_by_uri(session, author_uri)
        if post is not None and owner is not None:
            await remote_media.attach(session, ctx, ctx.clock.now(), owner, post.id, files)

    return dataclasses.replace(outcome, apply=apply)


async def _may_vote(session: AsyncSession, poll: Post, voter: Actor) -> bool:
    places = await graph.communities_of_post(session, poll.id)
    for community, _ in places:
        if community.local:
            membership = await community_store.get_membership(session, community.id, voter.id)
            who = standing(membership.role, membership.state) if membership else None
            if allowed(Action.REACT, community.visibility, who):
                return True
    if not places and poll.on_profile:
        follow = await follow_store.get_follow(session, voter.id, poll.author_id)
        return follow is not None and follow.state == "accepted"
    return False


async def _vote(fed: Federation, activity: dict[str, Any], note: dict[str, Any]) -> Outcome:
    voter_uri = id_of(activity.get("actor"))
    async with fed.ctx.sessions() as session:
        poll = await post_store.get_post_by_uri(session, str(note["inReplyTo"]))
    if poll is None or poll.kind != "poll" or not poll.poll_options:
        return Outcome("ignored: a vote for no poll known here")
    if not poll.local:
        return Outcome("ignored: a vote for a poll hosted elsewhere")
    now = fed.ctx.clock.now()
    if poll.deleted_at is not None or (poll.poll_closes_at is not None and poll.poll_closes_at <= now):
        return Outcome("refused: the poll is closed or deleted")
    option = option_index(poll.poll_options, str(note["name"]))
    if option is None:
        return Outcome("refused: a vote for an option the poll does not have")
    voter = await remote_actor(fed, voter_uri or "")
    if voter is None or voter.kind != "Person":
        return Outcome("refused: voter unknown")
    async with fed.ctx.sessions() as session:
        if not await _may_vote(session, poll, voter):
            return Outcome("refused: the voter may not vote in this poll")
        if poll.id in await post_store.votes_by(session, voter.id, [poll.id]):
            return Outcome("refused: this person already voted in this poll")
    ctx, poll_id = fed.ctx, poll.id

    async def apply(session: AsyncSession) -> None:
        if poll_id in await post_store.votes_by(session, voter.id, [poll_id]):
            return
        await post_store.set_vote(session, poll_id, voter.id, option, now)
        row = await session.get(Post, poll_id)
        assert row is not None
        await remote_votes.send_tallies(session, ctx, now, row)

    return Outcome("vote counted", apply)


def _addressed_to_followers(note: dict[str, Any], author: Actor) -> bool:
    audience = [*ids_of(note.get("to")), *ids_of(note.get("cc"))]
    return AS_PUBLIC in audience or (author.followers_url is not None and author.followers_url in audience)


async def _profile_post(fed: Federation, activity: dict[str, Any], note: dict[str, Any]) -> Outcome | None:
    """A person's profile post for their followers here; None when the note is not one."""
    author_uri, note_id = id_of(activity.get("actor")), id_of(note)
    groups = [id_of(note.get("audience")), *ids_of(note.get("to")), *ids_of(note.get("cc"))]
    if (
        author_uri is None
        or note_id is None
        or note.get("inReplyTo")
        or note.get("type") not in ("Note", "Question")
    ):
        return None
    async with fed.ctx.sessions() as session:
        for uri in dict.fromkeys(g for g in groups if g and g != AS_PUBLIC):
            if await graph.community_of_group(session, uri) is not None:
                return None
        author = await federation_store.get_actor_by_uri(session, author_uri)
        if author is None or author.local or not await store.has_local_follower(session, author.id):
            return None
        if await post_store.get_post_by_uri(session, note_id) is not None:
            return Outcome("ignored: post already known")
    if not _addressed_to_followers(note, author):
        return Outcome("refused: a profile post not addressed to its author's followers")
    return _store_profile_post(fed, note, note_id, author)


def _store_profile_post(fed: Federation, note: dict[str, Any], note_id: str, author: Actor) -> Outcome:
    source = note.get("source") if isinstance(note.get("source"), dict) else {}
    markdown = _text((source or {}).get("content"), 50_000)
    title, html = _text(note.get("name"), 300), _text(note.get("content"), 100_000)
    decision = evaluate_ingress(
        fed.ctx.charter,
        IngressFacts(
            content=ContentFacts(text=f"{title}\n{markdown}{html}", kind="post"),
            origin_jurisdiction=author.jurisdiction,
            origin_regions=fed.ctx.charter.regions_of(author.jurisdiction),
        ),
    )
    options = note.get("oneOf") if isinstance(note.get("oneOf"), list) else None
    ctx = fed.ctx

    async def apply(session: AsyncSession) -> None:
        now = ctx.clock.now()
        if decision.article_id is not None or decision.action != "allow":
            await charter_service.record_decision(
                session,
                now,
                ctx.charter,
                decision,
                subject_kind="post",
                subject=note_id,
                actor_id=author.id,
                peer_domain=author.domain,
            )
        if decision.action in ("reject", "deny"):
            return
        post = await post_store.add_post(
            session,
            Post(
                uri=note_id,
                author_id=author.id,
                kind="poll" if options else "post",
                on_profile=True,
                title=title,
                source=markdown,
                content_html=html,
                poll_options=[_text(o.get("name"), 200) for o in options if isinstance(o, dict)][:10]
                if options
                else None,
                local=False,
                held=decision.action == "hold",
                comment_count=0,
                reaction_count=0,
                created_at=handlers._published(note.get("published"), now),
            ),
            community_ids=[],
            tags=extract_hashtags(markdown),
            mentioned_actor_ids=[],
        )
        await indexing.index_post(session, post)

    return Outcome("profile post stored", apply)


async def note_update(fed: Federation, activity: dict[str, Any], via: str | None) -> Outcome:
    """An edit (`handlers.note_update`); for a poll written elsewhere, also the counts its host sends."""
    outcome = await handlers.note_update(fed, activity, via)
    note = activity.get("object")
    if outcome.apply is None or not isinstance(note, dict) or note.get("type") != "Question":
        return outcome
    write, note_id = outcome.apply, id_of(note) or ""

    async def apply(session: AsyncSession) -> None:
        row = await post_store.get_post_by_uri(session, note_id)
        before = (row.title, row.content_html, row.source, row.edited_at) if row is not None else None
        await write(session)
        if row is None or before is None or row.local or not row.poll_options:
            return
        if (row.title, row.content_html, row.source) == before[:3]:
            row.edited_at = before[3]  # only the counts changed: not an edit
        row.poll_tallies = tallies_of(note, len(row.poll_options))

    return dataclasses.replace(outcome, apply=apply)
