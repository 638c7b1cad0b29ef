"""A person's profile as each peer may receive it: the sending charter's egress on the `Person` document.

A `Person` carries its owner's network-visible profile: the bio as `summary`, and job title, department,
site, languages, expertise, interests and contact details as `PropertyValue` attachments. When a peer
fetches it with a signature, the charter is asked what may go to that peer's jurisdiction (content kind
`profile`, with the names of the fields the document would carry: `bio`, `job_title`, ..., and the contact
keys `phone`, `mobile`, `office`, `email`, `chat`, `website`):

- allowed (or labelled): every network-visible field;
- `redact`: without the fields the decision names (`[egress] redact_profile_fields`, or a rule's `fields`);
- `reference_only`, `deny`, or a cross-border consent the person has not given: identity and keys only
  (name, handle, inbox, keys: what the peer needs to check the person's signatures), no bio, no fields.

Each decision that names an article, or is not a plain allow, goes to the audit log with the peer's domain,
as delivery decisions do. A fetch without a signature comes from no known peer and gets the
network-visible profile, as the profile page shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.federation.authentication import Signer
from server.policy import EgressFacts, evaluate_egress
from server.services import charter as charter_service
from server.services.profiles import profile_view
from server.storage import backfill as backfill_store
from server.storage.social import Actor, Profile

if TYPE_CHECKING:
    from server.federation.state import Federation

SENT_WHOLE = ("allow", "label")


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class ServedProfile:
    summary: str
    fields: list[tuple[str, str]]


def profile_entries(profile: Profile, actor: Actor, labels: Mapping[str, str]) -> tuple[str, list[Entry]]:
    """The bio (HTML) and the other fields a person shows to the network, each with its field name."""
    view = profile_view(profile, actor, "network")
    entries: list[Entry] = []
    for name, label in labels.items():
        value = view.get(name)
        text = ", ".join(value) if isinstance(value, list) else value
        if isinstance(text, str) and text:
            entries.append(Entry(name, label, text))
    entries += [
        Entry(key, key.title(), str(value)) for key, value in view.get("contact", {}).items() if value
    ]
    return str(view.get("bio_html") or ""), entries


def _served(bio: str, entries: list[Entry], fallback: str, dropped: frozenset[str]) -> ServedProfile:
    summary = "" if "bio" in dropped else (bio or fallback)
    return ServedProfile(summary, [(e.label, e.text) for e in entries if e.name not in dropped])


async def profile_for(
    fed: Federation, actor: Actor, who: Signer | None, labels: Mapping[str, str]
) -> ServedProfile:
    """The summary and fields of `actor`'s document for the peer `who` (None: an unsigned fetch)."""
    ctx = fed.ctx
    async with ctx.sessions() as session:
        profile = await session.get(Profile, actor.id)
    if profile is None:
        return ServedProfile(actor.summary, [])
    bio, entries = profile_entries(profile, actor, labels)
    if who is None:
        return _served(bio, entries, actor.summary, frozenset())
    present = frozenset(e.name for e in entries) | ({"bio"} if bio or actor.summary else set())
    peer = ctx.settings.peer(who.domain)
    jurisdiction = peer.jurisdiction if peer else None
    async with ctx.transaction() as session:
        user = await backfill_store.user_of_actor(session, actor.id)
        consents = await charter_service.consented_jurisdictions(session, user) if user else frozenset()
        decision = evaluate_egress(
            ctx.charter,
            EgressFacts(
                destination_jurisdiction=jurisdiction,
                content_kind="profile",
                destination_regions=ctx.charter.regions_of(jurisdiction),
                consented_jurisdictions=consents,
                profile_fields=present,
            ),
        )
        if decision.article_id is not None or decision.action not in SENT_WHOLE:
            await charter_service.record_decision(
                session,
                ctx.clock.now(),
                ctx.charter,
                decision,
                subject_kind="profile",
                subject=actor.uri,
                actor_id=actor.id,
                peer_domain=who.domain,
            )
    if decision.action in SENT_WHOLE:
        return _served(bio, entries, actor.summary, frozenset())
    if decision.action == "redact":
        return _served(bio, entries, actor.summary, frozenset(decision.redacted_fields))
    return ServedProfile("", [])
