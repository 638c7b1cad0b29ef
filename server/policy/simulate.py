"""What would a charter have done to stored content, and what changed between two versions of a charter.

Both are pure: the caller (the `cercle charter simulate` and `diff` commands) reads stored content and files
and passes them in; nothing here touches storage or the clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from types import MappingProxyType

from server.policy.decisions import Decision, localize
from server.policy.engine import evaluate_publish
from server.policy.facts import LegalHold, StoredItem
from server.policy.retention import is_purgeable
from server.policy.schema import Article, Charter, Match, Rule

OUTCOMES = ("rejected", "held", "labelled", "purgeable")
_OUTCOME_OF = {"reject": "rejected", "hold": "held", "label": "labelled"}


@dataclass(frozen=True, slots=True)
class ArticleTally:
    article_id: str
    counts: Mapping[str, int]
    examples: Mapping[str, tuple[str, ...]]

    def count(self, outcome: str) -> int:
        return self.counts.get(outcome, 0)


@dataclass(frozen=True, slots=True)
class SimulationReport:
    charter_id: str
    charter_version: str
    total: int
    outcomes: Mapping[str, int]
    articles: tuple[ArticleTally, ...]

    def article(self, article_id: str) -> ArticleTally | None:
        return next((t for t in self.articles if t.article_id == article_id), None)


def simulate(
    charter: Charter,
    items: Iterable[StoredItem],
    now: datetime,
    *,
    holds: Sequence[LegalHold] = (),
    examples: int = 5,
) -> SimulationReport:
    """Run the publish rules and the retention rules over stored items.

    An item counts once per article and outcome, for every rule that matched it (not only the one that
    won), so each article's weight is visible; `outcomes` counts each item once, by its final decision.
    """
    counts: dict[str, Counter[str]] = {}
    picked: dict[str, dict[str, list[str]]] = {}
    outcomes: Counter[str] = Counter()
    total = 0

    def note(article_id: str | None, outcome: str, item_id: str) -> None:
        if article_id is None:
            return
        counts.setdefault(article_id, Counter())[outcome] += 1
        shown = picked.setdefault(article_id, {}).setdefault(outcome, [])
        if len(shown) < examples and item_id not in shown:
            shown.append(item_id)

    for item in items:
        total += 1
        decision = evaluate_publish(charter, item.content)
        outcomes[_OUTCOME_OF.get(decision.action, "allowed")] += 1
        for matched in (decision, *decision.also):
            if matched.action in ("reject", "hold"):
                note(matched.article_id, _OUTCOME_OF[matched.action], item.id)
        for article_id in dict.fromkeys(label.article_id for label in decision.labels):
            note(article_id, "labelled", item.id)
        purge = is_purgeable(
            charter,
            item.retention_kind,
            item.created_at,
            now,
            holds,
            author_id=item.author_id,
            community_id=item.community_id,
            community_tags=item.content.community_tags,
            community_kind=item.content.community_kind,
        )
        if purge.action == "allow":
            outcomes["purgeable"] += 1
            note(purge.article_id, "purgeable", item.id)
    tallies = tuple(
        ArticleTally(
            article_id=article.id,
            counts=MappingProxyType({o: counts[article.id][o] for o in OUTCOMES}),
            examples=MappingProxyType({o: tuple(ids) for o, ids in picked[article.id].items()}),
        )
        for article in charter.articles
        if article.id in counts
    )
    return SimulationReport(charter.id, charter.version, total, MappingProxyType(dict(outcomes)), tallies)


def decision_summary(decision: Decision, lang: str = "en") -> str:
    where = f"article {decision.article_id}" if decision.article_id else "no article"
    return f"{decision.action} ({decision.reason_code}, {where}): {localize(decision.message, lang)}"


# --- diff -------------------------------------------------------------------------------------------------


def _show(value: object) -> str:
    if isinstance(value, frozenset | set):
        return "[" + ", ".join(sorted(str(v) for v in value)) + "]"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in sorted(value.items())) + "}"
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _match_terms(match: Match) -> dict[str, str]:
    skip = {"keyword_pattern"}
    return {
        f"match.{'detector' if f.name == 'detectors' else f.name}": _show(getattr(match, f.name))
        for f in fields(match)
        if f.name not in skip and getattr(match, f.name) not in ((), frozenset(), None)
    }


def _rule_terms(rule: Rule) -> dict[str, str]:
    terms = {"at": rule.at, "action": rule.action, **_match_terms(rule.match)}
    for name in ("message", "label", "fields", "keep", "code"):
        value = getattr(rule, name)
        if value:
            terms[name] = _show(value)
    return terms


def _changes(prefix: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    lines = []
    for key in dict.fromkeys([*old, *new]):
        if old.get(key) != new.get(key):
            lines.append(f"{prefix}{key}: {old.get(key, '(none)')} → {new.get(key, '(none)')}")
    return lines


def _article_changes(old: Article, new: Article) -> list[str]:
    head = f"article {new.id}: "
    lines = [
        f"{head}title changed ({lang})"
        for lang in sorted({*old.title, *new.title})
        if old.title.get(lang) != new.title.get(lang)
    ]
    lines += [
        f"{head}text changed ({lang})"
        for lang in sorted({*old.text, *new.text})
        if old.text.get(lang) != new.text.get(lang)
    ]
    for n in range(max(len(old.rules), len(new.rules))):
        before = old.rules[n] if n < len(old.rules) else None
        after = new.rules[n] if n < len(new.rules) else None
        if before == after:
            continue
        if before is None and after is not None:
            lines.append(f"{head}rule {n + 1} added ({after.at} → {after.action})")
        elif after is None and before is not None:
            lines.append(f"{head}rule {n + 1} removed (was {before.at} → {before.action})")
        elif before is not None and after is not None:
            lines += _changes(f"{head}rule {n + 1} ", _rule_terms(before), _rule_terms(after))
    return lines


def _section_terms(charter: Charter) -> dict[str, str]:
    terms = {
        f"retention.{k}": _show(v) if v is not None else "forever"
        for k, v in charter.retention.periods.items()
    }
    terms["retention.article"] = _show(charter.retention.article)
    for name in ("egress", "analytics", "administration"):
        section = getattr(charter, name)
        terms.update({f"{name}.{f.name}": _show(getattr(section, f.name)) for f in fields(section)})
    terms.update({f"region_members.{k}": _show(v) for k, v in charter.region_members.items()})
    return terms


def diff_charters(old: Charter, new: Charter, lang: str = "en") -> list[str]:
    """Human-readable changes from `old` to `new`, one line each, in charter order."""
    lines: list[str] = []
    if old.version != new.version:
        note = " (new major version: every user must accept it again)" if old.major != new.major else ""
        lines.append(f"version: {old.version} → {new.version}{note}")
    lines += _changes(
        "",
        {"jurisdiction": _show(old.jurisdiction), "regions": _show(old.regions)},
        {"jurisdiction": _show(new.jurisdiction), "regions": _show(new.regions)},
    )
    old_articles = {a.id: a for a in old.articles}
    new_articles = {a.id: a for a in new.articles}
    for article in new.articles:
        before = old_articles.get(article.id)
        if before is None:
            lines.append(f"article {article.id} added: {localize(article.title, lang)}")
        elif before != article:
            lines += _article_changes(before, article)
    lines += [
        f"article {a.id} removed: {localize(a.title, lang)}" for a in old.articles if a.id not in new_articles
    ]
    lines += _changes("", _section_terms(old), _section_terms(new))
    return lines
