"""Accounts: sign-up, sign-in with brute-force throttling, API tokens, invitations, disabling."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.errors import Conflict, Forbidden, NotFound, TooManyRequests, ValidationFailed
from server.identity.modes import ensure_password_sign_in_allowed
from server.services.actors import create_local_person
from server.storage import accounts as store
from server.storage.models import ApiToken, Invitation, User

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,29}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "cercle_"  # noqa: S105 - a public prefix that lets scanners spot leaked tokens

ACCOUNT_FREE_FAILURES = 5
IP_FREE_FAILURES = 20
MAX_DELAY_SECONDS = 15 * 60


def password_hasher(settings: Settings) -> PasswordHasher:
    """argon2id with the costs from the settings (tests lower them to stay fast)."""
    return PasswordHasher(time_cost=settings.password_time_cost, memory_cost=settings.password_memory_kib)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def validate_username(username: str) -> str:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationFailed(
            "2 to 30 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="username",
        )
    return username


def validate_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise ValidationFailed("is not a valid e-mail address", field="email")
    return email


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"must be at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if len(password) > 1024:
        raise ValidationFailed("must be at most 1024 characters", field="password")
    return password


def validate_display_name(display_name: str, fallback: str) -> str:
    display_name = " ".join(display_name.split()) or fallback
    if len(display_name) > 200:
        raise ValidationFailed("must be at most 200 characters", field="display_name")
    return display_name


async def create_user(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    *,
    username: str,
    email: str,
    password: str | None,
    display_name: str = "",
    is_admin: bool = False,
) -> User:
    username = validate_username(username)
    email = validate_email(email)
    display_name = validate_display_name(display_name, username)
    password_hash = (
        password_hasher(settings).hash(validate_password(password)) if password is not None else None
    )
    taken = await store.username_or_email_taken(session, username, email)
    if taken is None and await store.local_name_taken(session, settings.domain, username):
        taken = "username"
    if taken:
        raise Conflict(
            f"this {'user name' if taken == 'username' else 'e-mail address'} is already taken", field=taken
        )
    user = User(
        username=username,
        email=email,
        display_name=display_name,
        password_hash=password_hash,
        is_admin=is_admin,
        session_epoch=0,
        created_at=now,
    )
    actor = await create_local_person(session, settings, now, username=username, display_name=display_name)
    user.actor_id = actor.id
    return await store.add_user(session, user)


async def sign_up(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    *,
    username: str,
    email: str,
    password: str,
    display_name: str = "",
    invitation_code: str | None = None,
) -> User:
    """Self-service sign-up, as the `registration` setting allows: open, invite or closed."""
    ensure_password_sign_in_allowed(settings)
    if settings.registration == "closed":
        raise Forbidden("sign-up is closed on this instance; ask an administrator for an account")
    invitation: Invitation | None = None
    if settings.registration == "invite":
        invitation = await store.get_invitation(session, hash_secret(invitation_code or ""))
        if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
            raise ValidationFailed("is not a valid invitation code (or it expired)", field="invitation")
        if invitation.email and invitation.email != email.strip().lower():
            raise ValidationFailed("this invitation was sent to another e-mail address", field="email")
    user = await create_user(
        session, settings, now, username=username, email=email, password=password, display_name=display_name
    )
    if invitation is not None:
        invitation.used_at = now
        invitation.used_by_id = user.id
    return user


BAD_CREDENTIALS = "wrong user name or password"


async def create_invitation(
    session: AsyncSession, now: datetime, *, created_by: User | None, email: str | None = None, days: int = 14
) -> str:
    code = secrets.token_urlsafe(18)
    await store.add_invitation(
        session,
        Invitation(
            code_hash=hash_secret(code),
            email=validate_email(email) if email else None,
            created_by_id=created_by.id if created_by else None,
            created_at=now,
            expires_at=now + timedelta(days=days),
        ),
    )
    return code


def _delay(failures: int, free: int) -> int:
    if failures < free:
        return 0
    return int(min(2 ** (failures - free), MAX_DELAY_SECONDS))


async def _check_throttle(session: AsyncSession, now: datetime, account_key: str, ip_key: str) -> None:
    for row in await store.get_throttles(session, [account_key, ip_key]):
        free = ACCOUNT_FREE_FAILURES if row.key == account_key else IP_FREE_FAILURES
        wait_until = row.last_failure_at + timedelta(seconds=_delay(row.failures, free))
        if wait_until > now:
            raise TooManyRequests(
                "too many failed sign-ins; try again later",
                retry_after=max(1, int((wait_until - now).total_seconds() + 0.999)),
            )


async def authenticate(
    session: AsyncSession, settings: Settings, now: datetime, *, login: str, password: str, ip: str
) -> User | None:
    """The user for these credentials, or None (the failure is counted: commit it).

    Raises `TooManyRequests`, before looking at the password, while the account or the
    address is being slowed down; `Forbidden` when the instance signs in by single sign-on only.
    """
    ensure_password_sign_in_allowed(settings)
    account_key = f"account:{login.strip().lower()[:180]}"
    ip_key = f"ip:{ip}"
    await _check_throttle(session, now, account_key, ip_key)
    user = await store.get_user_by_login(session, login)
    hasher = password_hasher(settings)
    ok = False
    if user is not None and user.password_hash and user.is_active:
        try:
            ok = hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        # Spend the same time as a real check, so response times do not reveal which accounts exist.
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_dummy_hash(hasher), password + "x")
    if not ok or user is None:
        await store.record_login_failure(session, account_key, now)
        await store.record_login_failure(session, ip_key, now)
        return None
    await store.clear_login_failures(session, account_key)
    if hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hasher.hash(password)
    return user


_DUMMY_HASHES: dict[tuple[int, int], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = (hasher.time_cost, hasher.memory_cost)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hasher.hash(secrets.token_hex(16))
    return _DUMMY_HASHES[key]


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


async def create_api_token(session: AsyncSession, now: datetime, user: User, name: str) -> NewToken:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("must be 1 to 100 characters", field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await store.add_api_token(
        session, ApiToken(user_id=user.id, name=name, token_hash=hash_secret(secret), created_at=now)
    )
    return NewToken(token=token, secret=secret)


async def user_for_token(session: AsyncSession, now: datetime, secret: str) -> User | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    found = await store.get_active_token(session, hash_secret(secret))
    if found is None:
        return None
    token, user = found
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        await store.touch_api_token(session, token.id, now)
    return user


async def revoke_api_token(session: AsyncSession, now: datetime, user: User, token_id: int) -> None:
    if not await store.revoke_api_token(session, user.id, token_id, now):
        raise NotFound("no such active token")


async def disable_user(session: AsyncSession, now: datetime, username: str) -> User:
    """Disable an account: it can no longer sign in, its sessions end and its tokens stop working."""
    user = await store.get_user_by_username(session, username)
    if user is None:
        raise NotFound(f"no user named '{username}'")
    if user.disabled_at is None:
        user.disabled_at = now
        user.session_epoch += 1
    return user


async def set_language(session: AsyncSession, user: User, language: str, supported: Sequence[str]) -> None:
    """The interface language of an account; empty means 'follow the browser'."""
    if language and language not in supported:
        raise ValidationFailed(f"must be one of {', '.join(supported)}", field="language")
    account = await store.get_user(session, user.id)
    if account is None:
        raise NotFound("no such account")
    account.language = language or None
