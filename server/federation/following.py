"""Joining a community hosted on another instance: find its Group, mirror it here, send Follow."""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

import httpx

from server.activitypub.vocabulary import JRD_JSON
from server.context import Context
from server.errors import NotFound, ValidationFailed
from server.federation.state import Federation
from server.services import communities
from server.storage import federation as federation_store
from server.storage import federation_graph as graph
from server.storage.models import User
from server.storage.social import Community, Membership

WEBFINGER_MAX_BYTES = 64 * 1024


async def find_group(fed: Federation, handle: str) -> str:
    """The Group actor id for 'slug@domain' (by WebFinger) or for a Group URL."""
    handle = handle.strip().removeprefix("!").removeprefix("@")
    if handle.startswith(("https://", "http://")):
        return handle
    if handle.count("@") != 1:
        raise ValidationFailed("give 'community@instance' or the community's URL", field="handle")
    name, domain = handle.split("@")
    return await webfinger_self(fed, name, domain, missing=f"no community '{name}' on {domain}")


async def webfinger_self(fed: Federation, name: str, domain: str, *, missing: str) -> str:
    """The actor id `name@domain`'s WebFinger document links as `self`; `missing` says it is not there."""
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
        raise NotFound(missing, field="handle")
    try:
        links = json.loads(response.content).get("links", [])
    except (ValueError, AttributeError) as exc:
        raise NotFound(f"{domain} answered an unreadable WebFinger document", field="handle") from exc
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str):
            return str(link["href"])
    raise NotFound(missing, field="handle")


async def mirror_community(fed: Federation, group_uri: str) -> Community:
    """The local mirror of a Group hosted elsewhere, made (or refreshed) from its actor document."""
    stored = await fed.actors.refresh_actor(group_uri)
    if isinstance(stored, str):
        raise NotFound(f"cannot fetch that community: {stored}", field="handle")
    ctx: Context = fed.ctx
    async with ctx.transaction() as session:
        actor = await federation_store.get_actor_by_uri(session, group_uri)
        if actor is None or actor.kind != "Group" or actor.local:
            raise NotFound("that address is not a community on another instance", field="handle")
        found = await graph.community_of_group(session, group_uri)
        if found is not None:
            return found[0]
        raw = actor.raw or {}
        return await graph.add_mirror_community(
            session,
            Community(
                actor_id=actor.id,
                slug=f"{actor.username}@{urlsplit(group_uri).netloc}",
                name=actor.display_name,
                description=actor.summary,
                rules="",
                kind=str(raw.get("cercle:kind") or "interest")[:20],
                tags=[],
                visibility="closed" if actor.manually_approves else "open",
                local=False,
                created_at=ctx.clock.now(),
            ),
        )


async def join_remote(fed: Federation, user: User, handle: str) -> tuple[Community, Membership]:
    community = await mirror_community(fed, await find_group(fed, handle))
    ctx = fed.ctx
    async with ctx.transaction() as session:
        membership = await communities.join(session, ctx, ctx.clock.now(), user, community.slug)
    return community, membership
