"""Storage verbs for accounts, API tokens, invitations and sign-in throttling."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.models import ApiToken, Invitation, LoginThrottle, User
from server.storage.social import Actor


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(select(User).where(User.username == username.lower()))
    return result.scalar_one_or_none()


async def get_user_by_login(session: AsyncSession, login: str) -> User | None:
    """A user by username or e-mail address (both stored lower-case)."""
    login = login.strip().lower()
    column = User.email if "@" in login else User.username
    result = await session.execute(select(User).where(column == login))
    return result.scalar_one_or_none()


async def username_or_email_taken(session: AsyncSession, username: str, email: str) -> str | None:
    """'username' or 'email' when one is already in use, else None."""
    rows = await session.execute(
        select(User.username, User.email).where((User.username == username) | (User.email == email))
    )
    for row in rows:
        return "username" if row.username == username else "email"
    return None


async def local_name_taken(session: AsyncSession, domain: str, name: str) -> bool:
    """Whether a local person or community already uses `name` (they share one namespace)."""
    result = await session.execute(select(Actor.id).where(Actor.domain == domain, Actor.username == name))
    return result.first() is not None


async def get_actor_by_handle(session: AsyncSession, domain: str, username: str) -> Actor | None:
    query = select(Actor).where(Actor.domain == domain, Actor.username == username)
    return (await session.execute(query)).scalar_one_or_none()


async def add_user(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def list_users(session: AsyncSession, *, limit: int = 1000) -> Sequence[User]:
    result = await session.execute(select(User).order_by(User.username).limit(limit))
    return result.scalars().all()


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def add_api_token(session: AsyncSession, token: ApiToken) -> ApiToken:
    session.add(token)
    await session.flush()
    return token


async def get_active_token(session: AsyncSession, token_hash: str) -> tuple[ApiToken, User] | None:
    result = await session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None), User.disabled_at.is_(None))
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def list_api_tokens(session: AsyncSession, user_id: int) -> Sequence[ApiToken]:
    result = await session.execute(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc())
    )
    return result.scalars().all()


async def revoke_api_token(session: AsyncSession, user_id: int, token_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def touch_api_token(session: AsyncSession, token_id: int, now: datetime) -> None:
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


async def add_invitation(session: AsyncSession, invitation: Invitation) -> Invitation:
    session.add(invitation)
    await session.flush()
    return invitation


async def get_invitation(session: AsyncSession, code_hash: str) -> Invitation | None:
    result = await session.execute(select(Invitation).where(Invitation.code_hash == code_hash))
    return result.scalar_one_or_none()


async def get_throttles(session: AsyncSession, keys: Sequence[str]) -> Sequence[LoginThrottle]:
    result = await session.execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    return result.scalars().all()


async def record_login_failure(session: AsyncSession, key: str, now: datetime) -> None:
    row = await session.get(LoginThrottle, key)
    if row is None:
        session.add(LoginThrottle(key=key, failures=1, last_failure_at=now))
    else:
        row.failures += 1
        row.last_failure_at = now
    await session.flush()


async def clear_login_failures(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
