"""The OpenAPI 3.1 description of `/api/v1`, served at `/api/openapi.json`.

Written as data next to the routes; a test checks that every API route is described and that
the document is valid OpenAPI 3.1, so the two cannot drift apart silently.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server import __version__

JSON = "application/json"
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NSTR = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time"}
STRS = {"type": "array", "items": STR}

SCHEMAS: dict[str, Any] = {
    "Problem": _obj(
        ["type", "title", "status", "detail"],
        type=STR,
        title=STR,
        status=INT,
        detail=STR,
        errors={"type": "array", "items": _obj(["field", "detail"], field=STR, detail=STR)},
    ),
    "User": _obj(
        ["id", "username"],
        id=INT,
        username=STR,
        display_name=STR,
        email=STR,
        is_admin=BOOL,
        language=NSTR,
        created_at=TIME,
    ),
    "Token": _obj(
        ["id", "name"],
        id=INT,
        name=STR,
        created_at=TIME,
        last_used_at={"type": ["string", "null"]},
        revoked=BOOL,
        token={"type": "string", "description": "Only in the answer to its creation."},
    ),
    "Actor": _obj(
        ["username", "domain"], username=STR, display_name=STR, domain=STR, local=BOOL, handle=STR, url=STR
    ),
    "Community": _obj(
        ["slug", "name", "kind", "visibility"],
        slug=STR,
        name=STR,
        kind={"enum": ["functional", "project", "practice", "expertise", "interest", "sector"]},
        visibility={"enum": ["open", "closed", "secret"]},
        tags=STRS,
        description=STR,
        rules=STR,
        local=BOOL,
        created_at=TIME,
        member_count=INT,
        my_membership={"oneOf": [{"type": "null"}, _obj(["role", "state"], role=STR, state=STR)]},
    ),
    "NewCommunity": _obj(
        ["slug", "name", "kind"],
        slug=STR,
        name=STR,
        kind=STR,
        visibility={"enum": ["open", "closed", "secret"]},
        description=STR,
        rules=STR,
        tags=STRS,
    ),
    "Membership": _obj(
        ["id", "person", "role", "state"], id=INT, person=_ref("Actor"), role=STR, state=STR, since=TIME
    ),
    "Post": _obj(
        ["id", "uri", "kind", "author", "content_html"],
        id=INT,
        uri=STR,
        kind={"enum": ["post", "comment", "poll"]},
        author=_ref("Actor"),
        title=STR,
        content_html=STR,
        source=STR,
        on_profile=BOOL,
        communities={"type": "array", "items": _obj(["slug"], slug=STR, name=STR, pinned=BOOL)},
        parent_id={"type": ["integer", "null"]},
        root_id={"type": ["integer", "null"]},
        created_at=TIME,
        edited_at={"type": ["string", "null"]},
        deleted=BOOL,
        held=BOOL,
        comment_count=INT,
        reactions={"type": "object", "additionalProperties": INT},
        my_reactions=STRS,
        attachments={"type": "array", "items": {"type": "object"}},
        poll={"type": "object"},
    ),
    "NewPost": _obj(
        ["body"],
        title=STR,
        body=STR,
        communities=STRS,
        on_profile=BOOL,
        poll_options=STRS,
        language=STR,
        attachment_ids={"type": "array", "items": INT},
    ),
    "Page": _obj(["items"], items={"type": "array", "items": _ref("Post")}, next_cursor=NSTR),
    "NewReport": _obj(
        ["category"],
        category={"enum": ["spam", "harassment", "confidential", "charter", "off_topic", "other"]},
        comment=STR,
        community=STR,
    ),
    "Report": _obj(
        ["id", "community", "post_id", "category", "state"],
        id=INT,
        uri=STR,
        community=STR,
        post_id=INT,
        category=STR,
        comment=STR,
        state={"enum": ["open", "dismissed", "removed", "forwarded"]},
        reporter={"oneOf": [{"type": "null"}, _ref("Actor")]},
        origin=NSTR,
        created_at=TIME,
        resolved_at=NSTR,
        post=_ref("Post"),
    ),
    "Notification": _obj(
        ["id", "kind"],
        id=INT,
        kind=STR,
        actor={"type": ["object", "null"]},
        community={"type": ["object", "null"]},
        post_id={"type": ["integer", "null"]},
        detail=STR,
        created_at=TIME,
        read=BOOL,
    ),
}

_ERRORS = {
    str(code): {"description": text, "content": {PROBLEM: {"schema": _ref("Problem")}}}
    for code, text in ((401, "Not signed in"), (403, "Forbidden"), (404, "Not found"), (422, "Invalid input"))
}


def _op(
    summary: str, *, ok: int = 200, body: str | None = None, returns: Any = None, query: tuple[str, ...] = ()
) -> Any:
    op: dict[str, Any] = {"summary": summary, "responses": {**_ERRORS}}
    if returns is None:
        op["responses"][str(ok)] = {"description": "Done"}
    else:
        op["responses"][str(ok)] = {"description": "OK", "content": {JSON: {"schema": returns}}}
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": _ref(body) if body[0].isupper() else {}}},
        }
    if query:
        op["parameters"] = [{"name": q, "in": "query", "required": False, "schema": STR} for q in query]
    return op


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]
    return [
        {"name": n, "in": "path", "required": True, "schema": INT if n.endswith("id") else STR} for n in names
    ]


def _list(ref: str) -> dict[str, Any]:
    return _obj(["items"], items={"type": "array", "items": _ref(ref)}, next_cursor=NSTR)


PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/me": {"get": _op("The signed-in person", returns=_ref("User"))},
    "/api/v1/tokens": {
        "get": _op("My personal API tokens", returns=_list("Token")),
        "post": _op(
            "Create a token (the secret is shown once)", ok=201, body="object", returns=_ref("Token")
        ),
    },
    "/api/v1/tokens/{token_id}": {"delete": _op("Revoke a token", ok=204)},
    "/api/v1/communities": {
        "get": _op(
            "Community directory", returns=_list("Community"), query=("q", "kind", "tag", "cursor", "limit")
        ),
        "post": _op("Create a community", ok=201, body="NewCommunity", returns=_ref("Community")),
    },
    "/api/v1/communities/remote": {
        "post": _op(
            "Join a community hosted on another instance (handle: 'slug@instance' or its URL); "
            "the membership stays pending until that instance accepts",
            ok=202,
            body="object",
            returns=_ref("Community"),
        )
    },
    "/api/v1/communities/{slug}": {
        "get": _op("A community", returns=_ref("Community")),
        "patch": _op("Edit a community (managers)", body="object", returns=_ref("Community")),
    },
    "/api/v1/communities/{slug}/join": {"post": _op("Join, ask to join, or accept an invitation", ok=201)},
    "/api/v1/communities/{slug}/leave": {"post": _op("Leave", ok=204)},
    "/api/v1/communities/{slug}/members": {
        "get": _op(
            "Members (state=active|pending|invited|banned)",
            returns=_list("Membership"),
            query=("state", "after"),
        )
    },
    "/api/v1/communities/{slug}/invitations": {
        "post": _op("Invite a person (a user name, or name@instance elsewhere)", ok=201, body="object")
    },
    "/api/v1/communities/{slug}/requests/{username}/{decision}": {
        "post": _op("Approve or deny a request to join (decision: approve|deny)")
    },
    "/api/v1/communities/{slug}/members/{username}/{what}": {
        "post": _op("Remove, ban, or change the role of a member (what: remove|ban|role)", ok=204)
    },
    "/api/v1/communities/{slug}/feed": {
        "get": _op("Community feed", returns=_ref("Page"), query=("cursor", "limit"))
    },
    "/api/v1/communities/{slug}/pins/{post_id}": {
        "put": _op("Pin a post", ok=204),
        "delete": _op("Unpin a post", ok=204),
    },
    "/api/v1/posts": {"post": _op("Write a post or a poll", ok=201, body="NewPost", returns=_ref("Post"))},
    "/api/v1/posts/{post_id}": {
        "get": _op("A post", returns=_ref("Post")),
        "patch": _op("Edit my post (the previous version is kept)", body="object", returns=_ref("Post")),
        "delete": _op("Delete (a tombstone remains for replies)", ok=204),
    },
    "/api/v1/posts/{post_id}/thread": {"get": _op("A post and its comments", returns={"type": "object"})},
    "/api/v1/posts/{post_id}/revisions": {
        "get": _op("Earlier versions of a post", returns={"type": "object"})
    },
    "/api/v1/posts/{post_id}/deliveries": {
        "get": _op(
            "Where a post went: per peer instance, state (pending, delivered, given_up, awaiting_consent), "
            "when, and the charter article that decided",
            returns={"type": "object"},
        )
    },
    "/api/v1/posts/{post_id}/comments": {"post": _op("Comment", ok=201, body="object", returns=_ref("Post"))},
    "/api/v1/posts/{post_id}/reactions/{kind}": {
        "put": _op("React (like, celebrate, support, insightful, curious)", ok=201),
        "delete": _op("Remove my reaction", ok=204),
    },
    "/api/v1/posts/{post_id}/votes": {"post": _op("Vote in a poll", ok=204, body="object")},
    "/api/v1/feed/home": {"get": _op("Home feed", returns=_ref("Page"), query=("cursor", "limit"))},
    "/api/v1/people/{username}/posts": {
        "get": _op("A person's posts", returns=_ref("Page"), query=("cursor", "limit"))
    },
    "/api/v1/people/{username}/follow": {
        "put": _op("Follow (a user name, or name@instance elsewhere)", ok=204),
        "delete": _op("Unfollow", ok=204),
    },
    "/api/v1/notifications": {
        "get": _op("My notifications", returns=_list("Notification"), query=("before", "limit", "unread"))
    },
    "/api/v1/notifications/read": {"post": _op("Mark notifications read", body="object")},
    "/api/v1/unread": {"get": _op("Unread counts", returns={"type": "object", "additionalProperties": INT})},
    "/api/v1/profile": {
        "get": _op("My profile, with each field's visibility", returns={"type": "object"}),
        "patch": _op(
            "Change my profile: any of display_name, job_title, department, site, languages, expertise, "
            "interests, bio, contact, visibility (field → network|instance|nobody), avatar_attachment_id",
            body="object",
            returns={"type": "object"},
        ),
    },
    "/api/v1/people": {
        "get": _op(
            "People directory: who knows about X",
            returns={"type": "object"},
            query=("q", "expertise", "interest", "language", "department", "site", "cursor", "limit"),
        )
    },
    "/api/v1/mentions": {
        "get": _op(
            "Whom '@q' may mean: people whose user name or name starts with q (q may be 'name@instance'), "
            "among those I may see; for autocompletion",
            returns=_obj(
                ["items"],
                items={
                    "type": "array",
                    "items": _obj(
                        ["username", "domain", "local", "display_name", "handle"],
                        username=STR,
                        domain=STR,
                        local=BOOL,
                        display_name=STR,
                        handle=STR,
                    ),
                },
            ),
            query=("q", "limit"),
        )
    },
    "/api/v1/people/{username}": {
        "get": _op("A person's profile, as I may see it", returns={"type": "object"})
    },
    "/api/v1/media": {
        "post": {
            **_op(
                "Upload a file (multipart field 'file', optional 'description')",
                ok=201,
                returns={"type": "object"},
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": _obj(["file"], file={"type": "string", "format": "binary"}, description=STR)
                    }
                },
            },
        }
    },
    "/api/v1/media/{attachment_id}": {"get": _op("An attachment's metadata", returns={"type": "object"})},
    "/api/v1/charter": {"get": _op("The charter in force, in my language, and whether I must accept it")},
    "/api/v1/charter/accept": {"post": _op("Accept the charter in force")},
    "/api/v1/charter/consents": {
        "get": _op("My cross-border consents"),
        "post": _op("Give a separate cross-border consent (jurisdiction)", body="object"),
        "delete": _op("Withdraw a consent (jurisdiction)", body="object"),
    },
    "/api/v1/charter/acceptances": {"get": _op("Acceptance records (administrators; ?format=csv)")},
    "/api/v1/audit": {
        "get": _op(
            "The charter audit log (administrators)",
            query=("since", "article", "action", "point", "cursor", "limit"),
        )
    },
    "/api/v1/legal-holds": {
        "get": _op("Legal holds (administrators)"),
        "post": _op("Place a legal hold (administrators)", ok=201, body="object"),
    },
    "/api/v1/legal-holds/{hold_id}/release": {"post": _op("Release a legal hold (administrators)")},
    "/api/v1/search": {
        "get": _op(
            "Full-text search over what I may see (kind: post, comment, document, community, person; "
            "comma-separated), ranked, with highlighted snippets and the thread of each hit",
            returns={"type": "object"},
            query=("q", "kind", "community", "author", "since", "until", "has_attachment", "cursor", "limit"),
        )
    },
    "/api/v1/search/people": {
        "get": _op(
            "Who knows about X: people ranked by declared expertise and activity in communities on X",
            returns={"type": "object"},
            query=("q", "department", "site", "language", "limit"),
        )
    },
    "/api/v1/communities/{slug}/analytics": {
        "get": _op(
            "Adoption figures of a community (owners, managers, administrators); "
            "format=json|csv|svg (svg: series=members|active_members|posts|comments|reactions)",
            returns={"type": "object"},
            query=("format", "weeks", "series"),
        )
    },
    "/api/v1/posts/{post_id}/reports": {
        "post": _op(
            "Report a post or comment to its community's moderators (category: spam, harassment, "
            "confidential, charter, off_topic, other; optional comment and community)",
            ok=201,
            body="NewReport",
            returns=_list("Report"),
        )
    },
    "/api/v1/communities/{slug}/moderation": {
        "get": _op(
            "The moderation queue (moderators): open reports with their post, and posts held by the charter",
            returns=_obj(
                ["reports", "held"],
                community=STR,
                reports={"type": "array", "items": _ref("Report")},
                held={"type": "array", "items": _ref("Post")},
            ),
        )
    },
    "/api/v1/communities/{slug}/reports/{report_id}/{decision}": {
        "post": _op(
            "Decide on a report (moderators; decision: dismiss|remove — remove deletes the post)",
            returns=_ref("Report"),
        )
    },
    "/api/v1/communities/{slug}/held/{post_id}/{decision}": {
        "post": _op("Approve or reject a post held by the charter (moderators)", returns=_ref("Post"))
    },
    "/api/v1/communities/{slug}/bans": {
        "get": _op("Banned people (moderators)", returns=_list("Membership"))
    },
    "/api/v1/communities/{slug}/bans/{username}": {"delete": _op("Lift a ban (moderators)", ok=204)},
    "/api/v1/analytics": {
        "get": _op(
            "Adoption figures of the instance (administrators); format=json|csv|svg",
            returns={"type": "object"},
            query=("format", "weeks", "series"),
        )
    },
}


def document() -> dict[str, Any]:
    paths = copy.deepcopy(PATHS)
    for path, operations in paths.items():
        params = _path_params(path)
        if params:
            for operation in operations.values():
                operation.setdefault("parameters", [])
                names = {p["name"] for p in operation["parameters"]}
                operation["parameters"] = [p for p in params if p["name"] not in names] + operation[
                    "parameters"
                ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cercle API",
            "version": __version__,
            "description": "The JSON API of a Cercle instance. Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (cercle_…)",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "cercle_session"},
            },
        },
        "paths": paths,
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document())


routes = [Route("/api/openapi.json", openapi_json)]
