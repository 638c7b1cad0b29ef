"""Replaying stored content through a charter: the facts of a stored post, and `simulate` over them."""

from __future__ import annotations

import html
import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.policy import (
    Attachment,
    Charter,
    ContentFacts,
    SimulationReport,
    StoredItem,
    simulate,
)
from server.services.compliance.holds import hold_facts
from server.storage import compliance_queries as store

# --- simulation --------------------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")


def html_text(content_html: str) -> str:
    return html.unescape(_TAG.sub(" ", content_html))


def content_of(post: store.StoredPost) -> ContentFacts:
    """A stored post as the engine sees it (its communities' tags together, the first one's kind)."""
    body = post.source or html_text(post.content_html)
    return ContentFacts(
        text=f"{post.title}\n\n{body}" if post.title else body,
        hashtags=post.tags,
        attachments=tuple(Attachment(a.media_type, a.size, a.filename) for a in post.attachments),
        kind="comment" if post.kind == "comment" else "post",
        community_kind=post.communities[0].kind if post.communities else None,
        community_tags=frozenset(t for c in post.communities for t in c.tags),
        author_jurisdiction=post.author_jurisdiction,
    )


def retention_kind_of(post: store.StoredPost) -> str:
    return "comments" if post.kind == "comment" else "posts"


async def simulate_stored(
    session: AsyncSession,
    charter: Charter,
    now: datetime,
    *,
    since: datetime | None = None,
    examples: int = 5,
) -> SimulationReport:
    """What `charter` would have done to the posts and comments stored since `since`. Reads only."""
    items: list[StoredItem] = []
    after = 0
    while True:
        page = await store.stored_posts(session, since=since, after_id=after)
        if not page:
            break
        after = page[-1].id
        items.extend(
            StoredItem(
                id=str(post.id),
                created_at=post.created_at,
                content=content_of(post),
                retention_kind=retention_kind_of(post),
                author_id=str(post.author_id),
                community_id=str(post.communities[0].id) if post.communities else None,
            )
            for post in page
        )
    holds = hold_facts(await store.list_legal_holds(session))
    return simulate(charter, items, now, holds=holds, examples=examples)
