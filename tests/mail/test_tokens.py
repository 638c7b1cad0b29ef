"""Reply tokens: bound to a person and a post, expiring, short enough for an address, unforgeable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.mail.tokens import make_reply_token, read_reply_token

SECRET = "s" * 40
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_a_token_names_its_person_and_post_until_it_expires() -> None:
    token = make_reply_token(SECRET, 12, 3456, NOW + timedelta(days=30))
    assert token == token.lower() and len(f"reply+{token}") <= 64
    assert read_reply_token(SECRET, token, NOW).__dict__ == {
        "valid": True,
        "user_id": 12,
        "post_id": 3456,
        "reason": None,
    }
    assert read_reply_token(SECRET, token.upper(), NOW).valid  # mail servers may fold case
    assert read_reply_token(SECRET, token, NOW + timedelta(days=31)).reason == "expired"


def test_a_changed_or_foreign_token_is_refused() -> None:
    token = make_reply_token(SECRET, 12, 3456, NOW + timedelta(days=30))
    user, post, expiry, mac = token.split("-")
    assert read_reply_token(SECRET, f"{user}-{int(post, 16) + 1:x}-{expiry}-{mac}", NOW).reason == "forged"
    assert read_reply_token(SECRET, f"{user}-{post}-{expiry}-{mac[:-1]}x", NOW).reason == "forged"
    assert read_reply_token("t" * 40, token, NOW).reason == "forged"
    assert read_reply_token(SECRET, "nonsense", NOW).reason == "malformed"
