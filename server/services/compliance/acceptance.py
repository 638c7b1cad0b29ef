"""Acceptance of the charter in force, and separate cross-border consents (their own records)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import CercleError, ValidationFailed
from server.policy import (
    Charter,
    localize,
    requires_reacceptance,
)
from server.services.compliance.decisions import charter_language
from server.storage import compliance_queries as store
from server.storage.compliance import CharterAcceptance, CrossBorderConsent
from server.storage.models import User

CHARTER_PAGE = "/charter"
_JURISDICTION = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,15}$")


class CharterNotAccepted(CercleError):
    status = 403
    code = "charter-not-accepted"

    def __init__(self, message: str, *, charter_id: str, charter_version: str) -> None:
        super().__init__(message)
        self.charter_id = charter_id
        self.charter_version = charter_version


# --- acceptance --------------------------------------------------------------------------------------------


async def acceptance_status(session: AsyncSession, charter: Charter, user: User) -> tuple[bool, str | None]:
    """(whether the person's acceptance covers the charter in force, the version they last accepted)."""
    latest = await store.latest_acceptance(session, user.id, charter.id)
    version = latest.charter_version if latest is not None else None
    return not requires_reacceptance(charter, version), version


async def acceptance_figures(session: AsyncSession, charter: Charter) -> Counter[str]:
    """Active people who accepted the charter in force (`accepted`), must accept it again after a change
    that asks for it (`again`), never accepted it (`never`), and all of them (`active`)."""
    figures = Counter[str]()
    for version, people in (await store.latest_versions_of_active_people(session, charter.id)).items():
        if version is None:
            figures["never"] += people
        elif requires_reacceptance(charter, version):
            figures["again"] += people
        else:
            figures["accepted"] += people
    figures["active"] = sum(figures.values())
    return figures


async def accept_charter(
    session: AsyncSession, now: datetime, charter: Charter, user: User, lang: str
) -> CharterAcceptance:
    """Record that the person accepted the charter in force, as read in `lang`."""
    if lang not in charter.languages:
        raise ValidationFailed(
            f"the charter is written in {', '.join(charter.languages)}, not {lang!r}", field="language"
        )
    return await store.add_acceptance(
        session,
        CharterAcceptance(
            user_id=user.id,
            charter_id=charter.id,
            charter_version=charter.version,
            language=lang,
            accepted_at=now,
        ),
    )


def not_accepted_message(charter: Charter, lang: str, accepted_version: str | None) -> str:
    title = localize(charter.title, lang) or f"charter {charter.id}"
    again = f" (you accepted version {accepted_version}; this one changes it in substance)"
    return (
        f"Accept version {charter.version} of the usage charter '{title}' before posting: "
        f"read it and accept it at {CHARTER_PAGE}{again if accepted_version else ''}."
    )


async def require_acceptance(session: AsyncSession, charter: Charter, user: User) -> None:
    """Raise `CharterNotAccepted` unless the person accepted this charter's current major version."""
    accepted, version = await acceptance_status(session, charter, user)
    if not accepted:
        raise CharterNotAccepted(
            not_accepted_message(charter, charter_language(charter, user.language), version),
            charter_id=charter.id,
            charter_version=charter.version,
        )


# --- cross-border consent ----------------------------------------------------------------------------------


def _jurisdiction(value: str) -> str:
    value = value.strip()
    if not _JURISDICTION.match(value):
        raise ValidationFailed(
            "must be a country code such as CN or FR, or a region name", field="jurisdiction"
        )
    return value.upper() if len(value) == 2 else value


async def give_consent(
    session: AsyncSession, now: datetime, user: User, jurisdiction: str, text_version: str
) -> CrossBorderConsent:
    """Record the person's separate consent to send their data to `jurisdiction`, as worded in
    `text_version`. Giving it again for the same text keeps the first record; a new text replaces it."""
    code = _jurisdiction(jurisdiction)
    text_version = text_version.strip()
    if not text_version or len(text_version) > 50:
        raise ValidationFailed("is required (at most 50 characters)", field="text_version")
    for consent in await store.active_consents(session, user.id):
        if consent.jurisdiction == code and consent.text_version == text_version:
            return consent
    await store.withdraw_consents(session, user.id, code, now)
    return await store.add_consent(
        session,
        CrossBorderConsent(user_id=user.id, jurisdiction=code, text_version=text_version, given_at=now),
    )


async def withdraw_consent(session: AsyncSession, now: datetime, user: User, jurisdiction: str) -> bool:
    """Withdraw the consent for `jurisdiction`; False when there was none."""
    return await store.withdraw_consents(session, user.id, _jurisdiction(jurisdiction), now) > 0


async def list_consents(session: AsyncSession, user: User) -> Sequence[CrossBorderConsent]:
    return await store.active_consents(session, user.id)


async def consented_jurisdictions(session: AsyncSession, user: User) -> frozenset[str]:
    """What `EgressFacts.consented_jurisdictions` expects for this person."""
    return frozenset(c.jurisdiction for c in await store.active_consents(session, user.id))
