"""The charter engine: facts in, decisions out, each naming the article that decided.

How it works. A loaded `Charter` keeps its rules indexed by point (publish, ingress, egress, display,
membership, retention, analytics, administration). At each point the engine builds a `Situation` from the
facts it is given, tries every rule of that point in article order, and turns each rule that matches into a
`Decision`. The decisions are then combined: the most severe wins (reject/deny > require_consent >
hold/reference_only > label/redact > allow; the first article wins a tie), labels and redacted fields
are collected from every matching rule, and the others are kept in `Decision.also` for the audit log.
When nothing matched, the answer is `allow` with no article.

Sections carry the rules that are not about content: `[egress]` decides destinations, consent, references
and redactions after the egress rules (an explicit `allow` rule lifts the destination check, never the
others); `[analytics]` sets thresholds that an `allow` rule cannot lower; `[administration]` is the default
that administration rules refine for the communities they match; `[retention]` is in `retention.py`.

Why this shape. Everything here is pure: no clock (time is an argument), no storage, no network, no
environment, so the same function serves the live path, the audit replay and the simulation of a charter
change, and every test is a table of facts and expected decisions. Decisions never carry a detected
value, only the detector's kind, so they can be logged and shown without leaking what they protect.
Unknown jurisdictions are treated as the strictest: only a list that names "unknown" matches them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from server.policy.decisions import Decision, Label
from server.policy.facts import (
    AnalyticsFacts,
    ContentFacts,
    DisplayFacts,
    EgressFacts,
    IngressFacts,
    MembershipFacts,
)
from server.policy.matching import ContentScan, Hit, Place, Situation, rule_hit
from server.policy.retention import is_purgeable, retention_deadline
from server.policy.schema import NO_TEXT, Action, Article, Charter, Point, Rule, major_of

__all__ = [
    "admin_may_read_private",
    "analytics_allowed",
    "evaluate_display",
    "evaluate_egress",
    "evaluate_ingress",
    "evaluate_membership",
    "evaluate_publish",
    "is_purgeable",
    "requires_reacceptance",
    "retention_deadline",
]


def rule_decision(charter: Charter, article: Article, rule: Rule, hit: Hit) -> Decision:
    return Decision(
        charter_id=charter.id,
        charter_version=charter.version,
        point=rule.at,
        action=rule.action,
        reason_code=rule.code or f"{rule.at}.{rule.action}",
        article_id=article.id,
        message=rule.message or rule.label or article.title,
        detectors=hit.detectors,
        criteria=hit.criteria,
        labels=(Label(article.id, rule.label),) if rule.action == "label" else (),
    )


def section_decision(
    charter: Charter,
    point: Point,
    action: Action,
    reason_code: str,
    article_id: str | None,
    redacted_fields: tuple[str, ...] = (),
) -> Decision:
    article = charter.article(article_id)
    return Decision(
        charter_id=charter.id,
        charter_version=charter.version,
        point=point,
        action=action,
        reason_code=reason_code,
        article_id=article_id,
        message=article.title if article is not None else NO_TEXT,
        redacted_fields=redacted_fields,
    )


def _matching(charter: Charter, point: Point, situation: Situation) -> Iterable[tuple[Article, Rule, Hit]]:
    for article, rule in charter.rules_at.get(point, ()):
        hit = rule_hit(rule.match, situation)
        if hit is not None:
            yield article, rule, hit


def combine(charter: Charter, point: Point, decisions: list[Decision]) -> Decision:
    if not decisions:
        return section_decision(charter, point, "allow", "no_rule", None)
    top = max(decisions, key=lambda d: d.severity)
    fields = dict.fromkeys(f for d in decisions if d.action == top.action for f in d.redacted_fields)
    return replace(
        top,
        labels=tuple(label for d in decisions for label in d.labels),
        redacted_fields=tuple(fields),
        also=tuple(d for d in decisions if d is not top),
    )


def _by_rules(charter: Charter, point: Point, situation: Situation) -> Decision:
    decisions = [rule_decision(charter, a, r, hit) for a, r, hit in _matching(charter, point, situation)]
    return combine(charter, point, decisions)


def evaluate_publish(charter: Charter, facts: ContentFacts) -> Decision:
    """reject | hold | label | allow for content written on this instance."""
    return _by_rules(charter, "publish", _content_situation(charter, facts))


def evaluate_ingress(charter: Charter, facts: IngressFacts) -> Decision:
    """reject | hold | label | allow for content arriving from a peer."""
    situation = replace(
        _content_situation(charter, facts.content),
        origin=Place.of(charter, facts.origin_jurisdiction, facts.origin_regions),
    )
    return _by_rules(charter, "ingress", situation)


def evaluate_display(charter: Charter, facts: DisplayFacts) -> Decision:
    """The labels and disclaimers to show beside content (`Decision.labels`), or allow with none."""
    origin = facts.origin_jurisdiction
    if origin is None and not facts.is_remote:
        origin = charter.jurisdiction
    situation = replace(
        _content_situation(charter, facts.content),
        origin=Place.of(charter, origin, facts.origin_regions),
    )
    return _by_rules(charter, "display", situation)


def evaluate_membership(charter: Charter, facts: MembershipFacts) -> Decision:
    """allow | deny a person joining a community."""
    situation = Situation(
        community_tags=facts.community_tags,
        community_kind=facts.community_kind,
        person=Place.of(charter, facts.person_jurisdiction, facts.person_regions),
    )
    return _by_rules(charter, "membership", situation)


def evaluate_egress(charter: Charter, facts: EgressFacts) -> Decision:
    """allow | deny | redact | reference_only | require_consent for something about to leave.

    Rules first, then the `[egress]` section. A destination on this charter's own jurisdiction is not a
    transfer: only rules apply to it. `require_consent` is satisfied (and recorded as allow) when the author
    consented to the destination or one of its regions.
    """
    destination = Place.of(charter, facts.destination_jurisdiction, facts.destination_regions)
    consented = destination.code is not None and destination.listed_in(facts.consented_jurisdictions)
    present = facts.profile_fields | facts.media_metadata
    content = facts.content
    situation = Situation(
        scan=ContentScan(content) if content is not None else None,
        content_kind=facts.content_kind,
        community_tags=content.community_tags if content is not None else frozenset(),
        community_kind=content.community_kind if content is not None else None,
        destination=destination,
    )
    decisions: list[Decision] = []
    for article, rule, hit in _matching(charter, "egress", situation):
        if rule.action == "require_consent" and consented:
            decisions.append(
                replace(
                    rule_decision(charter, article, rule, hit),
                    action="allow",
                    reason_code="egress.consent_given",
                )
            )
        elif rule.action == "redact":
            fields = tuple(f for f in rule.fields if f in present)
            if fields:
                decisions.append(replace(rule_decision(charter, article, rule, hit), redacted_fields=fields))
        else:
            decisions.append(rule_decision(charter, article, rule, hit))
    explicitly_allowed = any(
        d.action == "allow" and d.reason_code != "egress.consent_given" for d in decisions
    )
    decisions.extend(_egress_section(charter, facts, destination, consented, explicitly_allowed))
    return combine(charter, "egress", decisions)


def _egress_section(
    charter: Charter, facts: EgressFacts, destination: Place, consented: bool, explicitly_allowed: bool
) -> list[Decision]:
    policy = charter.egress
    if destination.code is not None and destination.code == charter.jurisdiction:
        return []

    def decide(action: Action, reason: str, fields: tuple[str, ...] = ()) -> Decision:
        return section_decision(charter, "egress", action, reason, policy.article, fields)

    if not explicitly_allowed:
        if destination.code is None and not policy.allow_unknown:
            return [decide("deny", "egress.unknown_destination")]
        if destination.code is not None and not destination.listed_in(policy.allow_jurisdictions):
            return [decide("deny", "egress.destination_not_allowed")]
    decisions: list[Decision] = []
    if policy.require_consent and not consented:
        decisions.append(decide("require_consent", "egress.consent_missing"))
    if facts.content_kind in policy.reference_only_kinds:
        decisions.append(decide("reference_only", "egress.reference_only"))
    present = facts.profile_fields | facts.media_metadata
    fields = tuple(f for f in (*policy.redact_profile_fields, *policy.redact_media) if f in present)
    if fields:
        decisions.append(decide("redact", "egress.redact", fields))
    return decisions


def analytics_allowed(charter: Charter, facts: AnalyticsFacts) -> Decision:
    """deny below `min_group_size`, deny per-person figures where forbidden, deny where a rule says so."""
    situation = Situation(community_tags=facts.community_tags, community_kind=facts.community_kind)
    denied = [
        rule_decision(charter, a, r, hit)
        for a, r, hit in _matching(charter, "analytics", situation)
        if r.action == "deny"
    ]
    if denied:
        return combine(charter, "analytics", denied)
    policy = charter.analytics
    if facts.per_person and not policy.per_person_figures:
        return section_decision(
            charter, "analytics", "deny", "analytics.per_person_forbidden", policy.article
        )
    if facts.group_size < policy.min_group_size:
        return section_decision(charter, "analytics", "deny", "analytics.group_too_small", policy.article)
    return section_decision(charter, "analytics", "allow", "analytics.allowed", policy.article)


def admin_may_read_private(
    charter: Charter, *, community_tags: frozenset[str] = frozenset(), community_kind: str | None = None
) -> Decision:
    """May an administrator read private content (of a community with these tags)?"""
    situation = Situation(community_tags=community_tags, community_kind=community_kind)
    decisions = [
        rule_decision(charter, a, r, hit) for a, r, hit in _matching(charter, "administration", situation)
    ]
    if decisions:
        return combine(charter, "administration", decisions)
    policy = charter.administration
    if policy.admins_may_read_private:
        return section_decision(
            charter, "administration", "allow", "administration.private_allowed", policy.article
        )
    return section_decision(
        charter, "administration", "deny", "administration.private_forbidden", policy.article
    )


def requires_reacceptance(charter: Charter, accepted_version: str | None) -> bool:
    """True if the person never accepted this charter or accepted an earlier major version."""
    return accepted_version is None or major_of(accepted_version) != charter.major


def _content_situation(charter: Charter, facts: ContentFacts) -> Situation:
    return Situation(
        scan=ContentScan(facts),
        content_kind=facts.kind,
        community_tags=facts.community_tags,
        community_kind=facts.community_kind,
        author=Place.of(charter, facts.author_jurisdiction),
    )
