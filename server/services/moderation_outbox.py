"""What moderation sends to other instances: reports (`Flag`), moderators (`Add`/`Remove`), bans (`Block`).

- A report about content of a community hosted elsewhere goes to that community's Group as a `Flag`
  whose actor is the reporter (as Lemmy does; Mastodon sends its `Flag`s from the instance actor to
  keep reporters anonymous, but a community's moderators here need to know which member reports, and
  the receiving instance accepts reports only from the community's members). `summary` carries the
  reason as Lemmy reads it, prefixed by its category in brackets: `[spam] Sells watches everywhere`.
- When a person becomes or stops being one of a local community's moderators (owner, manager or
  moderator: the Group's `attributedTo` collection), the Group itself sends `Add` or `Remove` with
  that collection as `target` to every member instance.
- When a local community bans a person from another instance, its Group sends them `Block` (actor the
  Group, object the person, target the Group) so their instance shows the ban; an unban is
  `Undo(Block)`. Removing a member without a ban is a `Reject` of their original `Follow`, which their
  instance already reads as the end of the membership.

Everything goes through the transactional outbox (`server.services.outbox`) in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.services import outbox
from server.storage.models import User
from server.storage.social import Actor, Community

CATEGORY_PREFIX = "[{category}] "


def moderators_collection(group: Actor) -> str:
    """The Group's `attributedTo`, as `server.federation.actors` publishes it."""
    return f"{group.uri}/moderators"


def flag_activity(
    reporter: Actor, group: Actor, object_uri: str, *, category: str, comment: str
) -> dict[str, Any]:
    summary = (CATEGORY_PREFIX.format(category=category) + comment).strip()
    flag = outbox.wrap("Flag", reporter.uri, [object_uri], to=[group.uri], cc=[], audience=group.uri)
    flag["summary"] = summary
    return flag


async def send_flag(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    reporter_user: User,
    reporter: Actor,
    group: Actor,
    flag: dict[str, Any],
) -> int:
    return await outbox.send_to_actor(session, ctx, now, group, flag, signer=reporter, person=reporter_user)


def moderator_activity(group: Actor, person: Actor, *, added: bool) -> dict[str, Any]:
    activity = outbox.wrap(
        "Add" if added else "Remove",
        group.uri,
        person.uri,
        to=[f"{group.uri}/followers"],
        cc=[],
        audience=group.uri,
    )
    activity["target"] = moderators_collection(group)
    return activity


async def moderator_changed(
    session: AsyncSession, ctx: Context, now: datetime, community: Community, person: Actor, *, added: bool
) -> int:
    """Tell every member instance that `person` joined (or left) the community's moderators."""
    group = await session.get(Actor, community.actor_id)
    assert group is not None
    activity = moderator_activity(group, person, added=added)
    sent = await outbox.from_group(session, ctx, now, community, activity)
    member_domains = {route.peer_domain for route in await outbox.member_routes(session, community)}
    if not person.local and person.domain not in member_domains:  # removed with the role: told anyway
        sent += await outbox.send_to_actor(session, ctx, now, person, activity, signer=group)
    return sent


def block_activity(group: Actor, person: Actor) -> dict[str, Any]:
    block = outbox.wrap("Block", group.uri, person.uri, to=[person.uri], cc=[], audience=group.uri)
    block["target"] = group.uri
    return block


async def ban_changed(
    session: AsyncSession, ctx: Context, now: datetime, community: Community, person: Actor, *, banned: bool
) -> int:
    """`Block` (or `Undo(Block)`) from the Group to a banned (or unbanned) person's own instance."""
    if person.local:
        return 0
    group = await session.get(Actor, community.actor_id)
    assert group is not None
    block = block_activity(group, person)
    activity = (
        block if banned else outbox.wrap("Undo", group.uri, block, to=[person.uri], cc=[], audience=group.uri)
    )
    return await outbox.send_to_actor(session, ctx, now, person, activity, signer=group)
