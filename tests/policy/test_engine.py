from __future__ import annotations

from server.policy import (
    AnalyticsFacts,
    Attachment,
    Charter,
    ContentFacts,
    DisplayFacts,
    EgressFacts,
    IngressFacts,
    MembershipFacts,
    admin_may_read_private,
    analytics_allowed,
    evaluate_display,
    evaluate_egress,
    evaluate_ingress,
    evaluate_membership,
    evaluate_publish,
    localize,
    requires_reacceptance,
)

IBAN = "FR14 2004 1010 0505 0001 3M02 606"
CARD = "4111 1111 1111 1111"


# --- publish -----------------------------------------------------------------------------------------------


def test_publish_allows_ordinary_content_with_no_article(charter: Charter) -> None:
    decision = evaluate_publish(charter, ContentFacts(text="Lunch at noon?"))
    assert (decision.action, decision.article_id, decision.reason_code) == ("allow", None, "no_rule")
    assert (decision.charter_id, decision.charter_version, decision.point) == ("t", "2.3", "publish")


def test_publish_rejects_an_iban_and_names_the_article_but_never_the_value(charter: Charter) -> None:
    decision = evaluate_publish(charter, ContentFacts(text=f"Pay me on {IBAN} please"))
    assert (decision.action, decision.article_id) == ("reject", "1")
    assert decision.detectors == ("iban",)
    assert localize(decision.message, "fr") == "Pas d'IBAN."
    assert "2004" not in repr(decision)


def test_publish_holds_a_large_video(charter: Charter) -> None:
    video = Attachment("video/mp4", 40_000_000, "all-hands.mp4")
    decision = evaluate_publish(charter, ContentFacts(text="Replay", attachments=(video,)))
    assert (decision.action, decision.article_id) == ("hold", "3")
    assert decision.criteria == ("attachment_type:video/*", "attachment_size")
    small = Attachment("video/mp4", 1_000_000, "clip.mp4")
    assert evaluate_publish(charter, ContentFacts(attachments=(small,))).action == "allow"


def test_publish_labels_are_all_collected(charter: Charter) -> None:
    facts = ContentFacts(text="Heard a #Rumour today", community_tags=frozenset({"partners"}))
    decision = evaluate_publish(charter, facts)
    assert decision.action == "label"
    assert [(label.article_id, label.text["en"]) for label in decision.labels] == [
        ("4", "Visible to partners"),
        ("4", "Unverified"),
    ]


def test_publish_most_severe_wins_and_the_others_are_kept(charter: Charter) -> None:
    facts = ContentFacts(text=f"top secret: {IBAN} #rumour")
    decision = evaluate_publish(charter, facts)
    assert (decision.action, decision.article_id) == ("reject", "1")
    assert sorted((d.action, d.article_id) for d in decision.also) == [("hold", "2"), ("label", "4")]
    assert len(decision.labels) == 1


def test_publish_allow_rule_names_its_article(charter: Charter) -> None:
    facts = ContentFacts(text="hello", community_kind="open", author_jurisdiction="FR")
    decision = evaluate_publish(charter, facts)
    assert (decision.action, decision.article_id, decision.reason_code) == ("allow", "4", "publish.allow")
    other_author = ContentFacts(text="hello", community_kind="open", author_jurisdiction="US")
    assert evaluate_publish(charter, other_author).article_id is None


# --- ingress -----------------------------------------------------------------------------------------------


def test_ingress_allows_content_from_a_peer_in_the_eu(charter: Charter) -> None:
    decision = evaluate_ingress(charter, IngressFacts(ContentFacts(text="Hallo"), "DE"))
    assert (decision.action, decision.point) == ("allow", "ingress")


def test_ingress_rejects_a_card_number(charter: Charter) -> None:
    decision = evaluate_ingress(charter, IngressFacts(ContentFacts(text=f"card {CARD}"), "DE"))
    assert (decision.action, decision.article_id, decision.detectors) == ("reject", "1", ("payment_card",))


def test_ingress_holds_a_hashtag(charter: Charter) -> None:
    facts = IngressFacts(ContentFacts(text="look", hashtags=("#Leak",)), "IT")
    assert evaluate_ingress(charter, facts).action == "hold"


def test_ingress_labels_content_from_outside_the_eu_and_unknown_origins(charter: Charter) -> None:
    for origin in ("US", None):
        decision = evaluate_ingress(charter, IngressFacts(ContentFacts(text="hi"), origin))
        assert (decision.action, decision.labels[0].text["en"]) == ("label", "From abroad")


# --- egress ------------------------------------------------------------------------------------------------


def egress(charter: Charter, destination: str | None, kind: str = "post", **facts: object) -> tuple[str, str]:
    decision = evaluate_egress(charter, EgressFacts(destination, kind, **facts))  # type: ignore[arg-type]
    return decision.action, decision.reason_code


def test_egress_allows_an_allowed_region(charter: Charter) -> None:
    assert egress(charter, "DE") == ("allow", "no_rule")
    assert egress(charter, "JP") == ("allow", "no_rule")


def test_egress_denies_destinations_not_allowed_and_unknown_ones(charter: Charter) -> None:
    assert egress(charter, "BR") == ("deny", "egress.destination_not_allowed")
    assert egress(charter, None) == ("deny", "egress.unknown_destination")


def test_egress_explicit_allow_rule_lifts_the_destination_check(charter: Charter) -> None:
    decision = evaluate_egress(charter, EgressFacts("SG", "post"))
    assert (decision.action, decision.article_id, decision.reason_code) == ("allow", "5", "egress.allow")


def test_egress_rule_denies_export_controlled_content(charter: Charter) -> None:
    content = ContentFacts(text="specs", community_tags=frozenset({"export-controlled"}))
    assert egress(charter, "DE", content=content) == ("deny", "egress.deny")
    assert egress(charter, "US", content=content) == ("allow", "no_rule")


def test_egress_redacts_the_fields_present_from_rules_and_section(charter: Charter) -> None:
    facts = EgressFacts(
        "DE",
        "profile",
        profile_fields=frozenset({"phone", "name", "birthday"}),
        media_metadata=frozenset({"exif", "location"}),
    )
    decision = evaluate_egress(charter, facts)
    assert decision.action == "redact"
    assert set(decision.redacted_fields) == {"exif", "phone", "birthday", "location"}
    assert egress(charter, "DE", "profile", profile_fields=frozenset({"name"})) == ("allow", "no_rule")


def test_egress_domestic_is_not_a_transfer(charter: Charter) -> None:
    decision = evaluate_egress(charter, EgressFacts("FR", "profile", profile_fields=frozenset({"phone"})))
    assert decision.action == "allow"


def test_egress_reference_only_by_rule_and_by_section(charter: Charter) -> None:
    assert egress(charter, "RU", "profile") == ("reference_only", "egress.reference_only")
    assert egress(charter, "DE", "membership") == ("reference_only", "egress.reference_only")


def test_egress_require_consent_until_the_author_consents(charter: Charter) -> None:
    assert egress(charter, "CN") == ("require_consent", "egress.require_consent")
    given = evaluate_egress(charter, EgressFacts("CN", "post", consented_jurisdictions=frozenset({"CN"})))
    assert (given.action, given.reason_code, given.article_id) == ("allow", "egress.consent_given", "5")


# --- display -----------------------------------------------------------------------------------------------


def test_display_labels_content_from_outside_the_eu(charter: Charter) -> None:
    decision = evaluate_display(charter, DisplayFacts(ContentFacts(text="hi"), "US", is_remote=True))
    assert decision.action == "label"
    assert [(label.article_id, localize(label.text, "fr")) for label in decision.labels] == [
        ("4", "Publié hors de l'UE")
    ]


def test_display_local_content_has_no_label(charter: Charter) -> None:
    decision = evaluate_display(charter, DisplayFacts(ContentFacts(text="hi")))
    assert (decision.action, decision.labels) == ("allow", ())


# --- membership --------------------------------------------------------------------------------------------


def test_membership_denies_non_us_persons_in_export_controlled_communities(charter: Charter) -> None:
    tags = frozenset({"export-controlled"})
    denied = evaluate_membership(charter, MembershipFacts("FR", tags))
    assert (denied.action, denied.article_id) == ("deny", "6")
    assert evaluate_membership(charter, MembershipFacts(None, tags)).action == "deny"
    assert evaluate_membership(charter, MembershipFacts("US", tags)).action == "allow"


def test_membership_allow_rule(charter: Charter) -> None:
    decision = evaluate_membership(charter, MembershipFacts("DE", community_kind="open"))
    assert (decision.action, decision.article_id) == ("allow", "6")


# --- analytics and administration --------------------------------------------------------------------------


def test_analytics_thresholds(charter: Charter) -> None:
    assert analytics_allowed(charter, AnalyticsFacts(group_size=12)).action == "allow"
    small = analytics_allowed(charter, AnalyticsFacts(group_size=4))
    assert (small.action, small.reason_code, small.article_id) == ("deny", "analytics.group_too_small", "8")
    per_person = analytics_allowed(charter, AnalyticsFacts(group_size=50, per_person=True))
    assert (per_person.action, per_person.reason_code) == ("deny", "analytics.per_person_forbidden")


def test_analytics_rules_deny_but_never_lower_the_threshold(charter: Charter) -> None:
    health = AnalyticsFacts(group_size=100, community_tags=frozenset({"health"}))
    assert (analytics_allowed(charter, health).action, analytics_allowed(charter, health).article_id) == (
        "deny",
        "8",
    )
    assert analytics_allowed(charter, AnalyticsFacts(group_size=2, community_kind="open")).action == "deny"


def test_admin_may_read_private(charter: Charter) -> None:
    default = admin_may_read_private(charter)
    assert (default.action, default.reason_code) == ("deny", "administration.private_forbidden")
    assert admin_may_read_private(charter, community_kind="it-support").action == "allow"
    council = admin_may_read_private(
        charter, community_kind="it-support", community_tags=frozenset({"works-council"})
    )
    assert council.action == "deny"


# --- acceptance and languages ------------------------------------------------------------------------------


def test_requires_reacceptance_on_a_new_major_version_only(charter: Charter) -> None:
    assert requires_reacceptance(charter, None)
    assert requires_reacceptance(charter, "1.9")
    assert not requires_reacceptance(charter, "2.0")
    assert not requires_reacceptance(charter, "2.3")


def test_localize_falls_back() -> None:
    message = {"fr": "Bonjour", "en": "Hello"}
    assert localize(message, "fr-CA") == "Bonjour"
    assert localize(message, "de") == "Hello"
    assert localize({"zh": "你好"}, "de", ("en",)) == "你好"
    assert localize({}, "fr") == ""
