from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.policy import (
    Charter,
    ContentFacts,
    LegalHold,
    StoredItem,
    diff_charters,
    load_charter,
    simulate,
)
from tests.policy.conftest import write

NOW = datetime(2026, 6, 1, tzinfo=UTC)
IBAN = "DE89 3704 0044 0532 0130 00"


def item(n: int, text: str, age_days: int = 10, **content: object) -> StoredItem:
    return StoredItem(
        id=f"post-{n}",
        created_at=NOW - timedelta(days=age_days),
        content=ContentFacts(text=text, **content),  # type: ignore[arg-type]
        author_id=f"user-{n}",
    )


def test_simulation_counts_per_article_with_examples(charter: Charter) -> None:
    items = [
        item(1, f"iban {IBAN}"),
        item(2, f"iban {IBAN} and a secret"),
        item(3, "a secret"),
        item(4, "#rumour"),
        item(5, "old news", age_days=6 * 365),
        item(6, "old and held", age_days=6 * 365),
        item(7, "nothing"),
    ]
    hold = LegalHold(id="h", placed_at=NOW - timedelta(days=1), person_id="user-6")
    report = simulate(charter, items, NOW, holds=[hold], examples=1)
    assert (report.charter_id, report.charter_version, report.total) == ("t", "2.3", 7)
    assert dict(report.outcomes) == {"rejected": 2, "held": 1, "labelled": 1, "allowed": 3, "purgeable": 1}
    identifiers = report.article("1")
    assert identifiers is not None
    assert identifiers.count("rejected") == 2 and identifiers.examples["rejected"] == ("post-1",)
    review = report.article("2")
    assert review is not None and review.count("held") == 2
    labels = report.article("4")
    assert labels is not None and labels.count("labelled") == 1
    retention = report.article("1")
    assert retention is not None and retention.count("purgeable") == 1
    assert retention.examples["purgeable"] == ("post-5",)
    assert report.article("9") is None


def test_diff_lists_articles_rules_and_sections(charter_dir: Path, charter: Charter) -> None:
    text = (charter_dir / "t.toml").read_text()
    text = text.replace('version = "2.3"', 'version = "3.0"')
    text = text.replace('match = { detector = ["iban", "fr.nir"] }', 'match = { detector = ["iban"] }')
    text = text.replace("per_person_figures = false", "per_person_figures = true")
    text = text.replace(
        'text = { en = "Held.", fr = "Retenu." }', 'text = { en = "Held for review.", fr = "Retenu." }'
    )
    text += (
        '\n[[article]]\nid = "11"\ntitle = { en = "New", fr = "Nouveau" }\ntext = { en = "N", fr = "N" }\n'
    )
    new_dir = charter_dir / "new"
    new_dir.mkdir()
    write(new_dir, "base.toml", (charter_dir / "base.toml").read_text())
    write(new_dir, "t.toml", text)
    new = load_charter(new_dir, "t")
    assert diff_charters(charter, new) == [
        "version: 2.3 → 3.0 (new major version: every user must accept it again)",
        "article 1: rule 1 match.detector: [iban, fr.nir] → [iban]",
        "article 3: text changed (en)",
        "article 11 added: New",
        "analytics.per_person_figures: false → true",
    ]
    assert diff_charters(charter, charter) == []


def test_diff_reports_removed_articles_and_rules(charter: Charter) -> None:
    first = charter.articles[0]
    fewer_rules = replace(first, rules=first.rules[:1])
    smaller = replace(charter, articles=(fewer_rules, *charter.articles[2:]))
    assert diff_charters(charter, smaller) == [
        "article 1: rule 2 removed (was ingress → reject)",
        "article 2 removed: Kept",
    ]
