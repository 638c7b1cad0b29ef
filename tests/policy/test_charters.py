"""The charters shipped in charter/ must load and validate: CI relies on this test to check them."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.policy import (
    AnalyticsFacts,
    ContentFacts,
    DisplayFacts,
    EgressFacts,
    MembershipFacts,
    analytics_allowed,
    charter_files,
    check_files,
    evaluate_display,
    evaluate_egress,
    evaluate_membership,
    evaluate_publish,
    load_charter,
)
from tests.policy.conftest import CHARTER_DIR

FILES = charter_files(CHARTER_DIR)


def test_the_expected_charters_are_there() -> None:
    assert {p.stem for p in FILES} >= {"group", "fr", "de", "us", "cn"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_charter_file_is_valid(path: Path) -> None:
    assert check_files([path]) == []
    charter = load_charter(CHARTER_DIR, path.stem)
    assert charter.id == path.stem
    own = [a for a in charter.articles if a.source == path.name]
    assert own and all(set(a.title) == set(charter.languages) for a in own)


def test_france_rejects_a_social_security_number_and_redacts_the_phone() -> None:
    fr = load_charter(CHARTER_DIR, "fr")
    decision = evaluate_publish(fr, ContentFacts(text="Mon NIR est 1 85 05 78 006 084 91"))
    assert (decision.action, decision.article_id, decision.detectors) == ("reject", "4.1", ("fr.nir",))
    profile = EgressFacts("DE", "profile", profile_fields=frozenset({"phone", "birthday", "name"}))
    redacted = evaluate_egress(fr, profile)
    assert (redacted.action, set(redacted.redacted_fields)) == ("redact", {"phone", "birthday"})
    assert evaluate_egress(fr, EgressFacts("CN", "post")).action == "deny"
    assert evaluate_egress(fr, EgressFacts("JP", "post")).action == "allow"


def test_germany_forbids_per_person_figures() -> None:
    de = load_charter(CHARTER_DIR, "de")
    decision = analytics_allowed(de, AnalyticsFacts(group_size=40, per_person=True))
    assert (decision.action, decision.article_id) == ("deny", "8.1")
    assert analytics_allowed(de, AnalyticsFacts(group_size=6)).action == "deny"


def test_united_states_export_controlled_membership() -> None:
    us = load_charter(CHARTER_DIR, "us")
    tags = frozenset({"export-controlled"})
    assert evaluate_membership(us, MembershipFacts("FR", tags)).action == "deny"
    assert evaluate_membership(us, MembershipFacts("US", tags)).action == "allow"
    assert evaluate_publish(us, ContentFacts(text="SSN 536-22-1234")).action == "reject"


def test_china_requires_separate_consent_and_labels_foreign_content() -> None:
    cn = load_charter(CHARTER_DIR, "cn")
    missing = evaluate_egress(cn, EgressFacts("FR", "post"))
    assert (missing.action, missing.article_id) == ("require_consent", "6.1")
    given = evaluate_egress(cn, EgressFacts("FR", "post", consented_jurisdictions=frozenset({"FR"})))
    assert given.action == "allow"
    assert evaluate_egress(cn, EgressFacts(None, "post")).action == "deny"
    held = evaluate_publish(cn, ContentFacts(text="这份机密文件请勿外传"))
    assert (held.action, held.article_id) == ("hold", "4.4")
    label = evaluate_display(cn, DisplayFacts(ContentFacts(text="hi"), "FR", is_remote=True))
    assert label.labels[0].text["zh"] == "此内容来自中国境外的实例"
