"""The cross-border consent step: where the charter in force asks a person's separate consent before their
personal data leaves for another country (PIPL art. 39 in `charter/cn.toml`), which countries among the
configured peers it concerns, what it concerns, and the person's answer.

Which destinations need consent is asked of the policy engine itself (`evaluate_egress` for each peer's
jurisdiction and each kind of content, with no consent given), so the step always agrees with what the
outbox will hold back. Consenting is recorded as a `CrossBorderConsent` and releases the deliveries that
waited for it; refusing withdraws any consent and is written to the audit log (`consent_refused`), which is
also how the walk-through knows the question was answered. Refusing is not a dead end: the person goes
on using Cercle, and what they write stays on this instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.errors import ValidationFailed
from server.policy import Charter, ContentFacts, EgressFacts, evaluate_egress
from server.policy.schema import CONTENT_KINDS, Localized
from server.services import charter as charter_service
from server.services import outbox
from server.storage.audit import AuditFilter, add_audit_entry, list_audit_entries
from server.storage.compliance import AuditEntry
from server.storage.models import User

REFUSED = "consent_refused"
KIND_ORDER = ("profile", "post", "comment", "reaction", "attachment", "membership", "message")


@dataclass(frozen=True)
class Destination:
    jurisdiction: str
    instances: tuple[str, ...]
    consented: bool


@dataclass(frozen=True)
class ConsentStep:
    """`asked` is False where the charter asks nothing of the kind (or no peer is concerned)."""

    asked: bool
    articles: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    destinations: tuple[Destination, ...] = ()
    message: Localized | None = None
    answered: bool = False
    text_version: str = ""


@dataclass(frozen=True)
class Need:
    jurisdiction: str
    kinds: tuple[str, ...]
    articles: tuple[str, ...]
    message: Localized | None


def _needs(charter: Charter, jurisdiction: str) -> Need | None:
    kinds: list[str] = []
    articles: list[str] = []
    message: Localized | None = None
    for kind in sorted(CONTENT_KINDS, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99):
        decision = evaluate_egress(
            charter,
            EgressFacts(
                destination_jurisdiction=jurisdiction,
                content_kind=kind,
                destination_regions=charter.regions_of(jurisdiction),
                content=ContentFacts(kind=kind, author_jurisdiction=charter.jurisdiction),
            ),
        )
        if decision.action != "require_consent":
            continue
        kinds.append(kind)
        if decision.article_id and decision.article_id not in articles:
            articles.append(decision.article_id)
        message = message or (decision.message or None)
    if not kinds:
        return None
    return Need(jurisdiction, tuple(kinds), tuple(articles), message)


def consent_needs(charter: Charter, jurisdictions: Sequence[str]) -> list[Need]:
    """For each of these peer jurisdictions (sorted, once each) where sending needs the author's consent."""
    found = (_needs(charter, code) for code in sorted(set(jurisdictions)))
    return [need for need in found if need is not None]


def text_version(charter: Charter, articles: Sequence[str]) -> str:
    """What the consent was given to: the charter, its version and the articles (at most 50 characters)."""
    where = ",".join(articles)
    return (
        f"{charter.id} {charter.version} §{where}"[:50] if where else f"{charter.id} {charter.version}"[:50]
    )


def _person(user: User) -> str:
    return f"user:{user.id}"


async def _refused(session: AsyncSession, charter: Charter, user: User) -> bool:
    where = AuditFilter(charter_id=charter.id, subject_kind="person", subject=_person(user), action=REFUSED)
    return bool(await list_audit_entries(session, where, limit=1))


async def consent_step(session: AsyncSession, ctx: Context, user: User) -> ConsentStep:
    charter = ctx.charter
    peers: dict[str, list[str]] = {}
    for peer in ctx.settings.peers:
        peers.setdefault(peer.jurisdiction, []).append(peer.domain)
    needs = consent_needs(charter, list(peers))
    if not needs:
        return ConsentStep(asked=False)
    given = await charter_service.consented_jurisdictions(session, user)
    destinations = tuple(
        Destination(need.jurisdiction, tuple(sorted(peers[need.jurisdiction])), need.jurisdiction in given)
        for need in needs
    )
    articles = tuple(dict.fromkeys(a for need in needs for a in need.articles))
    kinds = tuple(dict.fromkeys(k for need in needs for k in need.kinds))
    answered = all(d.consented for d in destinations) or await _refused(session, charter, user)
    return ConsentStep(
        asked=True,
        articles=articles,
        kinds=kinds,
        destinations=destinations,
        message=next((need.message for need in needs if need.message), None),
        answered=answered,
        text_version=text_version(charter, articles),
    )


def _check(step: ConsentStep, answers: Mapping[str, bool | None]) -> None:
    known = {d.jurisdiction for d in step.destinations}
    for code in answers:
        if code not in known:
            raise ValidationFailed("is not a country this charter asks your consent for", field="consent")
    for code in known:
        if answers.get(code) is None:
            raise ValidationFailed("choose whether you consent, or not", field=f"consent-{code}")


async def answer(
    session: AsyncSession, ctx: Context, now: datetime, user: User, answers: Mapping[str, bool | None]
) -> ConsentStep:
    """Record yes or no for every destination of the step; a refusal is audited. Checked before storing."""
    step = await consent_step(session, ctx, user)
    if not step.asked:
        raise ValidationFailed("the charter in force asks no cross-border consent", field="consent")
    _check(step, answers)
    refused: list[str] = []
    for destination in step.destinations:
        code = destination.jurisdiction
        if answers[code]:
            await charter_service.give_consent(session, now, user, code, step.text_version)
            await outbox.consent_given(session, ctx, now, user, code)
        else:
            await charter_service.withdraw_consent(session, now, user, code)
            refused.append(code)
    if refused:
        await _record_refusal(session, ctx.charter, now, user, step, refused)
    return await consent_step(session, ctx, user)


async def _record_refusal(
    session: AsyncSession,
    charter: Charter,
    now: datetime,
    user: User,
    step: ConsentStep,
    refused: Sequence[str],
) -> None:
    await add_audit_entry(
        session,
        AuditEntry(
            at=now,
            charter_id=charter.id,
            charter_version=charter.version,
            article_id=step.articles[0] if step.articles else None,
            point="egress",
            action=REFUSED,
            reason_code="egress.consent_refused",
            subject_kind="person",
            subject=_person(user),
            actor_id=user.actor_id,
            peer_domain=None,
            details={"jurisdictions": list(refused), "text_version": step.text_version},
        ),
    )
