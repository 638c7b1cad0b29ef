"""The retention purge: delete stored content whose charter period is over, unless a legal hold keeps it.

How it works. For each kind the purge knows (posts, comments, attachments of posts), the charter's
`[retention]` period gives a first cut: nothing younger can be due, so only older rows are read, page by
page. Each one is then asked of the engine (`is_purgeable`) once per community it was shared in, with the
legal holds in force; it goes only when every answer is "due" (a rule that keeps a community's content
longer, or a hold on one of its communities, keeps it).

A purged post becomes a tombstone (`deleted_at` set; title, text and poll emptied; revisions, tags and
attachments removed) so replies and federation references still resolve. Each purge is one audit entry
(point retention, action purge, the article that set the period). Files are not touched inside the
transaction: the report lists them and `remove_files` deletes them once the caller has committed.

Federation. The instances that received a purged post must delete their copies: `on_purged` is called
with the ids of the purged posts and comments (local and remote copies alike; the federation layer knows
which it sent and to whom) in the same session, so it can queue its `Delete` activities in the same
transaction. It defaults to doing nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.policy import Charter, Decision, LegalHold, is_purgeable
from server.services import outbox
from server.services.charter import audit_entry, hold_facts
from server.storage import compliance_queries as store
from server.storage.audit import add_audit_entry

logger = logging.getLogger(__name__)

OnPurged = Callable[[Sequence[int]], Awaitable[None]]
_POST_KINDS = {"posts": ("post", "poll"), "comments": ("comment",)}


@dataclass(frozen=True, slots=True)
class PurgedItem:
    kind: str  # posts | comments | attachments
    id: int
    uri: str
    local: bool
    article_id: str | None


@dataclass(frozen=True, slots=True)
class KeptItem:
    """Due by its period, kept by a legal hold."""

    kind: str
    id: int
    hold_id: str | None


@dataclass(frozen=True, slots=True)
class PurgeReport:
    purged: tuple[PurgedItem, ...]
    kept: tuple[KeptItem, ...]
    files: tuple[str, ...]
    dry_run: bool

    @property
    def post_ids(self) -> list[int]:
        return [item.id for item in self.purged if item.kind != "attachments"]

    @property
    def uris(self) -> list[str]:
        return [item.uri for item in self.purged if item.kind != "attachments"]


async def _nothing(post_ids: Sequence[int]) -> None:
    return None


def _verdict(
    charter: Charter,
    kind: str,
    created_at: datetime,
    now: datetime,
    holds: Sequence[LegalHold],
    author_id: int,
    communities: Sequence[store.CommunityRow],
) -> Decision:
    """Due only if due in every community it is in; otherwise the first answer that keeps it."""
    places: list[store.CommunityRow | None] = [*communities] or [None]
    answers = [
        is_purgeable(
            charter,
            kind,
            created_at,
            now,
            holds,
            author_id=str(author_id),
            community_id=str(c.id) if c is not None else None,
            community_tags=frozenset(c.tags) if c is not None else frozenset(),
            community_kind=c.kind if c is not None else None,
        )
        for c in places
    ]
    return next((a for a in answers if a.action != "allow"), answers[0])


async def purge_expired(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    *,
    dry_run: bool = False,
    on_purged: OnPurged = _nothing,
) -> PurgeReport:
    """Purge what the charter no longer lets us keep; with `dry_run`, only say what would go."""
    charter = ctx.charter
    holds = hold_facts(await store.list_legal_holds(session, active_at=now))
    purged: list[PurgedItem] = []
    kept: list[KeptItem] = []
    files: list[str] = []

    async def audit(decision: Decision, subject_kind: str, subject: str, details: dict[str, object]) -> None:
        entry = audit_entry(
            now, decision, subject_kind=subject_kind, subject=subject, action="purge", details=details
        )
        await add_audit_entry(session, entry)

    for kind, post_kinds in _POST_KINDS.items():
        period = charter.retention.periods.get(kind)
        if period is None:
            continue
        after = 0
        while page := await store.stored_posts(
            session, created_before=now - period.delta, kinds=post_kinds, after_id=after
        ):
            after = page[-1].id
            for post in page:
                decision = _verdict(
                    charter, kind, post.created_at, now, holds, post.author_id, post.communities
                )
                if decision.action != "allow":
                    if decision.reason_code == "retention.legal_hold":
                        kept.append(KeptItem(kind, post.id, decision.hold_id))
                    continue
                purged.append(PurgedItem(kind, post.id, post.uri, post.local, decision.article_id))
                if dry_run:
                    continue
                removed = await store.tombstone_post(session, post.id, now)
                files.extend(p for a in removed for p in (a.path, a.thumbnail_path) if p)
                await audit(decision, kind[:-1], post.uri, {"created_at": post.created_at.isoformat()})

    period = charter.retention.periods.get("attachments")
    if period is not None:
        after = 0
        while page_files := await store.post_attachments_created_before(
            session, now - period.delta, after_id=after
        ):
            after = page_files[-1].attachment.id
            for stored in page_files:
                attachment = stored.attachment
                decision = _verdict(
                    charter,
                    "attachments",
                    attachment.created_at,
                    now,
                    holds,
                    stored.owner_id,
                    stored.communities,
                )
                if decision.action != "allow":
                    if decision.reason_code == "retention.legal_hold":
                        kept.append(KeptItem("attachments", attachment.id, decision.hold_id))
                    continue
                purged.append(PurgedItem("attachments", attachment.id, "", True, decision.article_id))
                if dry_run:
                    continue
                await store.delete_attachment(session, attachment.id)
                files.extend(p for p in (attachment.path, attachment.thumbnail_path) if p)
                await audit(
                    decision,
                    "attachment",
                    str(attachment.id),
                    {"post_id": attachment.post_id, "created_at": attachment.created_at.isoformat()},
                )

    report = PurgeReport(tuple(purged), tuple(kept), tuple(files), dry_run)
    if not dry_run:
        await session.flush()
        if report.post_ids:
            await outbox.purged(session, ctx, now, report.post_ids)
            await on_purged(report.post_ids)
        logger.info("retention purge: %s items purged, %s kept by legal holds", len(purged), len(kept))
    return report


def remove_files(media_dir: Path, report: PurgeReport) -> int:
    """Delete the purged attachments' files under `media_dir`, after the purge was committed."""
    removed = 0
    root = media_dir.resolve()
    for name in report.files:
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            logger.warning("retention purge: skipping a file outside the media directory: %s", name)
            continue
        if path.is_file():
            path.unlink()
            removed += 1
    return removed
