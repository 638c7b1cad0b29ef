"""Actor documents and their collections: people (`Person`), communities (`Group`), the instance
(`Application`). The same URLs answer a small HTML page to browsers (see `negotiation`).

Authorized fetch: a GET that carries an HTTP signature must verify and come from an allowed peer, except
for the instance actor, which is always served as is (verifying there would make two instances fetch each
other's instance actors forever). Secret communities answer 404 to everyone but a signed fetch from an
instance where one of their members lives. Collections give only their size where their contents are
private (who follows whom is not published); the moderators of a community are listed (FEP-1b12).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519
from starlette.requests import Request
from starlette.responses import Response

from server.activitypub.keys import ed25519_public_to_multibase, load_public_key_pem
from server.activitypub.vocabulary import (
    application_actor,
    group_actor,
    ordered_collection,
    ordered_collection_page,
    person_actor,
)
from server.federation.authentication import Refusal, Signer, authenticate_request, has_signature
from server.federation.negotiation import (
    activity_response,
    page_response,
    problem_response,
    wants_document,
)
from server.federation.redaction import profile_for
from server.federation.state import Federation, federation_of
from server.services.actors import GROUP, PERSON, get_or_create_instance_actor, stored_keys
from server.storage import federation as store
from server.storage.social import Actor, ActorKey, Community

NOT_FOUND = ("not-found", "no such actor")


def _keys_for_document(key_rows: dict[str, ActorKey]) -> tuple[str, str | None]:
    ed_key = load_public_key_pem(key_rows["ed25519"].public_pem)
    multibase = ed25519_public_to_multibase(ed_key) if isinstance(ed_key, ed25519.Ed25519PublicKey) else None
    return key_rows["rsa"].public_pem, multibase


async def _requester(fed: Federation, request: Request) -> Signer | Refusal | None:
    if not has_signature(request.headers):
        return None
    return await authenticate_request(fed, request, b"")


def _not_found() -> Response:
    return problem_response(404, *NOT_FOUND)


async def _authorize(
    fed: Federation, request: Request, community: Community | None
) -> Response | Signer | None:
    """A refusal response, or who asked (None: an unsigned request)."""
    who = await _requester(fed, request)
    if isinstance(who, Refusal):
        return problem_response(who.status, who.code, who.detail)
    if community is not None and community.visibility == "secret":
        if who is None:
            return _not_found()
        async with fed.ctx.sessions() as session:
            # A member's or an invited person's instance reads the Group; so does an instance the Group
            # wrote to (its Reject of a Follow, a Block), which needs the Group's key to verify it.
            if not (
                await store.domain_has_member(session, community.id, who.domain, or_invited=True)
                or await store.has_written_to(session, community.actor_id, who.domain)
            ):
                return _not_found()
    return who


async def _local(fed: Federation, name: str, kind: str) -> tuple[Actor, Community | None] | None:
    async with fed.ctx.sessions() as session:
        actor = await store.get_local_actor(session, fed.ctx.settings.domain, name.lower(), kind)
        if actor is None:
            return None
        community = await store.get_community_of(session, actor.id) if kind == GROUP else None
    return actor, community


def _page(
    request: Request, actor: Actor, summary: str, fields: list[tuple[str, str]] | None = None
) -> Response:
    settings = request.app.state.ctx.settings
    return page_response(
        request,
        "actor.html",
        name=actor.display_name,
        handle=f"@{actor.username}@{settings.domain}",
        summary=summary,
        uri=actor.uri,
        instance=settings.instance_name,
        fields=fields or [],
    )


async def _key_material(fed: Federation, actor: Actor) -> tuple[str, str | None]:
    return _keys_for_document(await stored_keys(fed.ctx, actor.id))


FIELD_LABELS = {
    "job_title": "Job title",
    "department": "Department",
    "site": "Site",
    "languages": "Languages",
    "expertise": "Expertise",
    "interests": "Interests",
}


async def _network_profile(fed: Federation, actor: Actor) -> tuple[str, list[tuple[str, str]]]:
    """Summary and `PropertyValue` fields: only what the person shows to the network."""
    served = await profile_for(fed, actor, None, FIELD_LABELS)
    return served.summary, served.fields


async def person(request: Request) -> Response:
    fed = federation_of(request)
    found = await _local(fed, request.path_params["name"], PERSON)
    if found is None:
        return _not_found()
    actor, _ = found
    if not wants_document(request.headers.get("accept")):
        _, fields = await _network_profile(fed, actor)
        return _page(request, actor, actor.summary, fields)
    who = await _authorize(fed, request, None)
    if isinstance(who, Response):
        return who
    served = await profile_for(fed, actor, who, FIELD_LABELS)  # the charter's egress for this peer
    summary, fields = served.summary, served.fields
    rsa_pem, multibase = await _key_material(fed, actor)
    document = person_actor(
        id=actor.uri,
        username=actor.username,
        **_collections(fed, actor),
        public_key_pem=rsa_pem,
        ed25519_multibase=multibase,
        name=actor.display_name,
        summary=summary or None,
        url=actor.url,
        fields=fields,
        manually_approves_followers=actor.manually_approves,
    )
    return activity_response(document)


def _collections(fed: Federation, actor: Actor) -> dict[str, str]:
    """The inbox, outbox and collection URLs every local actor document carries."""
    return {
        "inbox": actor.inbox_url or f"{actor.uri}/inbox",
        "outbox": actor.outbox_url or f"{actor.uri}/outbox",
        "followers": actor.followers_url or f"{actor.uri}/followers",
        "following": f"{actor.uri}/following",
        "shared_inbox": actor.shared_inbox_url or f"{fed.ctx.settings.base_url}/inbox",
    }


def _approves(actor: Actor, community: Community | None) -> bool:
    return actor.manually_approves or (community is not None and community.visibility != "open")


async def group(request: Request) -> Response:
    fed = federation_of(request)
    found = await _local(fed, request.path_params["slug"], GROUP)
    if found is None:
        return _not_found()
    actor, community = found
    summary = community.description if community is not None else actor.summary
    if not wants_document(request.headers.get("accept")):
        if community is not None and community.visibility == "secret":
            return _not_found()
        return _page(request, actor, summary)
    who = await _authorize(fed, request, community)
    if isinstance(who, Response):
        return who
    rsa_pem, multibase = await _key_material(fed, actor)
    document = group_actor(
        id=actor.uri,
        username=actor.username,
        **_collections(fed, actor),
        moderators=f"{actor.uri}/moderators",
        public_key_pem=rsa_pem,
        ed25519_multibase=multibase,
        name=actor.display_name,
        summary=summary or None,
        url=actor.url,
        manually_approves_followers=_approves(actor, community),
    )
    document["discoverable"] = community is None or community.visibility != "secret"
    return activity_response(document)


async def instance_actor(request: Request) -> Response:
    fed = federation_of(request)
    settings = fed.ctx.settings
    async with fed.ctx.transaction() as session:
        actor = await get_or_create_instance_actor(session, settings, fed.ctx.clock.now())
    if not wants_document(request.headers.get("accept")):
        return _page(request, actor, "")
    rsa_pem, multibase = await _key_material(fed, actor)
    document = application_actor(
        id=actor.uri,
        username=actor.username,
        inbox=actor.inbox_url or f"{actor.uri}/inbox",
        outbox=actor.outbox_url or f"{actor.uri}/outbox",
        followers=actor.followers_url or f"{actor.uri}/followers",
        following=f"{actor.uri}/following",
        shared_inbox=f"{settings.base_url}/inbox",
        public_key_pem=rsa_pem,
        ed25519_multibase=multibase,
        name=actor.display_name,
    )
    return activity_response(document)


def _collection(request: Request, total: int, items: list[str] | None = None) -> Response:
    """An OrderedCollection with `total`; page 1 holds `items` (empty where contents are private)."""
    base = request.app.state.ctx.settings.base_url + request.url.path
    if request.query_params.get("page") is not None:
        if request.query_params.get("page") != "1":
            return problem_response(404, "not-found", "no such page")
        page = ordered_collection_page(
            f"{base}?page=1", part_of=base, ordered_items=items or [], total_items=total
        )
        return activity_response(page)
    return activity_response(ordered_collection(base, total_items=total, first=f"{base}?page=1"))


async def _collection_owner(request: Request) -> tuple[Federation, Actor, Community | None] | Response:
    fed = federation_of(request)
    if "slug" in request.path_params:
        found = await _local(fed, request.path_params["slug"], GROUP)
    elif "name" in request.path_params:
        found = await _local(fed, request.path_params["name"], PERSON)
    else:
        async with fed.ctx.transaction() as session:
            actor = await get_or_create_instance_actor(session, fed.ctx.settings, fed.ctx.clock.now())
        found = (actor, None)
    if found is None:
        return _not_found()
    actor, community = found
    who = await _authorize(fed, request, community)
    if isinstance(who, Response):
        return who
    return fed, actor, community


async def outbox(request: Request) -> Response:
    owner = await _collection_owner(request)
    if isinstance(owner, Response):
        return owner
    return _collection(request, 0)


async def followers(request: Request) -> Response:
    owner = await _collection_owner(request)
    if isinstance(owner, Response):
        return owner
    fed, actor, community = owner
    async with fed.ctx.sessions() as session:
        if community is not None:
            total = await store.count_members(session, community.id)
        else:
            total = await store.count_follows(session, followed_id=actor.id)
    return _collection(request, total)


async def following(request: Request) -> Response:
    owner = await _collection_owner(request)
    if isinstance(owner, Response):
        return owner
    fed, actor, community = owner
    total = 0
    if community is None:
        async with fed.ctx.sessions() as session:
            total = await store.count_follows(session, follower_id=actor.id)
    return _collection(request, total)


async def moderators(request: Request) -> Response:
    owner = await _collection_owner(request)
    if isinstance(owner, Response):
        return owner
    fed, _, community = owner
    if community is None:
        return _not_found()
    async with fed.ctx.sessions() as session:
        uris = await store.community_moderator_uris(session, community.id)
    return activity_response(
        ordered_collection(
            fed.ctx.settings.base_url + request.url.path, total_items=len(uris), ordered_items=uris
        )
    )
