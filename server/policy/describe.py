"""A charter in plain words, as `cercle charter show` prints it: articles, their rules, the sections.

Pure text rendering; the wording of articles and messages is the charter's own, in the language asked.
"""

from __future__ import annotations

import textwrap
from dataclasses import fields

from server.policy.decisions import localize
from server.policy.detectors import DETECTORS
from server.policy.schema import Charter, Match, Rule

_WHAT = {
    "allow": "allow it",
    "reject": "refuse it",
    "hold": "hold it for a moderator",
    "redact": "remove these fields before sending",
    "label": "show a notice",
    "reference_only": "send only a reference",
    "require_consent": "require the author's cross-border consent",
    "deny": "refuse it",
}
_WHEN = {
    "publish": "When someone publishes",
    "ingress": "When content arrives from another instance",
    "egress": "When something is about to leave for another instance",
    "display": "When content is shown",
    "membership": "When someone asks to join a community",
    "retention": "Retention",
    "analytics": "For usage figures",
    "administration": "When an administrator wants to read private content",
}
_CONDITIONS = {
    "keywords": "it contains one of the words",
    "hashtags": "it carries one of the hashtags",
    "attachment_types": "an attachment is of type",
    "content_kinds": "it is a",
    "community_tags": "the community is tagged",
    "community_kinds": "the community is a",
    "author_in": "the author is in",
    "author_not_in": "the author is not in",
    "origin_in": "it comes from",
    "origin_not_in": "it does not come from",
    "destination_in": "it goes to",
    "destination_not_in": "it does not go to",
    "person_in": "the person is in",
    "person_not_in": "the person is not in",
}


def _size(size: int) -> str:
    for unit, factor in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def _conditions(match: Match) -> list[str]:
    found: list[str] = []
    if match.detectors:
        found.append(
            "it contains "
            + " or ".join(DETECTORS[d].description if d in DETECTORS else d for d in match.detectors)
        )
    if match.attachment_larger_than is not None:
        found.append(f"an attachment is larger than {_size(match.attachment_larger_than)}")
    for f in fields(match):
        label = _CONDITIONS.get(f.name)
        value = getattr(match, f.name)
        if label and value:
            items = sorted(value) if isinstance(value, frozenset) else list(value)
            found.append(f"{label} " + ", ".join(f"'{v}'" if f.name == "keywords" else str(v) for v in items))
    return found


def describe_rule(rule: Rule, lang: str) -> str:
    """One sentence: when, on what condition, what happens, and what the person is told."""
    conditions = _conditions(rule.match)
    when = _WHEN[rule.at] + (" and " + " and ".join(conditions) if conditions else "")
    if rule.at == "retention":
        keep = f"keep it {rule.keep}" if rule.keep is not None else "keep it with no time limit"
        what = keep
    else:
        what = _WHAT[rule.action]
        if rule.fields:
            what += f" ({', '.join(rule.fields)})"
    sentence = f"{when}: {what}."
    told = localize(rule.message or rule.label, lang) if (rule.message or rule.label) else ""
    return f"{sentence} Shown: “{told}”" if told else sentence


def render_charter(charter: Charter, lang: str, width: int = 100) -> list[str]:
    """The charter as lines of text: header, articles with their rules, then the settings."""
    title = localize(charter.title, lang) or charter.id
    lines = [title, "=" * len(title)]
    head = f"Charter {charter.id}, version {charter.version}"
    if charter.extends:
        head += f", extends {', '.join(charter.extends)}"
    if charter.jurisdiction:
        regions = f" ({', '.join(sorted(charter.regions))})" if charter.regions else ""
        head += f"; jurisdiction {charter.jurisdiction}{regions}"
    lines += [head + f"; languages {', '.join(charter.languages)}", ""]
    for article in charter.articles:
        lines.append(f"§ {article.id} {localize(article.title, lang)}")
        lines += textwrap.wrap(
            localize(article.text, lang), width, initial_indent="  ", subsequent_indent="  "
        )
        lines += [
            line
            for rule in article.rules
            for line in textwrap.wrap(
                describe_rule(rule, lang), width, initial_indent="  → ", subsequent_indent="    "
            )
        ]
        lines.append("")
    lines.append("Retention")
    for kind, period in charter.retention.periods.items():
        lines.append(f"  {kind}: {period if period is not None else 'kept forever'}")
    egress = charter.egress
    lines += [
        "Transfers to other instances",
        f"  allowed destinations: {', '.join(sorted(egress.allow_jurisdictions)) or 'none'}"
        + (" and unknown ones" if egress.allow_unknown else ""),
    ]
    if egress.require_consent:
        lines.append("  each person's separate consent is required before their data leaves")
    if egress.reference_only_kinds:
        lines.append(f"  sent as a reference only: {', '.join(sorted(egress.reference_only_kinds))}")
    removed = (*egress.redact_profile_fields, *egress.redact_media)
    if removed:
        lines.append(f"  removed before sending: {', '.join(removed)}")
    analytics = charter.analytics
    lines += [
        "Usage figures",
        f"  never about fewer than {analytics.min_group_size} people; figures about one person "
        + ("allowed" if analytics.per_person_figures else "forbidden"),
        "Administrators",
        "  may read private content"
        if charter.administration.admins_may_read_private
        else "  may not read private content",
    ]
    return lines
