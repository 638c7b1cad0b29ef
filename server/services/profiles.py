"""Rich profiles and the people directory.

Every profile field has a visibility chosen by its owner: `network` (anyone on any federated
instance), `instance` (people on the owner's instance) or `nobody` (the owner and the instance's
administrators). A viewer is one of three levels relative to a profile: `owner` (the person, or
an administrator of the person's instance), `instance` (a local user looking at a local person)
or `network` (everyone else: remote viewers, and local users looking at a remote person).
`profile_view()` is the one pure function that applies this; the directory applies the same
table in SQL, so a filter never matches on a field the viewer may not see.

A remote person is known here only because someone here met them, possibly in a secret community,
so the directory lists them, and their profile is shown, only to a viewer who may know them
(`server.services.acquaintances`); to anyone else their profile answers 404, like a person who does
not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.errors import NotFound, ValidationFailed
from server.services.accounts import EMAIL_RE, validate_display_name
from server.services.acquaintances import known_people, may_know
from server.services.rendering import render_markdown
from server.storage import media as media_store
from server.storage import profiles as store
from server.storage.models import User
from server.storage.social import Actor, Profile

Viewer = Literal["owner", "instance", "network"]
LEVELS = ("network", "instance", "nobody")
SEEN_BY: dict[Viewer, frozenset[str]] = {
    "owner": frozenset(LEVELS),
    "instance": frozenset({"network", "instance"}),
    "network": frozenset({"network"}),
}

TEXT_FIELDS = ("job_title", "department", "site")
TAG_FIELDS = {"languages": "language", "expertise": "expertise", "interests": "interest"}
PROFILE_FIELDS = (*TEXT_FIELDS, *TAG_FIELDS, "bio")
CONTACT_FIELDS: dict[str, int] = {
    "phone": 40,
    "mobile": 40,
    "office": 200,
    "email": 254,
    "chat": 200,
    "website": 500,
}
DEFAULT_VISIBILITY: dict[str, str] = {
    **dict.fromkeys(PROFILE_FIELDS, "network"),
    **dict.fromkeys(CONTACT_FIELDS, "instance"),
}

MAX_TEXT = 200
MAX_BIO = 10_000
MAX_TAGS = 30
MAX_TAG_LENGTH = 100
DEFAULT_PAGE = 20
MAX_PAGE = 100
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().\-/]{1,30}(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)
WEBSITE_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
EDITABLE = frozenset({"display_name", "avatar_id", *PROFILE_FIELDS, "contact", "visibility"})


def effective_visibility(profile: Profile) -> dict[str, str]:
    stored = profile.visibility or {}
    return {name: (stored.get(name) or default) for name, default in DEFAULT_VISIBILITY.items()}


def render_bio(source: str) -> str:
    """A bio is Markdown rendered and sanitised like any post."""
    return render_markdown(source)


def viewer_level(viewer: User | None, actor: Actor) -> Viewer:
    if viewer is not None and viewer.actor_id == actor.id:
        return "owner"
    if viewer is not None and actor.local:
        return "owner" if viewer.is_admin else "instance"
    return "network"


def avatar_path(attachment_id: int | None) -> str | None:
    return f"/media/{attachment_id}/thumbnail" if attachment_id is not None else None


def profile_view(profile: Profile, actor: Actor, viewer: Viewer) -> dict[str, Any]:
    """The profile as `viewer` may see it: hidden fields are left out, not emptied.

    Pure (no database, no settings), so federation uses it for remote viewers (`network`).
    Identity (user name, domain, display name, avatar) is always shown.
    """
    seen = SEEN_BY[viewer]
    visibility = effective_visibility(profile)
    view: dict[str, Any] = {
        "username": actor.username,
        "domain": actor.domain,
        "local": actor.local,
        "display_name": actor.display_name,
        "avatar_id": profile.avatar_attachment_id,
        "avatar_url": avatar_path(profile.avatar_attachment_id) if actor.local else actor.avatar_url,
    }
    values: dict[str, Any] = {
        "job_title": profile.job_title,
        "department": profile.department,
        "site": profile.site,
        "languages": list(profile.languages or []),
        "expertise": list(profile.expertise or []),
        "interests": list(profile.interests or []),
        "bio": profile.bio,
    }
    for name, value in values.items():
        if visibility[name] in seen:
            view[name] = value
    if "bio" in view:
        view["bio_html"] = render_bio(profile.bio)
    view["contact"] = {
        key: value
        for key, value in (profile.contact or {}).items()
        if key in CONTACT_FIELDS and visibility[key] in seen
    }
    if viewer == "owner":
        view["visibility"] = visibility
        view["updated_at"] = profile.updated_at.isoformat()
    return view


CARD_FIELDS = ("username", "domain", "local", "display_name", "avatar_url", "job_title", "department", "site")


def person_card(profile: Profile, actor: Actor, viewer: Viewer) -> dict[str, Any]:
    """The short form the directory lists: identity, job, department, site and expertise."""
    view = profile_view(profile, actor, viewer)
    return {key: view[key] for key in (*CARD_FIELDS, "expertise") if key in view}


def normalise_tag(value: str) -> str:
    return " ".join(value.split()).lower()


def normalise_tags(values: Any, field: str) -> list[str]:
    """Trimmed, lower-case, de-duplicated (first spelling kept in order), at most 30 of 100 characters."""
    if not isinstance(values, list):
        raise ValidationFailed("must be a list of strings", field=field)
    tags: list[str] = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise ValidationFailed("must be a string", field=f"{field}.{index}")
        tag = normalise_tag(value)
        if len(tag) > MAX_TAG_LENGTH:
            raise ValidationFailed(f"must be at most {MAX_TAG_LENGTH} characters", field=f"{field}.{index}")
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationFailed(f"at most {MAX_TAGS} different entries", field=field)
    return tags


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("must be a string", field=field)
    text = " ".join(value.split())
    if len(text) > limit:
        raise ValidationFailed(f"must be at most {limit} characters", field=field)
    return text


def _bio(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("must be a string", field="bio")
    bio = value.strip().replace("\r\n", "\n")
    if len(bio) > MAX_BIO:
        raise ValidationFailed(f"must be at most {MAX_BIO} characters", field="bio")
    return bio


def _contact_value(key: str, value: str) -> str:
    field = f"contact.{key}"
    if key == "email" and not EMAIL_RE.match(value):
        raise ValidationFailed("is not a valid e-mail address", field=field)
    if key in {"phone", "mobile"} and not PHONE_RE.match(value):
        raise ValidationFailed("is not a valid phone number (digits, spaces, + ( ) . - /)", field=field)
    if key == "website" and not WEBSITE_RE.match(value):
        raise ValidationFailed("must be an http:// or https:// address", field=field)
    return value.lower() if key == "email" else value


def normalise_contact(values: Any) -> dict[str, str]:
    """Known keys only, each within its length; an empty value removes the entry."""
    if not isinstance(values, dict):
        raise ValidationFailed("must be an object", field="contact")
    contact: dict[str, str] = {}
    for key, value in values.items():
        if key not in CONTACT_FIELDS:
            raise ValidationFailed(
                f"is not a contact field (one of: {', '.join(CONTACT_FIELDS)})", field=f"contact.{key}"
            )
        if value is None:
            continue
        text = _text(value, f"contact.{key}", CONTACT_FIELDS[key])
        if text:
            contact[key] = _contact_value(key, text)
    return contact


def normalise_visibility(values: Any) -> dict[str, str]:
    if not isinstance(values, dict):
        raise ValidationFailed("must be an object", field="visibility")
    for key, value in values.items():
        if key not in DEFAULT_VISIBILITY:
            raise ValidationFailed("is not a profile field", field=f"visibility.{key}")
        if value not in LEVELS:
            raise ValidationFailed(f"must be one of: {', '.join(LEVELS)}", field=f"visibility.{key}")
    return dict(values)


async def person_of(session: AsyncSession, user: User) -> tuple[Actor, Profile]:
    found = await store.get_person(session, user.actor_id) if user.actor_id is not None else None
    if found is None:
        raise NotFound("this account has no profile")
    return found


async def my_profile(session: AsyncSession, user: User) -> dict[str, Any]:
    actor, profile = await person_of(session, user)
    return profile_view(profile, actor, "owner")


async def person_profile(
    session: AsyncSession, settings: Settings, viewer: User, name: str
) -> dict[str, Any]:
    """A person by `username` (local) or `username@domain`, as `viewer` may see them; a remote
    person the viewer may not know is not found."""
    actor, profile = await known_person(session, settings, viewer, name)
    return profile_view(profile, actor, viewer_level(viewer, actor))


async def known_person(
    session: AsyncSession, settings: Settings, viewer: User, name: str
) -> tuple[Actor, Profile]:
    """The person named `username` or `username@domain` (`@` in front allowed), if `viewer` may
    know them; NotFound otherwise, with the same message whether they exist or not."""
    username, _, domain = name.strip().lstrip("@").lower().partition("@")
    found = await store.get_person_by_name(session, username, domain or settings.domain)
    if found is None or not await may_know(session, viewer, found[0]):
        raise NotFound(f"no person named '{name}'")
    return found


async def _avatar(session: AsyncSession, actor: Actor, value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed("must be an attachment id or null", field="avatar_id")
    attachment = await media_store.get_attachment(session, value)
    if (
        attachment is None
        or attachment.owner_id != actor.id
        or attachment.post_id is not None
        or not attachment.media_type.startswith("image/")
    ):
        raise ValidationFailed("must be one of your uploaded images", field="avatar_id")
    return attachment.id


async def update_profile(
    session: AsyncSession, settings: Settings, now: datetime, user: User, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply a partial update (only the keys given) and keep the searchable tags in sync."""
    for key in changes:
        if key not in EDITABLE:
            raise ValidationFailed("is not a profile field", field=key)
    actor, profile = await person_of(session, user)
    if "display_name" in changes:
        name = validate_display_name(_text(changes["display_name"], "display_name", 200), actor.username)
        actor.display_name = name
        await store.set_user_display_name(session, actor.id, name)
    if "avatar_id" in changes:
        profile.avatar_attachment_id = await _avatar(session, actor, changes["avatar_id"])
        path = avatar_path(profile.avatar_attachment_id)
        actor.avatar_url = f"{settings.base_url}{path}" if path else None
    if "job_title" in changes:
        profile.job_title = _text(changes["job_title"], "job_title", MAX_TEXT)
    if "department" in changes:
        profile.department = _text(changes["department"], "department", MAX_TEXT)
    if "site" in changes:
        profile.site = _text(changes["site"], "site", MAX_TEXT)
    if "bio" in changes:
        profile.bio = _bio(changes["bio"])
    if "contact" in changes:
        profile.contact = normalise_contact(changes["contact"])
    if "visibility" in changes:
        profile.visibility = {**(profile.visibility or {}), **normalise_visibility(changes["visibility"])}
    for field, kind in TAG_FIELDS.items():
        if field in changes:
            tags = normalise_tags(changes[field], field)
            setattr(profile, field, tags)
            await store.replace_profile_tags(session, actor.id, kind, tags)
    profile.updated_at = now
    await session.flush()
    # Imported here: the search index reads profiles through profile_view, defined in this module.
    from server.services import indexing

    await indexing.index_profile(session, actor, profile)
    return profile_view(profile, actor, "owner")


def _filter_value(value: str | None, field: str) -> str:
    text = normalise_tag(value or "")
    if len(text) > MAX_TAG_LENGTH:
        raise ValidationFailed(f"must be at most {MAX_TAG_LENGTH} characters", field=field)
    return text


async def search_people(
    session: AsyncSession,
    *,
    viewer: User,
    q: str | None = None,
    expertise: str | None = None,
    interest: str | None = None,
    language: str | None = None,
    department: str | None = None,
    site: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the directory as `viewer` may see it, and the cursor of the next page (or None).

    `q` looks in display names, user names, job titles and expertise; people whose declared
    expertise matches `q` come first, then by name. Filters match tags exactly (after
    normalisation) and department or site as a case-insensitive substring.
    """
    size = DEFAULT_PAGE if limit is None else limit
    if not 1 <= size <= MAX_PAGE:
        raise ValidationFailed(f"must be between 1 and {MAX_PAGE}", field="limit")
    after = store.Cursor.decode(cursor) if cursor else None
    if cursor and after is None:
        raise ValidationFailed("is not a cursor from a previous page", field="cursor")
    tags = {
        kind: text
        for kind, field, value in (
            ("expertise", "expertise", expertise),
            ("interest", "interest", interest),
            ("language", "language", language),
        )
        if (text := _filter_value(value, field))
    }
    query = store.PeopleQuery(
        viewer_actor_id=viewer.actor_id,
        levels_local=SEEN_BY["owner" if viewer.is_admin else "instance"],
        levels_remote=SEEN_BY["network"],
        defaults=DEFAULT_VISIBILITY,
        q=_filter_value(q, "q"),
        tags=tags,
        tag_fields={kind: field for field, kind in TAG_FIELDS.items()},
        department=_filter_value(department, "department"),
        site=_filter_value(site, "site"),
        limit=size,
        after=after,
        people=await known_people(session, viewer),
    )
    page = await store.search_people(session, query)
    cards = [person_card(profile, actor, viewer_level(viewer, actor)) for actor, profile in page.people]
    return cards, page.next_cursor.encode() if page.next_cursor else None
