"""Reply tokens: who may answer which thread by mail, until when.

A reply address is `reply+TOKEN@domain`. The token carries the person (user id), the post to answer
and an expiry, and an HMAC-SHA256 over the three with a key derived from the instance's secret key.
It is lower-case and short (an address's local part holds at most 64 characters, and some mail
servers fold case), so the MAC is cut to 80 bits in base32: enough against forgery by guessing, since
every attempt costs the forger a mail. Checking returns a small result, never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

_MAC_CHARS = 16


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"cercle mail reply token\x00" + secret.encode()).digest()


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:_MAC_CHARS]


def make_reply_token(secret: str, user_id: int, post_id: int, expires_at: datetime) -> str:
    payload = f"{user_id:x}-{post_id:x}-{int(expires_at.timestamp()):x}"
    return f"{payload}-{_mac(secret, payload)}"


@dataclass(frozen=True)
class ReplyToken:
    valid: bool
    user_id: int | None = None
    post_id: int | None = None
    reason: str | None = None  # malformed | forged | expired


def read_reply_token(secret: str, token: str, now: datetime) -> ReplyToken:
    parts = token.strip().lower().split("-")
    if len(parts) != 4:
        return ReplyToken(False, reason="malformed")
    payload, mac = "-".join(parts[:3]), parts[3]
    if not hmac.compare_digest(_mac(secret, payload), mac):
        return ReplyToken(False, reason="forged")
    try:
        user_id, post_id, expires = (int(p, 16) for p in parts[:3])
    except ValueError:
        return ReplyToken(False, reason="malformed")
    if expires <= now.timestamp():
        return ReplyToken(False, user_id, post_id, reason="expired")
    return ReplyToken(True, user_id, post_id)


def new_unsubscribe_token() -> str:
    return secrets.token_urlsafe(24)
