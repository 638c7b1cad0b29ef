"""Communities: create, find, join or ask to join, invite, approve, leave, remove, ban, roles.

Every use case checks the permission table in `server.services.permissions`; a secret
community is indistinguishable from a missing one to those who may not see it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.context import Context
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.policy import MembershipFacts, evaluate_membership
from server.services import charter, indexing, notifications, outbox
from server.services.actors import create_local_group
from server.services.permissions import ROLES, VISIBILITIES, Action, can_assign_role, check, standing
from server.storage import communities as store
from server.storage.accounts import get_actor_by_handle, get_user_by_username, local_name_taken
from server.storage.models import User
from server.storage.social import Actor, Community, Membership

KINDS = ("functional", "project", "practice", "expertise", "interest", "sector")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MAX_TAGS = 20


@dataclass(frozen=True)
class CommunityAccess:
    community: Community
    membership: Membership | None

    @property
    def standing(self) -> str | None:
        m = self.membership
        return standing(m.role, m.state) if m else None

    def check(self, action: Action) -> None:
        check(action, self.community.visibility, self.standing)


def normalise_tags(values: Sequence[str], *, field: str = "tags") -> list[str]:
    tags: list[str] = []
    for value in values:
        tag = " ".join(str(value).split()).lower().lstrip("#")
        if not tag:
            continue
        if len(tag) > 100:
            raise ValidationFailed("each tag must be at most 100 characters", field=field)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationFailed(f"at most {MAX_TAGS} tags", field=field)
    return tags


def actor_id_of(user: User) -> int:
    if user.actor_id is None:
        raise Forbidden("this account has no identity on the network")
    return user.actor_id


async def access(session: AsyncSession, slug: str, user: User) -> CommunityAccess:
    """The community named `slug` and the user's membership; 404 if the user may not know of it."""
    community = await store.get_community_by_slug(session, slug)
    if community is None:
        raise NotFound("no such community")
    membership = await store.get_membership(session, community.id, actor_id_of(user))
    result = CommunityAccess(community, membership)
    result.check(Action.SEE)
    return result


def _validate(name: str, kind: str, visibility: str, description: str, rules: str) -> str:
    name = " ".join(name.split())
    if not 2 <= len(name) <= 200:
        raise ValidationFailed("must be 2 to 200 characters", field="name")
    if kind not in KINDS:
        raise ValidationFailed(f"must be one of {', '.join(KINDS)}", field="kind")
    if visibility not in VISIBILITIES:
        raise ValidationFailed(f"must be one of {', '.join(VISIBILITIES)}", field="visibility")
    if len(description) > 20_000:
        raise ValidationFailed("must be at most 20,000 characters", field="description")
    if len(rules) > 20_000:
        raise ValidationFailed("must be at most 20,000 characters", field="rules")
    return name


async def create_community(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    creator: User,
    *,
    slug: str,
    name: str,
    kind: str,
    visibility: str,
    description: str = "",
    rules: str = "",
    tags: Sequence[str] = (),
) -> Community:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationFailed(
            "2 to 63 characters: lower-case letters, digits and '-', starting with a letter or digit",
            field="slug",
        )
    name = _validate(name, kind, visibility, description, rules)
    clean_tags = normalise_tags(tags)
    if await local_name_taken(session, settings.domain, slug):
        raise Conflict("this name is already used by a community or a person", field="slug")
    actor = await create_local_group(
        session, settings, now, slug=slug, name=name, manually_approves=visibility != "open"
    )
    actor.summary = description
    community = await store.add_community(
        session,
        Community(
            actor_id=actor.id,
            slug=slug,
            name=name,
            description=description,
            rules=rules,
            kind=kind,
            tags=clean_tags,
            visibility=visibility,
            local=True,
            created_at=now,
            created_by_id=creator.actor_id,
        ),
        clean_tags,
    )
    await indexing.index_community(session, community)
    await store.add_membership(
        session,
        Membership(
            community_id=community.id,
            actor_id=actor_id_of(creator),
            role="owner",
            state="active",
            created_at=now,
            updated_at=now,
        ),
    )
    return community


async def update_community(
    session: AsyncSession,
    now: datetime,
    user: User,
    slug: str,
    *,
    name: str | None = None,
    description: str | None = None,
    rules: str | None = None,
    kind: str | None = None,
    visibility: str | None = None,
    tags: Sequence[str] | None = None,
) -> Community:
    found = await access(session, slug, user)
    found.check(Action.MANAGE)
    c = found.community
    new_name = _validate(
        name if name is not None else c.name,
        kind or c.kind,
        visibility or c.visibility,
        description if description is not None else c.description,
        rules if rules is not None else c.rules,
    )
    c.name, c.kind, c.visibility = new_name, kind or c.kind, visibility or c.visibility
    if description is not None:
        c.description = description
    if rules is not None:
        c.rules = rules
    if tags is not None:
        await store.replace_community_tags(session, c, normalise_tags(tags))
    await indexing.index_community(session, c)
    return c


async def join(session: AsyncSession, ctx: Context, now: datetime, user: User, slug: str) -> Membership:
    """Join an open community, ask to join a closed one, or accept an invitation."""
    found = await access(session, slug, user)
    found.check(Action.JOIN)
    community, membership = found.community, found.membership
    group = await session.get(Actor, community.actor_id)
    decision = evaluate_membership(
        ctx.charter,
        MembershipFacts(
            person_jurisdiction=ctx.charter.jurisdiction,
            community_tags=frozenset(community.tags),
            community_kind=community.kind,
        ),
    )
    if decision.action == "deny":  # recorded in its own transaction: the refusal rolls this one back
        async with ctx.transaction() as audit_session:
            await charter.record_decision(
                audit_session,
                now,
                ctx.charter,
                decision,
                subject_kind="community",
                subject=group.uri if group else community.slug,
                actor_id=user.actor_id,
            )
        charter.raise_if_refused(decision, user.language or ctx.settings.default_language, ctx.charter)
    if membership is not None:  # an invitation
        membership.state, membership.updated_at = "active" if community.local else "pending", now
        if not community.local:  # the host admits the person because of its invitation
            await _follow_remote(session, ctx, now, community, membership, user)
        return membership
    state = "active" if community.visibility == "open" and community.local else "pending"
    membership = await store.add_membership(
        session,
        Membership(
            community_id=community.id,
            actor_id=actor_id_of(user),
            role="member",
            state=state,
            created_at=now,
            updated_at=now,
        ),
    )
    if not community.local:
        await _follow_remote(session, ctx, now, community, membership, user)
    elif state == "pending":
        managers = await store.staff_actor_ids(session, community.id, ("owner", "manager"))
        await notifications.notify(
            session,
            now,
            kind="join_request",
            recipients=managers,
            by_actor_id=user.actor_id,
            community_id=community.id,
        )
    return membership


async def leave(session: AsyncSession, ctx: Context, now: datetime, user: User, slug: str) -> None:
    found = await access(session, slug, user)
    membership = found.membership
    if membership is None or membership.state == "banned":
        raise Conflict("you are not a member of this community")
    last_owner = membership.role == "owner" and membership.state == "active"
    if last_owner and await store.count_active_owners(session, found.community.id) <= 1:
        raise Conflict("you are the last owner: make someone else owner before leaving")
    if not found.community.local and membership.activity_uri:
        person, group = await _actors(session, membership.actor_id, found.community.actor_id)
        follow = outbox.follow_activity(person, group, membership.id)
        follow["id"] = membership.activity_uri  # the Follow the host knows
        undo = outbox.wrap("Undo", person.uri, follow, to=[group.uri], cc=[], audience=None)
        await outbox.send_to_actor(session, ctx, now, group, undo, signer=person, person=user)
    await store.remove_membership(session, membership)


async def _actors(session: AsyncSession, person_id: int, group_id: int) -> tuple[Actor, Actor]:
    person, group = await session.get(Actor, person_id), await session.get(Actor, group_id)
    assert person is not None and group is not None
    return person, group


async def _follow_remote(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    community: Community,
    membership: Membership,
    user: User,
) -> None:
    """Ask the Group hosting a community elsewhere to take this person in (Follow; it answers Accept)."""
    person, group = await _actors(session, membership.actor_id, community.actor_id)
    follow = outbox.follow_activity(person, group, membership.id)
    membership.activity_uri = follow["id"]
    await outbox.send_to_actor(session, ctx, now, group, follow, signer=person, person=user)


async def _target(
    session: AsyncSession, community: Community, username: str
) -> tuple[Actor, Membership | None]:
    """A person by local user name, or 'name@domain' for someone on another instance."""
    if "@" in username.strip("@"):
        name, domain = username.strip("@").split("@", 1)
        actor = await get_actor_by_handle(session, domain.lower(), name)
    else:
        user = await get_user_by_username(session, username)
        actor = await session.get(Actor, user.actor_id) if user and user.actor_id else None
    if actor is None or actor.kind != "Person":
        raise NotFound(f"no person named '{username}'", field="username")
    return actor, await store.get_membership(session, community.id, actor.id)


async def answer_follow(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    community: Community,
    membership: Membership,
    *,
    accept: bool,
) -> None:
    """Tell a person on another instance that their request to join was accepted or refused."""
    person, group = await _actors(session, membership.actor_id, community.actor_id)
    if person.local or not membership.activity_uri:
        return
    follow = {"id": membership.activity_uri, "type": "Follow", "actor": person.uri, "object": group.uri}
    answer = outbox.wrap(
        "Accept" if accept else "Reject", group.uri, follow, to=[person.uri], cc=[], audience=None
    )
    await outbox.send_to_actor(session, ctx, now, person, answer, signer=group)


async def invite(session: AsyncSession, now: datetime, user: User, slug: str, username: str) -> Membership:
    found = await access(session, slug, user)
    found.check(Action.MANAGE if found.community.visibility != "open" else Action.POST)
    target, membership = await _target(session, found.community, username)
    if membership is not None:
        raise Conflict(f"'{username}' is already {membership.state} in this community", field="username")
    membership = await store.add_membership(
        session,
        Membership(
            community_id=found.community.id,
            actor_id=target.id,
            role="member",
            state="invited",
            invited_by_id=user.actor_id,
            created_at=now,
            updated_at=now,
        ),
    )
    await notifications.notify(
        session,
        now,
        kind="invitation",
        recipients=[target.id],
        by_actor_id=user.actor_id,
        community_id=found.community.id,
    )
    return membership


async def decide_request(
    session: AsyncSession, ctx: Context, now: datetime, user: User, slug: str, username: str, *, approve: bool
) -> Membership | None:
    found = await access(session, slug, user)
    found.check(Action.MANAGE)
    target, membership = await _target(session, found.community, username)
    if membership is None or membership.state != "pending":
        raise NotFound(f"'{username}' has not asked to join", field="username")
    await notifications.notify(
        session,
        now,
        kind="join_decision",
        recipients=[target.id],
        by_actor_id=user.actor_id,
        community_id=found.community.id,
        detail="approved" if approve else "denied",
    )
    await answer_follow(session, ctx, now, found.community, membership, accept=approve)
    if approve:
        membership.state, membership.updated_at = "active", now
        return membership
    await store.remove_membership(session, membership)
    return None


async def remove_member(
    session: AsyncSession, now: datetime, user: User, slug: str, username: str, *, ban: bool
) -> None:
    found = await access(session, slug, user)
    found.check(Action.MODERATE)
    target, membership = await _target(session, found.community, username)
    if membership is not None and membership.role in ("owner", "manager") and found.standing != "owner":
        raise Forbidden("only an owner can remove an owner or a manager")
    if target.id == user.actor_id:
        raise Conflict("use 'leave' to leave a community")
    if ban:
        if membership is None:
            membership = await store.add_membership(
                session,
                Membership(
                    community_id=found.community.id,
                    actor_id=target.id,
                    role="member",
                    state="banned",
                    created_at=now,
                    updated_at=now,
                ),
            )
        membership.state, membership.role, membership.updated_at = "banned", "member", now
    elif membership is not None:
        await store.remove_membership(session, membership)
    else:
        raise NotFound(f"'{username}' is not a member", field="username")


async def set_role(
    session: AsyncSession, now: datetime, user: User, slug: str, username: str, role: str
) -> Membership:
    found = await access(session, slug, user)
    found.check(Action.MANAGE)
    if role not in ROLES:
        raise ValidationFailed(f"must be one of {', '.join(ROLES)}", field="role")
    target, membership = await _target(session, found.community, username)
    if membership is None or membership.state != "active":
        raise NotFound(f"'{username}' is not an active member", field="username")
    if not can_assign_role(found.standing, membership.role, role):
        raise Forbidden(f"you cannot change a {membership.role} into a {role}")
    demoting_owner = membership.role == "owner" and role != "owner"
    if demoting_owner and await store.count_active_owners(session, found.community.id) <= 1:
        raise Conflict("a community needs at least one owner")
    membership.role, membership.updated_at = role, now
    await notifications.notify(
        session,
        now,
        kind="role_change",
        recipients=[target.id],
        by_actor_id=user.actor_id,
        community_id=found.community.id,
        detail=role,
    )
    return membership


async def members(
    session: AsyncSession,
    user: User,
    slug: str,
    *,
    state: str = "active",
    limit: int = 50,
    after_id: int | None = None,
) -> tuple[CommunityAccess, Sequence[tuple[Membership, Actor]]]:
    found = await access(session, slug, user)
    found.check(Action.LIST_MEMBERS if state == "active" else Action.MANAGE)
    if state not in ("active", "pending", "invited", "banned"):
        raise ValidationFailed("must be active, pending, invited or banned", field="state")
    rows = await store.list_members(
        session, found.community.id, states=[state], limit=limit, after_id=after_id
    )
    return found, rows


async def directory(
    session: AsyncSession,
    user: User,
    *,
    q: str | None = None,
    kind: str | None = None,
    tag: str | None = None,
    limit: int = 50,
    after: tuple[str, int] | None = None,
) -> Sequence[Community]:
    if kind and kind not in KINDS:
        raise ValidationFailed(f"must be one of {', '.join(KINDS)}", field="kind")
    return await store.search_communities(
        session,
        viewer_actor_id=actor_id_of(user),
        q=q.strip() if q else None,
        kind=kind,
        tag=tag.strip().lower().lstrip("#") if tag else None,
        limit=limit,
        after_name=after,
    )
