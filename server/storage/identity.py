"""Tables and storage verbs of single sign-on and provisioning.

- `external_identities`: which person of an identity provider is which account here. `provider` is
  `oidc` (subject = the ID token's `sub`) or `scim` (subject = the directory's `externalId`).
- `directory_entries`: what the directory says about an account beyond the profile: its
  `userName` there (often an e-mail-like name, while the Cercle user name never changes once
  federated), manager, employee number, and when SCIM created and last changed it (`meta`).
- `directory_groups` and `directory_group_members`: SCIM groups, kept as plain groups. They are not
  communities: a directory group is an administrative fact, a community is a place people choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.base import Base, UTCDateTime
from server.storage.models import User


class ExternalIdentity(Base):
    __tablename__ = "external_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DirectoryEntry(Base):
    __tablename__ = "directory_entries"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(320), unique=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    employee_number: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DirectoryGroup(Base):
    __tablename__ = "directory_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DirectoryGroupMember(Base):
    __tablename__ = "directory_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("directory_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


async def get_identity(session: AsyncSession, provider: str, subject: str) -> ExternalIdentity | None:
    query = select(ExternalIdentity).where(
        ExternalIdentity.provider == provider, ExternalIdentity.subject == subject
    )
    return (await session.execute(query)).scalar_one_or_none()


async def identity_of(session: AsyncSession, user_id: int, provider: str) -> ExternalIdentity | None:
    query = select(ExternalIdentity).where(
        ExternalIdentity.user_id == user_id, ExternalIdentity.provider == provider
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def link_identity(
    session: AsyncSession, user_id: int, provider: str, subject: str, now: datetime
) -> ExternalIdentity:
    identity = ExternalIdentity(
        user_id=user_id, provider=provider, subject=subject, created_at=now, last_seen_at=now
    )
    session.add(identity)
    await session.flush()
    return identity


async def unlink_identities(session: AsyncSession, user_id: int, provider: str) -> None:
    await session.execute(
        delete(ExternalIdentity).where(
            ExternalIdentity.user_id == user_id, ExternalIdentity.provider == provider
        )
    )


async def get_directory_entry(session: AsyncSession, user_id: int) -> DirectoryEntry | None:
    return await session.get(DirectoryEntry, user_id)


async def get_directory_entry_by_name(session: AsyncSession, user_name: str) -> DirectoryEntry | None:
    query = select(DirectoryEntry).where(DirectoryEntry.user_name == user_name.strip().lower())
    return (await session.execute(query)).scalar_one_or_none()


async def list_directory_users(
    session: AsyncSession, *, start: int, count: int, where: dict[str, str]
) -> tuple[int, Sequence[User]]:
    """Accounts known to the directory (a SCIM page), filtered by exact `userName`, `externalId` or `id`.

    Starts at 1 like SCIM's `startIndex`; returns the total and the page.
    """
    query = select(User).join(DirectoryEntry, DirectoryEntry.user_id == User.id)
    if "userName" in where:
        query = query.where(DirectoryEntry.user_name == where["userName"].lower())
    if "emails.value" in where:
        query = query.where(User.email == where["emails.value"].lower())
    if "id" in where:
        query = query.where(User.id == _int_or_zero(where["id"]))
    if "externalId" in where:
        query = query.join(
            ExternalIdentity,
            (ExternalIdentity.user_id == User.id) & (ExternalIdentity.provider == "scim"),
        ).where(ExternalIdentity.subject == where["externalId"])
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    page = await session.execute(query.order_by(User.id).offset(max(start, 1) - 1).limit(count))
    return total, page.scalars().all()


def _int_or_zero(value: str) -> int:
    return int(value) if value.isdigit() else 0


async def get_group(session: AsyncSession, group_id: int) -> DirectoryGroup | None:
    return await session.get(DirectoryGroup, group_id)


async def list_groups(
    session: AsyncSession, *, start: int, count: int, where: dict[str, str]
) -> tuple[int, Sequence[DirectoryGroup]]:
    query = select(DirectoryGroup)
    if "displayName" in where:
        query = query.where(DirectoryGroup.display_name == where["displayName"])
    if "externalId" in where:
        query = query.where(DirectoryGroup.external_id == where["externalId"])
    if "id" in where:
        query = query.where(DirectoryGroup.id == _int_or_zero(where["id"]))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    page = await session.execute(query.order_by(DirectoryGroup.id).offset(max(start, 1) - 1).limit(count))
    return total, page.scalars().all()


async def group_members(session: AsyncSession, group_ids: Sequence[int]) -> dict[int, list[User]]:
    if not group_ids:
        return {}
    rows = await session.execute(
        select(DirectoryGroupMember.group_id, User)
        .join(User, User.id == DirectoryGroupMember.user_id)
        .where(DirectoryGroupMember.group_id.in_(group_ids))
        .order_by(User.id)
    )
    members: dict[int, list[User]] = {group_id: [] for group_id in group_ids}
    for group_id, user in rows:
        members[group_id].append(user)
    return members


async def groups_of(session: AsyncSession, user_id: int) -> Sequence[DirectoryGroup]:
    rows = await session.execute(
        select(DirectoryGroup)
        .join(DirectoryGroupMember, DirectoryGroupMember.group_id == DirectoryGroup.id)
        .where(DirectoryGroupMember.user_id == user_id)
        .order_by(DirectoryGroup.display_name)
    )
    return rows.scalars().all()


async def add_members(session: AsyncSession, group_id: int, user_ids: Sequence[int]) -> None:
    present = set(
        (
            await session.execute(
                select(DirectoryGroupMember.user_id).where(DirectoryGroupMember.group_id == group_id)
            )
        ).scalars()
    )
    for user_id in dict.fromkeys(user_ids):
        if user_id not in present:
            session.add(DirectoryGroupMember(group_id=group_id, user_id=user_id))
    await session.flush()


async def remove_members(session: AsyncSession, group_id: int, user_ids: Sequence[int] | None) -> None:
    """Remove these members, or every member when `user_ids` is None."""
    statement = delete(DirectoryGroupMember).where(DirectoryGroupMember.group_id == group_id)
    if user_ids is not None:
        statement = statement.where(DirectoryGroupMember.user_id.in_(user_ids))
    await session.execute(statement)


async def existing_user_ids(session: AsyncSession, user_ids: Sequence[int]) -> set[int]:
    if not user_ids:
        return set()
    rows = await session.execute(select(User.id).where(User.id.in_(user_ids)))
    return set(rows.scalars())
