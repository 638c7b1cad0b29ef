"""Inbound moderation activities: `Flag`, `Add`/`Remove` of moderators, `Block` and `Undo(Block)`.

Trust. The inbox has checked that the signer is the activity's `actor` and that the activity id has
its origin. Here:

- `Flag` reaches a community hosted here. Its objects must be posts we hold in a community hosted
  here, and its actor a person already known here as a member allowed to report there
  (`Action.REPORT`). Nothing is fetched for a Flag: a stranger's report stores nothing at all.
- `Add`/`Remove` change who this instance takes as moderators of a Group hosted elsewhere. Only the
  Group may say so (the actor is a Group we mirror, and `target` is the moderators collection its
  actor document names as `attributedTo`); an `Add` to any other collection is ignored.
- `Block` from a Group we mirror, about a person of this instance, records the ban on their
  membership (and tells them); `Undo(Block)` lifts it. A Block naming a person of another instance,
  or sent by anyone but the Group, changes nothing.

Each handler returns an `Outcome` whose `apply` writes in the transaction that marks the activity
processed, so a redelivery changes nothing twice.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub.vocabulary import id_of, ids_of
from server.federation import handlers
from server.federation.outcome import Outcome
from server.services import notifications
from server.services.compliance.replay import html_text
from server.services.moderation import CATEGORIES, MAX_COMMENT, notify_moderators
from server.services.permissions import Action, allowed, standing
from server.storage import communities as community_store
from server.storage import federation as federation_store
from server.storage import federation_graph as graph
from server.storage import moderation as store
from server.storage import posts as post_store
from server.storage.moderation import OPEN, Report
from server.storage.social import Actor, Community, Membership, Post

if TYPE_CHECKING:
    from server.federation.state import Federation

MAX_FLAG_OBJECTS = 20
_CATEGORY = re.compile(r"^\s*\[([a-z_]{1,20})\]\s*")


def _now(fed: Federation) -> datetime:
    return fed.ctx.clock.now()


def parse_reason(summary: Any) -> tuple[str, str]:
    """(category, comment) from a Flag's `summary`: '[spam] text' here, any plain text elsewhere."""
    text = html_text(summary) if isinstance(summary, str) else ""
    found = _CATEGORY.match(text)
    category = found.group(1) if found and found.group(1) in CATEGORIES else "other"
    comment = text[found.end() :] if found else text
    return category, comment.strip()[:MAX_COMMENT]


# --- Flag ------------------------------------------------------------------------------------------------


async def _flagged(
    fed: Federation, object_ids: list[str], addressed: set[str]
) -> list[tuple[Post, Community]]:
    """(post, local community) pairs the Flag is about: posts we hold, in communities hosted here."""
    pairs: list[tuple[Post, Community]] = []
    async with fed.ctx.sessions() as session:
        for uri in object_ids:
            post = await post_store.get_post_by_uri(session, uri)
            if post is None or post.deleted_at is not None:
                continue
            for community, group in await graph.communities_of_post(session, post.root_id or post.id):
                if community.local and (not addressed or group.uri in addressed):
                    pairs.append((post, community))
    return pairs


async def _reporter_may(fed: Federation, reporter: Actor, community: Community) -> bool:
    async with fed.ctx.sessions() as session:
        membership = await community_store.get_membership(session, community.id, reporter.id)
    who = standing(membership.role, membership.state) if membership else None
    return allowed(Action.REPORT, community.visibility, who)


async def handle_flag(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    """A person on another instance reports content of a community hosted here."""
    reporter_uri, flag_id = id_of(activity.get("actor")), id_of(activity)
    object_ids = ids_of(activity.get("object"))[:MAX_FLAG_OBJECTS]
    if reporter_uri is None or flag_id is None or not object_ids:
        return Outcome("refused: Flag without actor, id or object")
    if via is not None:
        return Outcome("ignored: a Flag is sent to the community, never announced")
    addressed = {*ids_of(activity.get("to")), *ids_of(activity.get("audience"))}
    pairs = await _flagged(fed, object_ids, addressed)
    if not pairs:
        return Outcome("refused: Flag about nothing held here in a community hosted here")
    async with fed.ctx.sessions() as session:
        reporter = await federation_store.get_actor_by_uri(session, reporter_uri)
    if reporter is None or reporter.kind != "Person" or reporter.local:
        return Outcome("refused: Flag from someone who is not a member of the community")
    pairs = [(post, community) for post, community in pairs if await _reporter_may(fed, reporter, community)]
    if not pairs:
        return Outcome("refused: Flag from someone who is not a member of the community")
    category, comment = parse_reason(activity.get("summary") or activity.get("content"))

    async def apply(session: AsyncSession) -> None:
        now = _now(fed)
        for index, (post, community) in enumerate(pairs):
            uri = flag_id if index == 0 else f"{flag_id}#{index}"
            if await store.report_uri_known(session, uri):
                continue
            report = Report(
                uri=uri,
                community_id=community.id,
                post_id=post.id,
                reporter_id=reporter.id,
                category=category,
                comment=comment,
                state=OPEN,
                origin_domain=reporter.domain,
                created_at=now,
            )
            await store.add_report(session, report)
            await notify_moderators(session, now, community, post, reporter.id, category)

    return Outcome(f"report stored ({len(pairs)})", apply)


# --- moderators of a Group hosted elsewhere ----------------------------------------------------------


async def _mirrored_group(fed: Federation, group_uri: str) -> tuple[Community, Actor] | None:
    async with fed.ctx.sessions() as session:
        found = await graph.community_of_group(session, group_uri)
    if found is None or found[0].local or found[1].kind != "Group":
        return None
    return found


def _moderators_of(group: Actor) -> str | None:
    return id_of((group.raw or {}).get("attributedTo"))


async def _moderator_change(fed: Federation, activity: dict[str, Any], *, added: bool) -> Outcome:
    kind = "Add" if added else "Remove"
    group_uri, person_uri, target = (
        id_of(activity.get("actor")),
        id_of(activity.get("object")),
        id_of(activity.get("target")),
    )
    activity_id = id_of(activity)
    if group_uri is None or person_uri is None or target is None or activity_id is None:
        return Outcome(f"refused: {kind} without actor, object, target or id")
    found = await _mirrored_group(fed, group_uri)
    if found is None:
        if target.endswith("/moderators"):
            return Outcome(f"refused: {kind} of a moderator by an actor that is not the community's Group")
        return Outcome(f"ignored: {kind} to a collection not known here")
    community, group = found
    if target != _moderators_of(group):
        return Outcome(f"ignored: {kind} to a collection other than the Group's moderators")
    person = await handlers.known_actor(fed, person_uri)
    if person is None or person.kind != "Person":
        return Outcome(f"refused: {kind} of someone who is not a person we can fetch")

    async def apply(session: AsyncSession) -> None:
        if added:
            await store.add_group_moderator(session, community.id, person.id, activity_id, _now(fed))
        else:
            await store.remove_group_moderator(session, community.id, person.id)

    return Outcome("moderator added" if added else "moderator removed", apply)


async def handle_add(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    return await _moderator_change(fed, activity, added=True)


async def handle_remove(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    return await _moderator_change(fed, activity, added=False)


# --- bans ------------------------------------------------------------------------------------------------


async def _ban_parties(
    fed: Federation, block: dict[str, Any], sender: str | None
) -> tuple[Community, Actor, Actor] | str:
    """(mirrored community, its Group, the local person) a Block is about, or why it is refused."""
    group_uri, person_uri = id_of(block.get("actor")), id_of(block.get("object"))
    target = id_of(block.get("target"))
    if group_uri is None or group_uri != sender or person_uri is None:
        return "refused: Block whose actor is not the one who sent it, or without object"
    found = await _mirrored_group(fed, group_uri)
    if found is None:
        return "ignored: Block by an actor that is not a community followed here"
    if target is not None and target != group_uri:
        return "refused: a community's Block must have the community as target"
    async with fed.ctx.sessions() as session:
        person = await federation_store.get_actor_by_uri(session, person_uri)
    if person is None or not person.local or person.kind != "Person":
        return "refused: Block about a person who is not of this instance"
    return found[0], found[1], person


async def handle_block(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    """A community hosted elsewhere banned one of our people: their membership shows it."""
    parties = await _ban_parties(fed, activity, id_of(activity.get("actor")))
    if isinstance(parties, str):
        return Outcome(parties)
    community, group, person = parties

    async def apply(session: AsyncSession) -> None:
        now = _now(fed)
        membership = await community_store.get_membership(session, community.id, person.id)
        if membership is None:
            membership = await community_store.add_membership(
                session,
                Membership(
                    community_id=community.id,
                    actor_id=person.id,
                    role="member",
                    state="banned",
                    created_at=now,
                    updated_at=now,
                ),
            )
        membership.state, membership.role, membership.updated_at = "banned", "member", now
        await notifications_of_ban(session, now, community, group, person)

    return Outcome("ban recorded", apply)


async def notifications_of_ban(
    session: AsyncSession, now: datetime, community: Community, group: Actor, person: Actor
) -> None:
    await notifications.notify(
        session, now, kind="banned", recipients=[person.id], by_actor_id=group.id, community_id=community.id
    )


async def handle_undo(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    """`Undo(Block)` lifts a ban; any other `Undo` goes to the general handler."""
    inner = activity.get("object")
    if not isinstance(inner, dict) or inner.get("type") != "Block":
        return await handlers.handle_undo(fed, activity, depth, via)
    parties = await _ban_parties(fed, inner, id_of(activity.get("actor")))
    if isinstance(parties, str):
        return Outcome(parties.replace("Block", "Undo(Block)", 1))
    community, _, person = parties

    async def apply(session: AsyncSession) -> None:
        membership = await community_store.get_membership(session, community.id, person.id)
        if membership is not None and membership.state == "banned":
            await community_store.remove_membership(session, membership)

    return Outcome("ban lifted", apply)
