"""Routes of the federation endpoints: discovery, actors and their collections, inboxes.

The actor documents are `DocumentRoute`s: they match only requests that ask for ActivityStreams, so the
web area keeps the same paths for its pages (``/c/<slug>`` is both the Group and the community page).
For that to work the app must mount these routes before the web pages. The last two routes are
stop-gap pages for browsers where no web page exists yet (people, the instance actor).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from server.federation import activities, actors, collections, discovery, objects
from server.federation.inbox import inbox
from server.federation.negotiation import DocumentRoute

routes: list[BaseRoute] = [
    Route("/.well-known/webfinger", discovery.webfinger),
    Route("/.well-known/nodeinfo", discovery.nodeinfo_index),
    Route("/nodeinfo/2.1", discovery.nodeinfo),
    Route("/.well-known/host-meta", discovery.host_meta_endpoint),
    Route("/inbox", inbox, methods=["POST"]),
    DocumentRoute("/actor", actors.instance_actor),
    Route("/actor/inbox", inbox, methods=["POST"]),
    Route("/actor/outbox", actors.outbox),
    Route("/actor/followers", actors.followers),
    Route("/actor/following", actors.following),
    DocumentRoute("/users/{name}", actors.person),
    Route("/users/{name}/inbox", inbox, methods=["POST"]),
    Route("/users/{name}/outbox", actors.outbox),
    Route("/users/{name}/followers", actors.followers),
    Route("/users/{name}/following", actors.following),
    DocumentRoute("/c/{slug}", actors.group),
    DocumentRoute("/posts/{post_id:int}", objects.post_object),
    Route("/posts/{post_id:int}/context", collections.thread_context),
    Route("/c/{slug}/inbox", inbox, methods=["POST"]),
    Route("/c/{slug}/outbox", collections.group_outbox),
    Route("/c/{slug}/followers", actors.followers),
    Route("/c/{slug}/following", actors.following),
    Route("/c/{slug}/moderators", actors.moderators),
    Route("/actor", actors.instance_actor),
    Route("/users/{name}", actors.person),
    *activities.routes,
]
