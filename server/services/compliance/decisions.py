"""The charter in the services: gather facts, ask `server.policy`, apply and record the decision.

How it works. Each enforcement point has one function here that builds the engine's facts from what the
caller knows, evaluates the instance's charter and records the decision in the append-only audit log
(charter, version, article, point, action, reason code, subject, actor; never the matched value: the
engine's decisions only name detector kinds). A plain `allow` that no article decided is not recorded.

Refusals and the audit log. A refused publication ends in a `CharterRefusal`, which rolls back the
caller's transaction; the refusal must still be on record. So `check_publish` writes a refusal in its own
short transaction (through the context) and everything else in the caller's session, which keeps a `hold`
or `label` entry together with the post it concerns. Call it before writing in the caller's session
(SQLite lets one connection write at a time). `audit_admin_read` does the same for a denied read when it is
given the context.

What people read comes from the charter, in their language (`localize`); only the pointer to the charter
page is ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.errors import CercleError, Forbidden
from server.policy import (
    AnalyticsFacts,
    Attachment,
    Charter,
    ContentFacts,
    Decision,
    DisplayFacts,
    MembershipFacts,
    admin_may_read_private,
    analytics_allowed,
    evaluate_display,
    evaluate_membership,
    evaluate_publish,
    localize,
)
from server.storage.audit import add_audit_entry
from server.storage.compliance import AuditEntry
from server.storage.models import User


class CharterRefusal(CercleError):
    """The charter refused what the person did; the message is the article's, in their language."""

    status = 422
    code = "charter-refused"

    def __init__(
        self, message: str, *, article_id: str | None, charter_id: str, charter_version: str, reason_code: str
    ) -> None:
        super().__init__(message)
        self.article_id = article_id
        self.charter_id = charter_id
        self.charter_version = charter_version
        self.reason_code = reason_code


class CommunityFacts(NamedTuple):
    """A community the content is shared in, as the charter sees it."""

    kind: str | None
    tags: frozenset[str] = frozenset()


# --- recording -------------------------------------------------------------------------------------------


def _details(decision: Decision, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if decision.detectors:
        details["detectors"] = list(decision.detectors)
    if decision.criteria:
        details["criteria"] = list(decision.criteria)
    if decision.labels:
        details["labels"] = list(dict.fromkeys(label.article_id for label in decision.labels))
    if decision.redacted_fields:
        details["redacted_fields"] = list(decision.redacted_fields)
    if decision.hold_id is not None:
        details["legal_hold"] = decision.hold_id
    if decision.deadline is not None:
        details["deadline"] = decision.deadline.isoformat()
    if decision.also:
        details["also"] = [
            {"article": d.article_id, "action": d.action, "reason": d.reason_code} for d in decision.also
        ]
    details.update(extra or {})
    return details


def audit_entry(
    now: datetime,
    decision: Decision,
    *,
    subject_kind: str,
    subject: str,
    actor_id: int | None = None,
    peer_domain: str | None = None,
    action: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        at=now,
        charter_id=decision.charter_id,
        charter_version=decision.charter_version,
        article_id=decision.article_id,
        point=decision.point,
        action=action or decision.action,
        reason_code=decision.reason_code,
        subject_kind=subject_kind,
        subject=subject,
        actor_id=actor_id,
        peer_domain=peer_domain,
        details=_details(decision, details),
    )


async def record_decision(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    decision: Decision,
    *,
    subject_kind: str,
    subject: str,
    actor_id: int | None = None,
    peer_domain: str | None = None,
    always: bool = False,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry | None:
    """Add the decision to the audit log; a plain `allow` with no article only when `always`."""
    if decision.charter_id != charter.id:
        raise ValueError(f"decision of charter {decision.charter_id!r} recorded under {charter.id!r}")
    if decision.action == "allow" and decision.article_id is None and not always:
        return None
    entry = audit_entry(
        now,
        decision,
        subject_kind=subject_kind,
        subject=subject,
        actor_id=actor_id,
        peer_domain=peer_domain,
        details=details,
    )
    return await add_audit_entry(session, entry)


# --- languages and messages --------------------------------------------------------------------------------


def charter_language(charter: Charter, *wanted: str | None) -> str:
    """The first wanted language (or its base language) that the charter is written in, else its first."""
    for lang in wanted:
        if not lang:
            continue
        for candidate in (lang, lang.split("-", 1)[0]):
            if candidate in charter.languages:
                return candidate
    return charter.languages[0] if charter.languages else "en"


def explain(charter: Charter | None, decision: Decision, lang: str) -> str:
    """`§ 4.1 Sensitive personal data — <the rule's message>`, in `lang`."""
    message = decision.text(lang)
    if decision.article_id is None:
        return message
    article = charter.article(decision.article_id) if charter is not None else None
    title = localize(article.title, lang) if article is not None else ""
    head = f"§ {decision.article_id} {title}".rstrip()
    return f"{head} — {message}" if message and message != title else head


def raise_if_refused(decision: Decision, lang: str, charter: Charter | None = None) -> None:
    """Raise `CharterRefusal` for a reject or deny; hold and label are for the caller to apply."""
    if decision.action in ("reject", "deny"):
        raise CharterRefusal(
            explain(charter, decision, lang),
            article_id=decision.article_id,
            charter_id=decision.charter_id,
            charter_version=decision.charter_version,
            reason_code=decision.reason_code,
        )


# --- publish -----------------------------------------------------------------------------------------------


def _most_severe(decisions: Sequence[Decision]) -> Decision:
    top = max(decisions, key=lambda d: d.severity)
    labels = {label.article_id: label for d in decisions for label in d.labels}
    return replace(top, labels=tuple(labels.values()))


async def check_publish(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    *,
    author_user: User,
    text: str,
    hashtags: Iterable[str] = (),
    attachments: Iterable[Attachment] = (),
    communities: Iterable[CommunityFacts] = (),
    kind: str = "post",
    subject: str = "new",
) -> Decision:
    """The charter's decision on a post or comment about to be published or edited; raises nothing.

    Content shared in several communities is judged in each, and the most severe decision wins (labels
    from all are kept). A decision an article took is recorded: a refusal in its own transaction (see the
    module docstring), a hold or label in `session`. `subject` is the post's URI when it has one.
    """
    charter = ctx.charter
    base = ContentFacts(
        text=text,
        hashtags=tuple(hashtags),
        attachments=tuple(attachments),
        kind=kind,
        author_jurisdiction=charter.jurisdiction,
    )
    places = list(communities) or [CommunityFacts(None)]
    decision = _most_severe(
        [
            evaluate_publish(
                charter, replace(base, community_kind=place.kind, community_tags=frozenset(place.tags))
            )
            for place in places
        ]
    )

    async def note(into: AsyncSession) -> None:
        await record_decision(
            into, now, charter, decision, subject_kind=kind, subject=subject, actor_id=author_user.actor_id
        )

    if decision.action == "reject":
        async with ctx.transaction() as apart:
            await note(apart)
    else:
        await note(session)
    return decision


_NOTICE_MEMO_SIZE = 20_000


class _NoticeMemo:
    """Display notices already worked out under one charter object. The decision is a pure function of
    the charter and the facts, and a feed page asks for the same posts again and again; the memo holds
    the charter it was built for, so a reloaded charter starts afresh."""

    def __init__(self) -> None:
        self.charter: Charter | None = None
        self.notices: dict[tuple[object, ...], tuple[tuple[str, str], ...]] = {}

    def of(self, charter: Charter) -> dict[tuple[object, ...], tuple[tuple[str, str], ...]]:
        if self.charter is not charter or len(self.notices) >= _NOTICE_MEMO_SIZE:
            self.charter, self.notices = charter, {}
        return self.notices


_notice_memo = _NoticeMemo()


def display_labels(
    charter: Charter,
    lang: str,
    *,
    text: str = "",
    hashtags: Iterable[str] = (),
    community_kind: str | None = None,
    community_tags: Iterable[str] = (),
    origin_jurisdiction: str | None = None,
    is_remote: bool = False,
) -> list[tuple[str, str]]:
    """The notices to show beside content, as (article id, text in `lang`)."""
    hashtags, tags = tuple(hashtags), frozenset(community_tags)
    key = (lang, text, hashtags, community_kind, tags, origin_jurisdiction, is_remote)
    memo = _notice_memo.of(charter)
    found = memo.get(key)
    if found is None:
        facts = DisplayFacts(
            content=ContentFacts(
                text=text, hashtags=hashtags, community_kind=community_kind, community_tags=tags
            ),
            origin_jurisdiction=origin_jurisdiction,
            is_remote=is_remote,
        )
        decision = evaluate_display(charter, facts)
        texts = {label.article_id: localize(label.text, lang) for label in decision.labels}
        found = memo[key] = tuple(texts.items())
    return list(found)


async def check_membership(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    *,
    person_actor_id: int | None,
    person_jurisdiction: str | None,
    community_uri: str,
    community_kind: str | None = None,
    community_tags: Iterable[str] = (),
) -> Decision:
    """allow or deny a person joining a community; recorded when an article decided."""
    decision = evaluate_membership(
        charter,
        MembershipFacts(
            person_jurisdiction=person_jurisdiction,
            community_tags=frozenset(community_tags),
            community_kind=community_kind,
        ),
    )
    await record_decision(
        session,
        now,
        charter,
        decision,
        subject_kind="community",
        subject=community_uri,
        actor_id=person_actor_id,
    )
    return decision


async def check_analytics(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    *,
    subject: str,
    group_size: int,
    per_person: bool = False,
    community_kind: str | None = None,
    community_tags: Iterable[str] = (),
    actor_id: int | None = None,
) -> Decision:
    """May this figure be shown? Refusals are recorded (they are rare and say someone asked)."""
    decision = analytics_allowed(
        charter,
        AnalyticsFacts(
            group_size=group_size,
            per_person=per_person,
            community_tags=frozenset(community_tags),
            community_kind=community_kind,
        ),
    )
    if decision.action == "deny":
        await record_decision(
            session, now, charter, decision, subject_kind="figure", subject=subject, actor_id=actor_id
        )
    return decision


# --- administration ----------------------------------------------------------------------------------------


async def audit_admin_read(
    session: AsyncSession,
    now: datetime,
    charter: Charter,
    admin_user: User,
    subject: str,
    *,
    subject_kind: str = "post",
    community_kind: str | None = None,
    community_tags: Iterable[str] = (),
    ctx: Context | None = None,
) -> Decision:
    """An administrator is about to read private content: allowed and recorded, or refused (Forbidden).

    A refused attempt is recorded too; pass `ctx` so that record survives the caller's rollback.
    """
    if not admin_user.is_admin:
        raise Forbidden("only administrators may do this", code="admin-only")
    decision = admin_may_read_private(
        charter, community_tags=frozenset(community_tags), community_kind=community_kind
    )
    record = {
        "subject_kind": subject_kind,
        "subject": subject,
        "actor_id": admin_user.actor_id,
        "always": True,
    }
    if decision.action == "allow":
        await record_decision(session, now, charter, decision, **record)  # type: ignore[arg-type]
        return decision
    if ctx is not None:
        async with ctx.transaction() as apart:
            await record_decision(apart, now, charter, decision, **record)  # type: ignore[arg-type]
    else:
        await record_decision(session, now, charter, decision, **record)  # type: ignore[arg-type]
    lang = charter_language(charter, admin_user.language)
    raise Forbidden(explain(charter, decision, lang), code="charter-forbids-admin-read")
