"""People on other instances, by handle: find them (WebFinger), follow them, invite them into a community."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx

from server.activitypub.vocabulary import JRD_JSON
from server.errors import NotFound, ValidationFailed
from server.federation.state import Federation
from server.services import communities, outbox, remote_follows
from server.storage import federation as federation_store
from server.storage.models import User
from server.storage.social import Actor, Community, Membership

WEBFINGER_MAX_BYTES = 64 * 1024


def split_handle(handle: str) -> tuple[str, str]:
    """('name', 'domain') of '@name@domain' or 'name@domain'."""
    parts = handle.strip().removeprefix("@").split("@")
    if len(parts) != 2 or not all(parts):
        raise ValidationFailed("give 'name@instance'", field="handle")
    return parts[0], parts[1].lower()


async def _webfinger(fed: Federation, name: str, domain: str) -> str:
    scheme = "http" if fed.ctx.settings.scheme == "http" else "https"
    url = f"{scheme}://{domain}/.well-known/webfinger?resource={quote(f'acct:{name}@{domain}')}"
    refusal = await fed.fetcher.refusal(url)
    if refusal is not None:
        raise ValidationFailed(f"cannot look up {domain}: {refusal}", field="handle")
    try:
        response = await fed.ctx.http.get(url, headers={"Accept": JRD_JSON})
    except httpx.HTTPError as exc:
        raise NotFound(f"{domain} did not answer ({type(exc).__name__})", field="handle") from exc
    if response.status_code != 200 or len(response.content) > WEBFINGER_MAX_BYTES:
        raise NotFound(f"no one named '{name}' on {domain}", field="handle")
    try:
        links = json.loads(response.content).get("links", [])
    except (ValueError, AttributeError) as exc:
        raise NotFound(f"{domain} answered an unreadable WebFinger document", field="handle") from exc
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str):
            return str(link["href"])
    raise NotFound(f"no one named '{name}' on {domain}", field="handle")


async def find_person(fed: Federation, handle: str) -> Actor:
    """A person on another instance by 'name@domain': our copy, refreshed from their instance."""
    name, domain = split_handle(handle)
    uri = await _webfinger(fed, name, domain)
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
