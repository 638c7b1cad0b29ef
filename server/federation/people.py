"""People on other instances, by handle: find them (WebFinger), follow them, invite them into a community."""

from __future__ import annotations

from server.errors import NotFound, ValidationFailed
from server.federation.following import webfinger_self
from server.federation.state import Federation
from server.services import communities, outbox, remote_follows
from server.storage import federation as federation_store
from server.storage.models import User
from server.storage.social import Actor, Community, Membership


def split_handle(handle: str) -> tuple[str, str]:
    """('name', 'domain') of '@name@domain' or 'name@domain'."""
    parts = handle.strip().removeprefix("@").split("@")
    if len(parts) != 2 or not all(parts):
        raise ValidationFailed("give 'name@instance'", field="handle")
    return parts[0], parts[1].lower()


async def find_person(fed: Federation, handle: str) -> Actor:
    """A person on another instance by 'name@domain': our copy, refreshed from their instance."""
    name, domain = split_handle(handle)
    uri = await webfinger_self(fed, name, domain, missing=f"no one named '{name}' on {domain}")
    stored = await fed.actors.refresh_actor(uri)
    if isinstance(stored, str):
        raise NotFound(f"cannot fetch '{handle}': {stored}", field="handle")
    async with fed.ctx.sessions() as session:
        actor = await federation_store.get_actor_by_uri(session, uri)
    if actor is None or actor.local or actor.kind != "Person":
        raise NotFound(f"'{handle}' is not a person on another instance", field="handle")
    return actor


async def follow_person(fed: Federation, user: User, handle: str, *, on: bool) -> bool:
    """Follow (or unfollow) a person on another instance; the answer (`Accept`) comes later."""
    target = await find_person(fed, handle)
    ctx = fed.ctx
    async with ctx.transaction() as session:
        return await remote_follows.follow(session, ctx, ctx.clock.now(), user, target, on=on)


async def invite_person(fed: Federation, user: User, slug: str, handle: str) -> Membership:
    """Invite a person on another instance into a local community: recorded here as an invitation,
    and sent to them as an `Invite` (actor: the inviting manager; object: the Group; target: them)."""
    target = await find_person(fed, handle)
    ctx = fed.ctx
    async with ctx.transaction() as session:
        now = ctx.clock.now()
        membership = await communities.invite(session, now, user, slug, f"{target.username}@{target.domain}")
        community = await session.get(Community, membership.community_id)
        inviter = await session.get(Actor, user.actor_id) if user.actor_id else None
        group = await session.get(Actor, community.actor_id) if community else None
        assert inviter is not None and group is not None
        invite = outbox.wrap("Invite", inviter.uri, group.uri, to=[target.uri], cc=[group.uri], audience=None)
        invite["target"] = target.uri
        await outbox.send_to_actor(session, ctx, now, target, invite, signer=inviter, person=user)
    return membership


def is_remote_handle(domain: str, name: str) -> bool:
    """Whether `name` is 'name@domain' of another instance than ours (`domain`)."""
    parts = name.strip().removeprefix("@").split("@")
    return len(parts) == 2 and parts[1].lower() != domain.lower()
