"""Discovery documents: WebFinger (RFC 7033), NodeInfo 2.1 and host-meta (RFC 6415)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from server.activitypub.vocabulary import ACTIVITY_JSON

PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
NODEINFO_21_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2.1"
NODEINFO_21_PROFILE = "http://nodeinfo.diaspora.software/ns/schema/2.1#"


@dataclass(frozen=True, slots=True)
class WebFingerResource:
    kind: Literal["acct", "url"]
    domain: str
    username: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class WebFingerFailure:
    """``status`` is 400 for a missing or malformed resource, 404 for one that is not ours."""

    reason: str
    status: int


def parse_webfinger_resource(
    resource: str | None, *, local_domains: Collection[str]
) -> WebFingerResource | WebFingerFailure:
    if not resource:
        return WebFingerFailure("missing resource", 400)
    domains = {d.lower() for d in local_domains}
    if resource.startswith(("https://", "http://")):
        try:
            parts = urlsplit(resource)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return WebFingerFailure("malformed resource", 400)
        if not parts.hostname:
            return WebFingerFailure("malformed resource", 400)
        domain = parts.netloc.rsplit("@", 1)[-1].lower()
        if domain not in domains:
            return WebFingerFailure("resource is not on this server", 404)
        return WebFingerResource("url", domain, None, resource)
    account = resource[5:] if resource[:5].lower() == "acct:" else resource
    username, at, domain = account.rpartition("@")
    domain = domain.lower()
    if not at or not username or not domain or any(c in account for c in "/?# ") or "@" in username:
        return WebFingerFailure("malformed resource", 400)
    if domain not in domains:
        return WebFingerFailure("resource is not on this server", 404)
    return WebFingerResource("acct", domain, username, None)


def jrd(
    subject: str, *, actor_url: str, profile_url: str | None = None, aliases: Sequence[str] = ()
) -> dict[str, Any]:
    links: list[dict[str, str]] = [{"rel": "self", "type": ACTIVITY_JSON, "href": actor_url}]
    if profile_url is not None:
        links.append({"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url})
    return {"subject": subject, "aliases": list(aliases), "links": links}


def nodeinfo_21(
    *,
    version: str,
    open_registrations: bool,
    users_total: int,
    users_active_month: int,
    users_active_halfyear: int,
    local_posts: int,
    metadata: Mapping[str, Any],
    inbound_services: Sequence[str] = (),
    outbound_services: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "version": "2.1",
        "software": {"name": "cercle", "version": version},
        "protocols": ["activitypub"],
        "services": {"inbound": list(inbound_services), "outbound": list(outbound_services)},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {
                "total": users_total,
                "activeMonth": users_active_month,
                "activeHalfyear": users_active_halfyear,
            },
            "localPosts": local_posts,
        },
        "metadata": dict(metadata),
    }


def nodeinfo_links(nodeinfo_url: str) -> dict[str, Any]:
    """The ``/.well-known/nodeinfo`` document pointing at the 2.1 document."""
    return {"links": [{"rel": NODEINFO_21_SCHEMA, "href": nodeinfo_url}]}


def host_meta(base_url: str) -> str:
    template = base_url.rstrip("/") + "/.well-known/webfinger?resource={uri}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="application/jrd+json" template={quoteattr(template)}/>\n'
        "</XRD>\n"
    )
