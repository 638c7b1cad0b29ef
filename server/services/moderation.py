"""Moderation: reports, a community's moderation queue, held posts, and the federated side of bans and roles.

A person reports a post or comment in a community they take part in (`Action.REPORT`). A report
about a community hosted here waits in its queue and its moderators are notified; one about a
community hosted elsewhere is sent there as a `Flag` and kept here as `forwarded`.

The queue (owners, managers and moderators: `Action.MODERATE`) shows open reports and the posts the
charter held for review. A report is dismissed, or upheld by removing the content (a tombstone, sent
to the member instances like any moderator's deletion); every open report on that post then closes.
A held post is approved (it becomes visible, and leaves for the member instances only now) or
rejected (a tombstone). Decisions on held posts and removals are written to the audit log, beside
the charter decision that held the post.

Removing or banning a member and changing roles go through here so that other instances hear of it
(`server.services.moderation_outbox`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.errors import Conflict, NotFound, ValidationFailed
from server.policy import Decision
from server.services import indexing, moderation_outbox, notifications, outbox, posts
from server.services.charter import audit_entry
from server.services.communities import CommunityAccess, access, actor_id_of, answer_follow
from server.services.communities import remove_member as remove_membership
from server.services.communities import set_role as change_role
from server.services.permissions import Action, allowed, check, standing
from server.storage import communities as community_store
from server.storage import moderation as store
from server.storage import posts as post_store
from server.storage.accounts import get_actor_by_handle, get_user_by_username
from server.storage.audit import add_audit_entry
from server.storage.models import User
from server.storage.moderation import FORWARDED, OPEN, Report
from server.storage.notifications import users_by_actor_ids
from server.storage.social import Actor, Community, Membership, Post

CATEGORIES = ("spam", "harassment", "confidential", "charter", "off_topic", "other")
MAX_COMMENT = 2_000
STAFF_ROLES = ("owner", "manager", "moderator")
QUEUE_LIMIT = 100


@dataclass
class QueueEntry:
    report: Report
    reporter: Actor | None


@dataclass
class Queue:
    access: CommunityAccess
    reports: list[QueueEntry] = field(default_factory=list)
    held: list[Post] = field(default_factory=list)

    @property
    def post_ids(self) -> list[int]:
        return list(dict.fromkeys([e.report.post_id for e in self.reports] + [p.id for p in self.held]))


def check_report_text(category: str, comment: str) -> tuple[str, str]:
    if category not in CATEGORIES:
        raise ValidationFailed(f"must be one of {', '.join(CATEGORIES)}", field="category")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed(f"must be at most {MAX_COMMENT:,} characters", field="comment")
    return category, comment


# --- reporting -------------------------------------------------------------------------------------------


async def _report_places(session: AsyncSession, user: User, post: Post, slug: str | None) -> list[Community]:
    """The communities of the post's thread where the person may report it (or the one they named)."""
    root_id = post.root_id or post.id
    shares = (await post_store.community_ids_of_posts(session, [root_id])).get(root_id, [])
    places = list((await community_store.get_communities(session, shares)).values())
    if slug is not None:
        places = [c for c in places if c.slug == slug.strip().lower()]
        if not places:
            raise NotFound("this post is not in that community", field="community")
    if not places:
        raise Conflict("only content shared in a community can be reported")
    memberships = await community_store.memberships_of(session, actor_id_of(user), [c.id for c in places])
    standings = {
        c.id: standing(memberships[c.id].role, memberships[c.id].state) if c.id in memberships else None
        for c in places
    }
    allowed_places = [c for c in places if allowed(Action.REPORT, c.visibility, standings[c.id])]
    if not allowed_places:
        check(Action.REPORT, places[0].visibility, standings[places[0].id], what="post")
    return allowed_places


async def report(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    user: User,
    post_id: int,
    *,
    category: str,
    comment: str = "",
    community: str | None = None,
) -> list[Report]:
    """Report a post or comment to the moderators of its community (every one of its communities where
    the person takes part, unless they name one)."""
    category, comment = check_report_text(category, comment)
    post = await posts.readable_post(session, user, post_id)
    if post.deleted_at is not None:
        raise Conflict("this post was deleted")
    if post.author_id == user.actor_id:
        raise Conflict("you cannot report your own post")
    made = []
    for place in await _report_places(session, user, post, community):
        if await store.open_report_by(session, place.id, post.id, actor_id_of(user)) is not None:
            raise Conflict("you already reported this post; the moderators have it")
        made.append(await _report_in(session, ctx, now, user, post, place, category, comment))
    return made


async def _report_in(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    user: User,
    post: Post,
    place: Community,
    category: str,
    comment: str,
) -> Report:
    reporter = await session.get(Actor, actor_id_of(user))
    assert reporter is not None
    row = Report(
        uri=f"{ctx.settings.base_url}/reports/{uuid.uuid4().hex}",
        community_id=place.id,
        post_id=post.id,
        reporter_id=reporter.id,
        category=category,
        comment=comment,
        state=OPEN if place.local else FORWARDED,
        created_at=now,
    )
    if place.local:
        await store.add_report(session, row)
        await notify_moderators(session, now, place, post, reporter.id, category)
        return row
    group = await session.get(Actor, place.actor_id)
    assert group is not None
    flag = moderation_outbox.flag_activity(reporter, group, post.uri, category=category, comment=comment)
    row.uri = str(flag["id"])
    await store.add_report(session, row)
    await moderation_outbox.send_flag(session, ctx, now, user, reporter, group, flag)
    return row


async def notify_moderators(
    session: AsyncSession, now: datetime, community: Community, post: Post, by_actor_id: int, category: str
) -> None:
    staff = await community_store.staff_actor_ids(session, community.id, STAFF_ROLES)
    await notifications.notify(
        session,
        now,
        kind="report",
        recipients=staff,
        by_actor_id=by_actor_id,
        post_id=post.id,
        community_id=community.id,
        detail=category,
    )


# --- the queue -------------------------------------------------------------------------------------------


async def moderator_access(session: AsyncSession, user: User, slug: str) -> CommunityAccess:
    found = await access(session, slug, user)
    found.check(Action.MODERATE)
    return found


async def queue(session: AsyncSession, user: User, slug: str, *, limit: int = QUEUE_LIMIT) -> Queue:
    found = await moderator_access(session, user, slug)
    community_id = found.community.id
    reports = await store.list_open_reports(session, community_id, limit=limit)
    reporters = await post_store.load_actors(session, [r.reporter_id for r in reports if r.reporter_id])
    entries = [QueueEntry(r, reporters.get(r.reporter_id) if r.reporter_id else None) for r in reports]
    held = list(await store.held_posts(session, community_id, limit=limit))
    return Queue(found, entries, held)


async def _open_report(session: AsyncSession, found: CommunityAccess, report_id: int) -> Report:
    row = await store.get_report(session, report_id)
    if row is None or row.community_id != found.community.id:
        raise NotFound("no such report in this community")
    if row.state != OPEN:
        raise Conflict(f"this report was already {row.state}")
    return row


async def dismiss_report(
    session: AsyncSession, now: datetime, user: User, slug: str, report_id: int
) -> Report:
    found = await moderator_access(session, user, slug)
    row = await _open_report(session, found, report_id)
    row.state, row.resolved_at, row.resolved_by_id = store.DISMISSED, now, user.actor_id
    return row


async def remove_reported(
    session: AsyncSession, ctx: Context, now: datetime, user: User, slug: str, report_id: int
) -> Report:
    """Uphold a report: the post becomes a tombstone here and at the member instances."""
    found = await moderator_access(session, user, slug)
    row = await _open_report(session, found, report_id)
    post = await posts.delete_post(session, ctx, now, user, row.post_id)
    await store.resolve_open_reports(
        session, found.community.id, post.id, state=store.REMOVED, by_actor_id=actor_id_of(user), now=now
    )
    await _audit(
        session,
        ctx,
        now,
        user,
        post,
        action="reject",
        reason="moderation.report_upheld",
        details={"community": found.community.slug, "report": row.uri, "category": row.category},
    )
    await session.refresh(row)
    return row


# --- held posts ------------------------------------------------------------------------------------------


async def _held_post(session: AsyncSession, found: CommunityAccess, post_id: int) -> Post:
    post = await post_store.get_post(session, post_id)
    if post is None or not post.held or post.deleted_at is not None:
        raise NotFound("no such held post in this community")
    root_id = post.root_id or post.id
    shares = (await post_store.community_ids_of_posts(session, [root_id])).get(root_id, [])
    if found.community.id not in shares:
        raise NotFound("no such held post in this community")
    return post


async def decide_held(
    session: AsyncSession, ctx: Context, now: datetime, user: User, slug: str, post_id: int, *, approve: bool
) -> Post:
    """Release a post the charter held (it leaves for the member instances now) or reject it."""
    found = await moderator_access(session, user, slug)
    post = await _held_post(session, found, post_id)
    post.held = False
    if approve:
        await indexing.index_post(session, post, media_dir=ctx.settings.media_dir)
        author = await _author_user(session, post)
        if post.local and author is not None:
            await outbox.post_created(session, ctx, now, post, author)
    else:
        post.deleted_at, post.source, post.title, post.content_html, post.poll_options = now, "", "", "", None
        if post.root_id is not None:
            await post_store.bump_counter(session, post.root_id, "comment_count", -1)
        await indexing.index_post(session, post)
        await store.resolve_open_reports(
            session, found.community.id, post.id, state=store.REMOVED, by_actor_id=actor_id_of(user), now=now
        )
    await _audit(
        session,
        ctx,
        now,
        user,
        post,
        action="allow" if approve else "reject",
        reason="moderation.held_released" if approve else "moderation.held_rejected",
        details={"community": found.community.slug},
    )
    return post


async def _author_user(session: AsyncSession, post: Post) -> User | None:
    return (await users_by_actor_ids(session, [post.author_id])).get(post.author_id)


async def _audit(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    user: User,
    post: Post,
    *,
    action: str,
    reason: str,
    details: dict[str, Any],
) -> None:
    """A moderator's decision about content, in the audit log beside the charter's own decisions."""
    decision = Decision(
        charter_id=ctx.charter.id,
        charter_version=ctx.charter.version,
        point="publish" if post.local else "ingress",
        action="allow" if action == "allow" else "reject",
        reason_code=reason,
    )
    entry = audit_entry(
        now,
        decision,
        subject_kind="comment" if post.root_id else "post",
        subject=post.uri,
        actor_id=user.actor_id,
        details={"by": "moderator", **details},
    )
    await add_audit_entry(session, entry)


# --- members: removal, bans, roles (federated) ----------------------------------------------------------


async def _person(session: AsyncSession, username: str) -> Actor | None:
    """A person by local user name, or 'name@domain' for someone on another instance."""
    name = username.strip().lstrip("@")
    if "@" in name:
        local_part, domain = name.split("@", 1)
        return await get_actor_by_handle(session, domain.lower(), local_part)
    user = await get_user_by_username(session, name)
    return await session.get(Actor, user.actor_id) if user and user.actor_id else None


async def _before(
    session: AsyncSession, user: User, slug: str, username: str
) -> tuple[CommunityAccess, Actor | None, Membership | None]:
    found = await access(session, slug, user)
    person = await _person(session, username)
    membership = (
        await community_store.get_membership(session, found.community.id, person.id) if person else None
    )
    return found, person, membership


def _is_staff(membership: Membership | None) -> bool:
    return membership is not None and membership.state == "active" and membership.role in STAFF_ROLES


async def remove_member(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    user: User,
    slug: str,
    username: str,
    *,
    ban: bool,
) -> None:
    """Remove or ban a member; their instance hears of it (Reject of their Follow, or Block)."""
    found, person, before = await _before(session, user, slug, username)
    was_staff = _is_staff(before)
    follow = before.activity_uri if before is not None else None
    await remove_membership(session, now, user, slug, username, ban=ban)
    community = found.community
    if person is None or not community.local:
        return
    if was_staff:
        await moderation_outbox.moderator_changed(session, ctx, now, community, person, added=False)
    if ban:
        await moderation_outbox.ban_changed(session, ctx, now, community, person, banned=True)
    elif follow and not person.local:
        gone = Membership(
            community_id=community.id, actor_id=person.id, role="member", state="removed", activity_uri=follow
        )
        await answer_follow(session, ctx, now, community, gone, accept=False)


async def unban(
    session: AsyncSession, ctx: Context, now: datetime, user: User, slug: str, username: str
) -> None:
    """Lift a ban: the person may ask to join again; their instance gets `Undo(Block)`."""
    found, person, membership = await _before(session, user, slug, username)
    found.check(Action.MODERATE)
    if person is None or membership is None or membership.state != "banned":
        raise NotFound(f"'{username}' is not banned here", field="username")
    await community_store.remove_membership(session, membership)
    if found.community.local:
        await moderation_outbox.ban_changed(session, ctx, now, found.community, person, banned=False)


async def set_role(
    session: AsyncSession, ctx: Context, now: datetime, user: User, slug: str, username: str, role: str
) -> Membership:
    """Change a member's role; joining or leaving the moderators is sent as the Group's Add or Remove."""
    found, person, before = await _before(session, user, slug, username)
    was_staff = _is_staff(before)
    membership = await change_role(session, now, user, slug, username, role)
    is_staff = _is_staff(membership)
    if person is not None and found.community.local and was_staff != is_staff:
        await moderation_outbox.moderator_changed(session, ctx, now, found.community, person, added=is_staff)
    return membership


async def banned_members(session: AsyncSession, user: User, slug: str) -> Sequence[tuple[Membership, Actor]]:
    found = await moderator_access(session, user, slug)
    return await community_store.list_members(session, found.community.id, states=["banned"], limit=200)
