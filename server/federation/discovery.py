"""Discovery endpoints: WebFinger (RFC 7033), NodeInfo 2.1 (FEP-f1d5) and host-meta (RFC 6415)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import __version__
from server.activitypub.discovery import (
    WebFingerFailure,
    host_meta,
    jrd,
    nodeinfo_21,
    nodeinfo_links,
    parse_webfinger_resource,
)
from server.activitypub.vocabulary import JRD_JSON
from server.federation.negotiation import problem_response
from server.federation.state import federation_of
from server.services.actors import GROUP, PERSON
from server.storage import federation as store
from server.storage.social import Actor

CORS = {"Access-Control-Allow-Origin": "*"}
NODEINFO_21_PROFILE = 'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"'
SIGNATURE_SCHEMES = ["rfc9421", "draft-cavage-http-signatures-12"]


def _name_from_path(path: str) -> tuple[str, str] | None:
    """(kind, name) for a local actor URL path: /users/<name> or /c/<slug>."""
    parts = [p for p in path.split("/") if p]
    if len(parts) == 2 and parts[0] in ("users", "c"):
        return (PERSON if parts[0] == "users" else GROUP), parts[1]
    return None


async def _find(request: Request, name: str, kinds: tuple[str, ...]) -> Actor | None:
    fed = federation_of(request)
    domain = fed.ctx.settings.domain
    async with fed.ctx.sessions() as session:
        for kind in kinds:
            actor = await store.get_local_actor(session, domain, name.lower(), kind)
            if actor is None:
                continue
            if kind == GROUP:
                community = await store.get_community_of(session, actor.id)
                if community is not None and community.visibility == "secret":
                    return None
            return actor
    return None


async def webfinger(request: Request) -> Response:
    fed = federation_of(request)
    settings = fed.ctx.settings
    parsed = parse_webfinger_resource(request.query_params.get("resource"), local_domains={settings.domain})
    if isinstance(parsed, WebFingerFailure):
        response = problem_response(parsed.status, "webfinger", parsed.reason)
        response.headers.update(CORS)
        return response
    if parsed.kind == "acct":
        assert parsed.username is not None
        actor = await _find(request, parsed.username, (PERSON, GROUP))
    else:
        assert parsed.url is not None
        found = _name_from_path(urlsplit(parsed.url).path)
        actor = await _find(request, found[1], (found[0],)) if found else None
    if actor is None:
        response = problem_response(404, "not-found", "no such account on this server")
        response.headers.update(CORS)
        return response
    document = jrd(
        f"acct:{actor.username}@{settings.domain}",
        actor_url=actor.uri,
        profile_url=actor.url or actor.uri,
        aliases=[actor.uri],
    )
    return JSONResponse(document, media_type=JRD_JSON, headers=CORS)


async def nodeinfo_index(request: Request) -> Response:
    base = federation_of(request).ctx.settings.base_url
    return JSONResponse(nodeinfo_links(f"{base}/nodeinfo/2.1"), headers=CORS)


async def nodeinfo(request: Request) -> Response:
    fed = federation_of(request)
    settings, charter = fed.ctx.settings, fed.ctx.charter
    now = fed.ctx.clock.now()
    async with fed.ctx.sessions() as session:
        usage = await store.usage_counts(
            session, month_ago=now - timedelta(days=30), halfyear_ago=now - timedelta(days=180)
        )
    metadata = {
        "nodeName": settings.instance_name,
        "jurisdiction": charter.jurisdiction,
        "charter": {"id": charter.id, "version": charter.version},
        "federation": {"mode": settings.federation_mode, "signatures": SIGNATURE_SCHEMES},
    }
    document = nodeinfo_21(
        version=__version__,
        open_registrations=settings.registration == "open",
        users_total=usage.users_total,
        users_active_month=usage.users_active_month,
        users_active_halfyear=usage.users_active_halfyear,
        local_posts=usage.local_posts,
        metadata=metadata,
    )
    return JSONResponse(document, media_type=NODEINFO_21_PROFILE, headers=CORS)


async def host_meta_endpoint(request: Request) -> Response:
    base = federation_of(request).ctx.settings.base_url
    return Response(host_meta(base), media_type="application/xrd+xml", headers=CORS)
