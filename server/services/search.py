"""Search for the signed-in person: full text over what they may see, and "who knows about X".

The visibility rules live in the query (`server.storage.search`); this module reads the parameters,
turns hits into results (thread, author, community or person card, a highlighted snippet) and ranks
people for a topic. Snippets are cut from the stored plain text and escaped here, so a `<mark>` is the
only markup a result carries.

People (person results, the `author` filter, "who knows about X") follow the rule of the people
directory: a remote person appears only to a viewer who may know them (`server.services.acquaintances`),
decided in the queries themselves so that ranking and paging only ever see people the viewer may see.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.errors import ValidationFailed
from server.policy import Charter
from server.services.acquaintances import known_people
from server.services.communities import access, actor_id_of
from server.services.profiles import known_person, normalise_tag, person_card, profile_view, viewer_level
from server.storage import communities as community_store
from server.storage import media as media_store
from server.storage import posts as post_store
from server.storage import profiles as profile_store
from server.storage import search as store
from server.storage.models import User

DEFAULT_PAGE = 20
MAX_PAGE = 50
MAX_OFFSET = 1000
MAX_QUERY = 200
SNIPPET = 240
ACTIVITY_WINDOW = timedelta(days=365)
MAX_CANDIDATES = 200


@dataclass(frozen=True)
class Terms:
    """The query's words and, for each, what it may match (folded form and stems)."""

    words: list[str]
    wanted: list[frozenset[str]]

    @classmethod
    def of(cls, q: str) -> Terms:
        found = store.query_words(q)
        return cls(found, [store.variants(w) for w in found])

    @property
    def any(self) -> frozenset[str]:
        return frozenset().union(*self.wanted) if self.wanted else frozenset()


def highlight(text: str, config: str, terms: Terms, width: int = SNIPPET) -> str:
    """Escaped HTML: the window of `text` with the most query words, those words in `<mark>`."""
    tokens = list(store.WORD.finditer(text))
    wanted = terms.any
    marked = [m for m in tokens if store.matches(m.group(), config, wanted)]
    start = 0
    if marked:

        def covered(first: int) -> int:
            lo = max(0, marked[first].start() - width // 4)
            return len({store.stem(m.group(), config) for m in marked[first:] if m.end() <= lo + width})

        best = max(range(len(marked)), key=lambda i: (covered(i), -i))
        start = max(0, marked[best].start() - width // 4)
        while start > 0 and not text[start - 1].isspace() and marked[best].start() - start < width // 3:
            start -= 1
    end = min(len(text), start + width)
    marks = {(m.start(), m.end()) for m in marked if m.start() >= start and m.end() <= end}
    parts: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for lo, hi in sorted(marks):
        parts.append(html.escape(text[cursor:lo]))
        parts.append(f"<mark>{html.escape(text[lo:hi])}</mark>")
        cursor = hi
    parts.append(html.escape(text[cursor:end]))
    parts.append("…" if end < len(text) else "")
    return "".join(parts).strip()


# --- parameters ------------------------------------------------------------------------------------------


def _kinds(value: str | None) -> frozenset[str]:
    if not value:
        return frozenset(store.KINDS)
    kinds = frozenset(k.strip() for k in value.split(",") if k.strip())
    unknown = kinds - set(store.KINDS)
    if unknown:
        raise ValidationFailed(f"must be among: {', '.join(store.KINDS)}", field="kind")
    return kinds


def parse_time(value: str | None, field: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO date or date-time (UTC when no offset is given); a bare `until` date includes that day."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(), tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed("must be a date (2026-11-23) or an ISO 8601 date-time", field=field) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_bool(value: str | None, field: str) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValidationFailed("must be true or false", field=field)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(value: str | None) -> int:
    if not value:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))["o"]
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ValidationFailed("is not a cursor from a previous page", field="cursor") from exc
    if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed("is not a cursor from a previous page", field="cursor")
    return offset


def _query_text(q: str | None) -> Terms:
    text = (q or "").strip()
    if len(text) > MAX_QUERY:
        raise ValidationFailed(f"must be at most {MAX_QUERY} characters", field="q")
    terms = Terms.of(text)
    if not terms.words:
        raise ValidationFailed("is required: one word or more", field="q")
    return terms


async def _author_id(session: AsyncSession, settings: Settings, viewer: User, name: str) -> int:
    actor, _ = await known_person(session, settings, viewer, name)
    return actor.id


# --- full-text search --------------------------------------------------------------------------------------


async def search(
    session: AsyncSession,
    settings: Settings,
    viewer: User,
    *,
    q: str | None,
    kind: str | None = None,
    community: str | None = None,
    author: str | None = None,
    since: str | None = None,
    until: str | None = None,
    has_attachment: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """A page of results: `{"items": [...], "next_cursor": str | None}`, best first."""
    size = DEFAULT_PAGE if limit is None else limit
    if not 1 <= size <= MAX_PAGE:
        raise ValidationFailed(f"must be between 1 and {MAX_PAGE}", field="limit")
    terms = _query_text(q)
    viewer_id = actor_id_of(viewer)
    community_id = (
        (await access(session, community.strip().lower(), viewer)).community.id if community else None
    )
    query = store.SearchQuery(
        viewer_actor_id=viewer_id,
        words=terms.words,
        kinds=_kinds(kind),
        community_id=community_id,
        author_id=await _author_id(session, settings, viewer, author) if author else None,
        since=parse_time(since, "since"),
        until=parse_time(until, "until", end_of_day=True),
        has_attachment=parse_bool(has_attachment, "has_attachment"),
        limit=size,
        offset=decode_cursor(cursor),
        people=await known_people(session, viewer),
    )
    page = await store.search(session, query)
    items = await _results(session, viewer, page.hits, terms)
    next_offset = query.offset + size
    more = page.more and next_offset <= MAX_OFFSET
    return {"items": items, "next_cursor": encode_cursor(next_offset) if more else None}


async def _results(
    session: AsyncSession, viewer: User, hits: Sequence[store.Hit], terms: Terms
) -> list[dict[str, Any]]:
    """The results of these hits. A post's author and thread title come with the hit; people,
    communities and attached files are read here, only when a hit of that kind is on the page."""
    person_ids = [h.actor_id for h in hits if h.kind == "person" and h.actor_id is not None]
    actors = await post_store.load_actors(session, person_ids)
    profiles = await profile_store.profiles_of(session, person_ids)
    communities = await community_store.get_communities(
        session, [h.community_id for h in hits if h.kind == "community" and h.community_id]
    )
    attachment_ids = [h.attachment_id for h in hits if h.attachment_id is not None]
    attachments = {a.id: a for a in await media_store.get_attachments(session, attachment_ids)}
    items: list[dict[str, Any]] = []
    for hit in hits:
        item: dict[str, Any] = {
            "kind": hit.kind,
            "score": round(hit.rank, 6),
            "created_at": hit.created_at.isoformat(),
            "title_html": highlight(hit.title, hit.config, terms, width=200),
            "snippet_html": highlight(hit.body, hit.config, terms),
        }
        actor = actors.get(hit.actor_id) if hit.actor_id is not None else None
        if hit.kind == "person" and actor is not None:
            profile = profiles.get(actor.id)
            if profile is None:
                continue
            view = profile_view(profile, actor, viewer_level(viewer, actor))
            text = "\n".join(
                str(view.get(k, "")) if isinstance(view.get(k), str) else ", ".join(view.get(k, []))
                for k in ("job_title", "department", "site", "expertise", "interests", "bio")
                if view.get(k)
            )
            item["title_html"] = highlight(actor.display_name, hit.config, terms, width=200)
            item["snippet_html"] = highlight(text, hit.config, terms)
            item["person"] = person_card(profile, actor, viewer_level(viewer, actor))
            item["url"] = f"/people/{actor.username}" + ("" if actor.local else f"@{actor.domain}")
        elif hit.kind == "community" and hit.community_id in communities:
            place = communities[hit.community_id]
            item["community"] = {"slug": place.slug, "name": place.name, "visibility": place.visibility}
            item["url"] = f"/c/{place.slug}"
        elif hit.post_id is not None and hit.root_id is not None:
            item["post_id"] = hit.post_id
            item["thread"] = {"root_id": hit.root_id, "title": hit.thread_title or ""}
            item["url"] = f"/posts/{hit.root_id}" + (
                f"#post-{hit.post_id}" if hit.post_id != hit.root_id else ""
            )
            if hit.author is not None:
                item["author"] = {
                    "username": hit.author.username,
                    "domain": hit.author.domain,
                    "display_name": hit.author.display_name,
                    "local": hit.author.local,
                }
            file = attachments.get(hit.attachment_id) if hit.attachment_id is not None else None
            if file is not None:
                item["attachment"] = {
                    "id": file.id,
                    "filename": file.filename,
                    "media_type": file.media_type,
                    "url": f"/media/{file.id}/{file.filename}",
                }
        else:
            continue
        items.append(item)
    return items


# --- who knows about X -------------------------------------------------------------------------------------


def _visible_text(view: dict[str, Any], name: str) -> str:
    value = view.get(name, "")
    return value if isinstance(value, str) else ""


async def who_knows(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    viewer: User,
    *,
    topic: str | None,
    department: str | None = None,
    site: str | None = None,
    language: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """People ranked for a topic: by declared expertise (fields they let the viewer see) and by their
    posts and comments in communities on that subject that the viewer may read.

    Where the charter forbids figures about one person, activity counts only as "active or not" and
    no count is shown, so the ranking cannot be read as a per-person activity measure.
    """
    size = DEFAULT_PAGE if limit is None else limit
    if not 1 <= size <= MAX_PAGE:
        raise ValidationFailed(f"must be between 1 and {MAX_PAGE}", field="limit")
    terms = _query_text(topic)
    viewer_id = actor_id_of(viewer)
    per_person = charter.analytics.per_person_figures
    people = await known_people(session, viewer)
    expert = dict(
        await store.match_ids(session, terms.words, "expertise", limit=MAX_CANDIDATES, people=people)
    )
    topical = [cid for cid, _ in await store.match_ids(session, terms.words, "community", limit=50)]
    readable = await store.readable_community_ids(session, viewer_id, topical)
    places = [cid for cid in topical if cid in readable]
    activity = dict(await store.activity_in(session, places, now - ACTIVITY_WINDOW, limit=MAX_CANDIDATES))
    candidates = set(expert) | set(activity)
    rows = await profile_store.active_people(session, candidates, people)
    wanted_department = normalise_tag(department or "")
    wanted_site = normalise_tag(site or "")
    wanted_language = normalise_tag(language or "")
    ranked: list[tuple[float, str, dict[str, Any]]] = []
    for actor, profile in rows:
        level = viewer_level(viewer, actor)
        view = profile_view(profile, actor, level)
        if wanted_department and wanted_department not in _visible_text(view, "department").lower():
            continue
        if wanted_site and wanted_site not in _visible_text(view, "site").lower():
            continue
        if wanted_language and wanted_language not in view.get("languages", []):
            continue
        matching = [
            tag
            for tag in view.get("expertise", [])
            if any(
                store.matches(w, "simple", wanted) or _tag_matches(w, wanted)
                for wanted in terms.wanted
                for w in store.words(tag)
            )
        ]
        contributions = activity.get(actor.id, 0)
        score = (2.0 + 0.25 * (len(matching) - 1)) if matching else 0.0
        score += math.log1p(contributions) if per_person else (0.5 if contributions else 0.0)
        if score <= 0:
            continue
        entry: dict[str, Any] = {
            "person": person_card(profile, actor, level),
            "score": round(score, 3),
            "matching_expertise": matching,
            "active_in_topic_communities": contributions > 0,
        }
        if per_person:
            entry["contributions"] = contributions
        ranked.append((-score, actor.display_name.lower(), entry))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return {"items": [entry for _, _, entry in ranked[:size]], "per_person_figures": per_person}


def _tag_matches(word: str, wanted: frozenset[str]) -> bool:
    return any(store.stem(word, config) in wanted for config in store.LANGUAGES.values())
