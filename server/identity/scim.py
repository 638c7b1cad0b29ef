"""SCIM 2.0 provisioning: the company directory creates, updates and deactivates accounts.

`/scim/v2/Users` and `/scim/v2/Groups` (RFC 7644), behind a bearer token (`scim_token`, compared
in constant time; SCIM answers 404 everywhere while no token is configured).

- A SCIM User is a Cercle account with a directory entry. Its SCIM `id` is the account id; its
  `userName` is kept as the directory spells it (lower-case), while the Cercle user name is
  derived from it once, at creation, and never changes (peers know the person by it).
  `externalId` is stored as an external identity (`scim`, externalId).
- Profile fields: `displayName` (or `name.formatted`, or given and family names), `title` → job
  title, enterprise `department` → department, the work address's `locality` (or `formatted`)
  → site, enterprise `manager.value` → the manager (a SCIM id), `employeeNumber`.
- `active: false` (PUT or PATCH) deactivates: `accounts.disable_user` ends every session and API
  token, then `directory.on_deactivated` runs in the same transaction (the federation hook).
  `DELETE` deactivates too and forgets the directory link: the account's content stays, under the
  charter's retention.
- Creating a user whose e-mail address an account without a directory entry already has adopts
  that account, so an instance that ran before provisioning keeps its people.
- Groups are plain directory groups (`server/storage/identity.py`), not communities.

PUT replaces what the directory manages; PATCH is applied to the current representation and the
result is handled like a PUT (`scim_protocol.apply_patch`).
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.context import Context
from server.errors import CercleError
from server.identity import directory
from server.identity.scim_protocol import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    USER_SCHEMA,
    ScimError,
    apply_patch,
    as_bool,
    list_response,
    parse_filter,
)
from server.services.profiles import person_of
from server.storage import accounts as account_store
from server.storage import identity as store
from server.storage.identity import DirectoryEntry, DirectoryGroup
from server.storage.models import User

SCIM_JSON = "application/scim+json"
MAX_BODY = 1_048_576
MAX_PAGE = 200
PROVIDER = "scim"
USER_FILTERS = {
    "username": "userName",
    "externalid": "externalId",
    "id": "id",
    "emails.value": "emails.value",
}
GROUP_FILTERS = {"displayname": "displayName", "externalid": "externalId", "id": "id"}


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, media_type=SCIM_JSON, headers=headers)


def authorised(request: Request) -> bool:
    token = request.app.state.ctx.settings.scim_token
    supplied = request.headers.get("authorization", "")
    if token is None or supplied[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(supplied[7:].strip().encode(), token.get_secret_value().encode())


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ScimError(413, "request body too large")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ScimError(400, f"the body is not JSON: {exc}", "invalidSyntax") from exc
    if not isinstance(body, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    return body


def _location(ctx: Context, kind: str, ident: int) -> str:
    return f"{ctx.settings.base_url}/scim/v2/{kind}/{ident}"


def _text(value: Any, field: str, limit: int = 200) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScimError(400, f"{field} must be a string", "invalidValue")
    text = " ".join(value.split())
    if len(text) > limit:
        raise ScimError(400, f"{field} must be at most {limit} characters", "invalidValue")
    return text


def _get(resource: dict[str, Any], name: str) -> Any:
    lowered = name.lower()
    return next((value for key, value in resource.items() if key.lower() == lowered), None)


def _work_item(items: Any) -> dict[str, Any] | None:
    if not isinstance(items, list):
        return None
    found = [item for item in items if isinstance(item, dict)]
    for test in (lambda i: as_bool(_get(i, "primary"), False), lambda i: _get(i, "type") == "work"):
        chosen = next((item for item in found if test(item)), None)
        if chosen is not None:
            return chosen
    return found[0] if found else None


# --- users -----------------------------------------------------------------------------------


async def user_resource(
    session: AsyncSession, ctx: Context, user: User, entry: DirectoryEntry
) -> dict[str, Any]:
    actor, profile = await person_of(session, user)
    external = await store.identity_of(session, user.id, PROVIDER)
    manager = await account_store.get_user(session, entry.manager_id) if entry.manager_id else None
    enterprise: dict[str, Any] = {"department": profile.department, "employeeNumber": entry.employee_number}
    if manager is not None:
        enterprise["manager"] = {
            "value": str(manager.id),
            "$ref": _location(ctx, "Users", manager.id),
            "displayName": manager.display_name,
        }
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": str(user.id),
        "userName": entry.user_name,
        "displayName": actor.display_name,
        "name": {"formatted": actor.display_name},
        "title": profile.job_title,
        "active": user.is_active,
        "emails": [{"value": user.email, "type": "work", "primary": True}],
        "addresses": [{"type": "work", "locality": profile.site, "primary": True}] if profile.site else [],
        "groups": [
            {
                "value": str(group.id),
                "display": group.display_name,
                "$ref": _location(ctx, "Groups", group.id),
            }
            for group in await store.groups_of(session, user.id)
        ],
        ENTERPRISE_SCHEMA: enterprise,
        "meta": {
            "resourceType": "User",
            "created": entry.created_at.isoformat(),
            "lastModified": entry.updated_at.isoformat(),
            "location": _location(ctx, "Users", user.id),
        },
    }
    if external is not None:
        resource["externalId"] = external.subject
    return resource


def _display_name(resource: dict[str, Any]) -> str:
    name = _get(resource, "name")
    name = name if isinstance(name, dict) else {}
    joined = " ".join(
        part for part in (_get(name, "givenName"), _get(name, "familyName")) if isinstance(part, str)
    )
    return _text(_get(resource, "displayName") or _get(name, "formatted") or joined, "displayName")


def _user_fields(resource: dict[str, Any]) -> dict[str, Any]:
    """What Cercle keeps of a SCIM User representation, validated."""
    user_name = _text(_get(resource, "userName"), "userName", 320).lower()
    if not user_name:
        raise ScimError(400, "userName is required", "invalidValue")
    email_item = _work_item(_get(resource, "emails"))
    email = _text(_get(email_item, "value") if email_item else None, "emails.value", 320)
    if not email:
        raise ScimError(400, "a work e-mail address (emails) is required", "invalidValue")
    address = _work_item(_get(resource, "addresses"))
    site = (_get(address, "locality") or _get(address, "formatted")) if address else None
    enterprise = _get(resource, ENTERPRISE_SCHEMA)
    enterprise = enterprise if isinstance(enterprise, dict) else {}
    manager = _get(enterprise, "manager")
    manager_id = _get(manager, "value") if isinstance(manager, dict) else manager
    external_id = _get(resource, "externalId")
    return {
        "user_name": user_name,
        "email": email,
        "active": as_bool(_get(resource, "active")),
        "external_id": _text(external_id, "externalId", 255) or None,
        "profile": {
            "display_name": _display_name(resource) or None,
            "job_title": _text(_get(resource, "title"), "title"),
            "department": _text(_get(enterprise, "department"), "department"),
            "site": _text(site, "addresses.locality"),
        },
        "manager_id": str(manager_id) if manager_id not in (None, "") else None,
        "employee_number": _text(_get(enterprise, "employeeNumber"), "employeeNumber", 100),
    }


async def _manager_id(session: AsyncSession, value: str | None, user_id: int) -> int | None:
    """The manager's account id, when `value` is the SCIM id of another directory user."""
    if not value or not value.isdigit() or int(value) == user_id:
        return None
    return int(value) if await store.get_directory_entry(session, int(value)) is not None else None


async def _apply_user(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    user: User,
    entry: DirectoryEntry,
    fields: dict[str, Any],
) -> None:
    settings = ctx.settings
    other = await store.get_directory_entry_by_name(session, fields["user_name"])
    if other is not None and other.user_id != user.id:
        raise ScimError(409, "another user has this userName", "uniqueness")
    entry.user_name = fields["user_name"]
    entry.employee_number = fields["employee_number"]
    entry.manager_id = await _manager_id(session, fields["manager_id"], user.id)
    entry.updated_at = now
    await directory.change_email(session, user, fields["email"])
    await directory.apply_profile(session, settings, now, user, fields["profile"])
    external = await store.identity_of(session, user.id, PROVIDER)
    if fields["external_id"] is not None and (external is None or external.subject != fields["external_id"]):
        taken = await store.get_identity(session, PROVIDER, fields["external_id"])
        if taken is not None and taken.user_id != user.id:
            raise ScimError(409, "another user has this externalId", "uniqueness")
        await store.unlink_identities(session, user.id, PROVIDER)
        await store.link_identity(session, user.id, PROVIDER, fields["external_id"], now)
    if fields["active"]:
        await directory.reactivate(session, settings, now, user)
    else:
        await directory.deactivate(session, settings, now, user)
    await session.flush()


async def create_user(session: AsyncSession, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    now = ctx.clock.now()
    fields = _user_fields(body)
    if await store.get_directory_entry_by_name(session, fields["user_name"]) is not None:
        raise ScimError(409, "a user with this userName exists", "uniqueness")
    user = await account_store.get_user_by_login(session, fields["email"])
    if user is not None and await store.get_directory_entry(session, user.id) is not None:
        raise ScimError(409, "a user with this e-mail address exists", "uniqueness")
    if user is None:
        user = await directory.create_account(
            session,
            ctx.settings,
            now,
            wanted_username=fields["user_name"],
            email=fields["email"],
            display_name=fields["profile"]["display_name"] or "",
        )
    entry = DirectoryEntry(user_id=user.id, user_name=fields["user_name"], created_at=now, updated_at=now)
    session.add(entry)
    await _apply_user(session, ctx, now, user, entry, fields)
    return await user_resource(session, ctx, user, entry)


async def directory_user(session: AsyncSession, ident: str) -> tuple[User, DirectoryEntry]:
    entry = await store.get_directory_entry(session, int(ident)) if ident.isdigit() else None
    user = await account_store.get_user(session, entry.user_id) if entry is not None else None
    if user is None or entry is None:
        raise ScimError(404, f"no user {ident}")
    return user, entry


async def replace_user(
    session: AsyncSession, ctx: Context, ident: str, body: dict[str, Any]
) -> dict[str, Any]:
    user, entry = await directory_user(session, ident)
    await _apply_user(session, ctx, ctx.clock.now(), user, entry, _user_fields(body))
    return await user_resource(session, ctx, user, entry)


async def patch_user(session: AsyncSession, ctx: Context, ident: str, body: dict[str, Any]) -> dict[str, Any]:
    user, entry = await directory_user(session, ident)
    current = await user_resource(session, ctx, user, entry)
    await _apply_user(session, ctx, ctx.clock.now(), user, entry, _user_fields(apply_patch(current, body)))
    return await user_resource(session, ctx, user, entry)


async def delete_user(session: AsyncSession, ctx: Context, ident: str) -> None:
    user, entry = await directory_user(session, ident)
    await directory.deactivate(session, ctx.settings, ctx.clock.now(), user)
    await store.unlink_identities(session, user.id, PROVIDER)
    await session.delete(entry)
    await session.flush()


# --- groups ----------------------------------------------------------------------------------


def group_resource(ctx: Context, group: DirectoryGroup, members: list[User]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.id),
        "displayName": group.display_name,
        "members": [
            {"value": str(user.id), "display": user.display_name, "$ref": _location(ctx, "Users", user.id)}
            for user in members
        ],
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.isoformat(),
            "lastModified": group.updated_at.isoformat(),
            "location": _location(ctx, "Groups", group.id),
        },
    }
    if group.external_id:
        resource["externalId"] = group.external_id
    return resource


async def _apply_group(
    session: AsyncSession, group: DirectoryGroup, body: dict[str, Any], now: datetime
) -> None:
    name = _text(_get(body, "displayName"), "displayName", 255)
    if not name:
        raise ScimError(400, "displayName is required", "invalidValue")
    external_id = _text(_get(body, "externalId"), "externalId", 255) or None
    for key, value in (("displayName", name), ("externalId", external_id)):
        if value is None:
            continue
        _, same = await store.list_groups(session, start=1, count=2, where={key: value})
        if any(other.id != group.id for other in same):
            raise ScimError(409, f"another group has this {key}", "uniqueness")
    group.display_name = name
    group.external_id = external_id
    group.updated_at = now
    members = _get(body, "members") or []
    if not isinstance(members, list):
        raise ScimError(400, "members must be a list", "invalidValue")
    wanted = [
        int(v) for item in members if isinstance(item, dict) and str(v := _get(item, "value")).isdigit()
    ]
    known = await store.existing_user_ids(session, wanted)
    await session.flush()
    await store.remove_members(session, group.id, None)
    await store.add_members(session, group.id, [user_id for user_id in wanted if user_id in known])


async def _group_with_members(session: AsyncSession, ctx: Context, group: DirectoryGroup) -> dict[str, Any]:
    members = await store.group_members(session, [group.id])
    return group_resource(ctx, group, members[group.id])


async def create_group(session: AsyncSession, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    now = ctx.clock.now()
    group = DirectoryGroup(display_name="", created_at=now, updated_at=now)
    session.add(group)
    await _apply_group(session, group, body, now)
    return await _group_with_members(session, ctx, group)


async def directory_group(session: AsyncSession, ident: str) -> DirectoryGroup:
    group = await store.get_group(session, int(ident)) if ident.isdigit() else None
    if group is None:
        raise ScimError(404, f"no group {ident}")
    return group


async def replace_group(
    session: AsyncSession, ctx: Context, ident: str, body: dict[str, Any]
) -> dict[str, Any]:
    group = await directory_group(session, ident)
    await _apply_group(session, group, body, ctx.clock.now())
    return await _group_with_members(session, ctx, group)


async def patch_group(
    session: AsyncSession, ctx: Context, ident: str, body: dict[str, Any]
) -> dict[str, Any]:
    group = await directory_group(session, ident)
    current = await _group_with_members(session, ctx, group)
    await _apply_group(session, group, apply_patch(current, body), ctx.clock.now())
    return await _group_with_members(session, ctx, group)


async def delete_group(session: AsyncSession, ident: str) -> None:
    await session.delete(await directory_group(session, ident))
    await session.flush()


# --- endpoints -------------------------------------------------------------------------------


def _paging(request: Request) -> tuple[int, int]:
    try:
        start = max(1, int(request.query_params.get("startIndex", "1")))
        count = min(MAX_PAGE, max(0, int(request.query_params.get("count", "100"))))
    except ValueError as exc:
        raise ScimError(400, "startIndex and count must be integers", "invalidValue") from exc
    return start, count


async def users_endpoint(request: Request) -> Response:
    return await _answer(request, _users)


async def user_endpoint(request: Request) -> Response:
    return await _answer(request, _user)


async def groups_endpoint(request: Request) -> Response:
    return await _answer(request, _groups)


async def group_endpoint(request: Request) -> Response:
    return await _answer(request, _group)


async def service_provider_config(request: Request) -> Response:
    async def config(_: AsyncSession, ctx: Context, __: Request) -> Response:
        return scim_response(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": MAX_PAGE},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": False},
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "Bearer token",
                        "description": "The scim_token setting",
                    }
                ],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": f"{ctx.settings.base_url}/scim/v2/ServiceProviderConfig",
                },
            }
        )

    return await _answer(request, config)


async def _users(session: AsyncSession, ctx: Context, request: Request) -> Response:
    if request.method == "POST":
        resource = await create_user(session, ctx, await read_body(request))
        return scim_response(resource, 201, {"Location": resource["meta"]["location"]})
    start, count = _paging(request)
    where = parse_filter(request.query_params.get("filter"), USER_FILTERS)
    total, users = await store.list_directory_users(session, start=start, count=count, where=where)
    resources = []
    for user in users:
        entry = await store.get_directory_entry(session, user.id)
        assert entry is not None
        resources.append(await user_resource(session, ctx, user, entry))
    return scim_response(list_response(resources, total, start))


async def _user(session: AsyncSession, ctx: Context, request: Request) -> Response:
    ident = request.path_params["ident"]
    if request.method == "GET":
        user, entry = await directory_user(session, ident)
        return scim_response(await user_resource(session, ctx, user, entry))
    if request.method == "PUT":
        return scim_response(await replace_user(session, ctx, ident, await read_body(request)))
    if request.method == "PATCH":
        return scim_response(await patch_user(session, ctx, ident, await read_body(request)))
    await delete_user(session, ctx, ident)
    return Response(status_code=204)


async def _groups(session: AsyncSession, ctx: Context, request: Request) -> Response:
    if request.method == "POST":
        resource = await create_group(session, ctx, await read_body(request))
        return scim_response(resource, 201, {"Location": resource["meta"]["location"]})
    start, count = _paging(request)
    where = parse_filter(request.query_params.get("filter"), GROUP_FILTERS)
    total, groups = await store.list_groups(session, start=start, count=count, where=where)
    excluded = request.query_params.get("excludedAttributes", "").lower()
    members = {} if "members" in excluded else await store.group_members(session, [g.id for g in groups])
    resources = [group_resource(ctx, group, members.get(group.id, [])) for group in groups]
    return scim_response(list_response(resources, total, start))


async def _group(session: AsyncSession, ctx: Context, request: Request) -> Response:
    ident = request.path_params["ident"]
    if request.method == "GET":
        return scim_response(await _group_with_members(session, ctx, await directory_group(session, ident)))
    if request.method == "PUT":
        return scim_response(await replace_group(session, ctx, ident, await read_body(request)))
    if request.method == "PATCH":
        return scim_response(await patch_group(session, ctx, ident, await read_body(request)))
    await delete_group(session, ident)
    return Response(status_code=204)


async def _answer(request: Request, handler: Any) -> Response:
    """Authorise, run `handler` in one transaction, and turn refusals into SCIM errors."""
    ctx: Context = request.app.state.ctx
    if ctx.settings.scim_token is None:
        return scim_response(ScimError(404, "SCIM provisioning is not enabled").body(), 404)
    if not authorised(request):
        error = ScimError(401, "a valid bearer token is required")
        return scim_response(error.body(), 401, {"WWW-Authenticate": 'Bearer realm="scim"'})
    try:
        async with ctx.transaction() as session:
            response: Response = await handler(session, ctx, request)
            return response
    except ScimError as error:
        return scim_response(error.body(), error.status)
    except CercleError as error:
        scim_type = "uniqueness" if error.status == 409 else "invalidValue"
        detail = f"{error.field}: {error.message}" if error.field else error.message
        return scim_response(ScimError(error.status, detail, scim_type).body(), error.status)
