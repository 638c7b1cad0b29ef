from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from server.policy import CharterError, check_files, load_charter, parse_duration
from tests.policy.conftest import BASE, write

FR_HEAD = """
id = "fr"
extends = "base"
jurisdiction = "FR"
version = "2026.2"
languages = ["fr", "en"]
"""

ARTICLE = """
[[article]]
id = "{id}"
title = {{ fr = "Titre", en = "Title" }}
text = {{ fr = "Texte", en = "Text" }}
"""


def article(article_id: str, rules: str = "") -> str:
    return ARTICLE.format(id=article_id) + rules


def fr_file(tmp_path: Path, body: str) -> Path:
    write(tmp_path, "base.toml", BASE)
    return write(tmp_path, "fr.toml", FR_HEAD + body)


def test_unknown_action_is_reported_with_file_and_path_counted_from_one(tmp_path: Path) -> None:
    rules = '  [[article.rule]]\n  at = "publish"\n  action = "rejet"\n'
    path = fr_file(tmp_path, article("1") + article("2") + article("3") + article("4.2", rules))
    assert check_files([path]) == ["fr.toml: article[4].rule[1].action: unknown action 'rejet'"]


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    path = fr_file(tmp_path, article("1").replace("title =", "titel =").replace("[[article]]", "[[article]]"))
    assert check_files([path]) == [
        "fr.toml: article[1].titel: unknown key (did you mean 'title'?)",
        "fr.toml: article[1].title: missing",
    ]


def test_every_problem_is_collected_one_per_line(tmp_path: Path) -> None:
    body = (
        'colour = "blue"\n'
        + article(
            "1",
            '  [[article.rule]]\n  at = "publier"\n  action = "reject"\n'
            '  [[article.rule]]\n  at = "publish"\n  action = "reject"\n'
            '  match = { detector = ["fr.nirr"], destination_in = ["US"] }\n'
            '  [[article.rule]]\n  at = "egress"\n  action = "redact"\n'
            '  [[article.rule]]\n  at = "display"\n  action = "label"\n',
        )
        + '[retention]\nposts = "5 ans"\n[egress]\narticle = "99"\n'
    )
    errors = check_files([fr_file(tmp_path, body)])
    assert errors == [
        "fr.toml: colour: unknown key",
        "fr.toml: article[1].rule[1].at: unknown point 'publier'",
        "fr.toml: article[1].rule[2].match.detector[1]: unknown detector 'fr.nirr'",
        "fr.toml: article[1].rule[2].match.destination_in: not used at publish",
        "fr.toml: article[1].rule[3].fields: required when the action is 'redact'",
        "fr.toml: article[1].rule[4].label: required when the action is 'label'",
        "fr.toml: retention.posts: not a duration: '5 ans' (write e.g. 5y, 6mo, 12w, 90d or 24h)",
        "fr.toml: egress.article: no article '99' in this charter",
    ]


def test_action_not_allowed_at_a_point(tmp_path: Path) -> None:
    rules = '  [[article.rule]]\n  at = "publish"\n  action = "redact"\n  fields = ["phone"]\n'
    errors = check_files([fr_file(tmp_path, article("1", rules))])
    assert errors == [
        "fr.toml: article[1].rule[1].action: 'redact' cannot be used at publish "
        "(allowed there: allow, hold, label, reject)"
    ]


def test_texts_must_exist_in_every_language_of_the_charter(tmp_path: Path) -> None:
    body = '[[article]]\nid = "1"\ntitle = { fr = "Titre" }\ntext = { fr = "T", en = "T", de = "T" }\n'
    assert check_files([fr_file(tmp_path, body)]) == [
        "fr.toml: article[1].title: missing the 'en' text",
        "fr.toml: article[1].text.de: language 'de' is not in this charter's languages",
    ]


def test_id_must_match_file_name_and_articles_be_unique(tmp_path: Path) -> None:
    path = fr_file(tmp_path, article("1") + article("1"))
    path.write_text(path.read_text().replace('id = "fr"', 'id = "france"'))
    assert check_files([path]) == [
        "fr.toml: id: 'france' does not match the file name (expected 'fr')",
        "fr.toml: article[2].id: '1' is already used by article[1]",
    ]


def test_syntax_errors_missing_parents_and_cycles(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.toml", 'id = "bad"\nversion = \n')
    orphan = write(
        tmp_path, "orphan.toml", 'id = "orphan"\nextends = "nobody"\nversion = "1"\nlanguages = ["en"]\n'
    )
    write(tmp_path, "a.toml", 'id = "a"\nextends = "b"\nversion = "1"\nlanguages = ["en"]\n')
    loop = write(tmp_path, "b.toml", 'id = "b"\nextends = "a"\nversion = "1"\nlanguages = ["en"]\n')
    errors = check_files([bad, orphan, loop])
    assert errors[0].startswith("bad.toml: not valid TOML: ")
    assert errors[1:] == [
        "orphan.toml: extends: no charter 'nobody' (nobody.toml) beside this file",
        "a.toml: extends: 'b' leads back to this charter",
    ]


def test_load_charter_raises_with_all_errors(tmp_path: Path) -> None:
    rules = '  [[article.rule]]\n  at = "publish"\n  action = "rejet"\n'
    fr_file(tmp_path, article("4", rules) + "[analytics]\nmin_group_size = 0\n")
    with pytest.raises(CharterError) as raised:
        load_charter(tmp_path, "fr")
    assert raised.value.errors == [
        "fr.toml: article[1].rule[1].action: unknown action 'rejet'",
        "fr.toml: analytics.min_group_size: expected a whole number of people, 1 or more",
    ]
    with pytest.raises(CharterError, match="no such charter"):
        load_charter(tmp_path, "de")
    with pytest.raises(CharterError, match="not a charter id"):
        load_charter(tmp_path, "../etc/passwd")


def test_extends_merges_articles_by_id_and_sections_key_by_key(tmp_path: Path) -> None:
    replaced = article("1").replace('"Title"', '"Replaced"')
    body = replaced + article("10") + article("3") + '[retention]\nposts = "3y"\nnotifications = "forever"\n'
    fr_file(tmp_path, body)
    charter = load_charter(tmp_path, "fr")
    assert [a.id for a in charter.articles] == ["1", "2", "3", "10"]
    assert charter.article("1") is not None and charter.article("1").title["en"] == "Replaced"  # type: ignore[union-attr]
    assert charter.article("2") is not None and charter.article("2").source == "base.toml"  # type: ignore[union-attr]
    assert str(charter.retention.periods["posts"]) == "3y"
    assert str(charter.retention.periods["comments"]) == "1y"
    assert charter.retention.periods["notifications"] is None
    assert charter.retention.article == "1"
    assert charter.analytics.min_group_size == 5 and charter.analytics.per_person_figures
    assert charter.extends == ("base",)
    assert charter.regions_of("FR") == {"EU"}
    assert [a.id for a, _ in charter.rules_at["publish"]] == ["2"]


def test_loaded_charter_is_immutable_and_precompiled(tmp_path: Path) -> None:
    fr_file(tmp_path, article("1"))
    charter = load_charter(tmp_path, "fr")
    with pytest.raises(dataclasses.FrozenInstanceError):
        charter.version = "9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        charter.retention.periods["posts"] = None  # type: ignore[index]
    rule = charter.rules_at["publish"][0][1]
    assert rule.match.keyword_pattern is not None and rule.match.keyword_pattern.search("Top SECRET plan")
    assert rule.match.keyword_pattern.search("secretary") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5y", timedelta(days=1825)),
        ("6mo", timedelta(days=180)),
        ("12w", timedelta(weeks=12)),
        ("90d", timedelta(days=90)),
        ("24h", timedelta(hours=24)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["5", "5 ans", "y", "-1d", "1.5y"])
def test_parse_duration_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
