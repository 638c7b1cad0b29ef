"""What single sign-on and provisioning share: choosing a user name, filling the profile, and the
hooks that run when the directory turns an account off or on again."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.errors import Conflict
from server.services import accounts, outbox, profiles
from server.storage import accounts as account_store
from server.storage.models import User

logger = logging.getLogger(__name__)

PROFILE_TEXT_FIELDS = ("job_title", "department", "site")
_NOT_ALLOWED = re.compile(r"[^a-z0-9_.-]+")


def username_base(wanted: str) -> str:
    """A valid Cercle user name from a directory name: `Zoé.Martin@corp.example` gives `zoe.martin`."""
    ascii_name = unicodedata.normalize("NFKD", wanted).encode("ascii", "ignore").decode()
    base = _NOT_ALLOWED.sub(".", ascii_name.split("@", 1)[0].lower()).strip("._-")[:30].rstrip("._-")
    return base if len(base) >= 2 else "user"


async def free_username(session: AsyncSession, settings: Settings, wanted: str) -> str:
    """`wanted` made valid, with a number appended while it is taken by a person or a community."""
    base = username_base(wanted)
    for number in range(1, 10_000):
        name = base if number == 1 else f"{base[: 30 - len(str(number))]}{number}"
        if await account_store.get_user_by_username(
            session, name
        ) is None and not await account_store.local_name_taken(session, settings.domain, name):
            return name
    raise RuntimeError(f"no free user name near {base!r}")


async def create_account(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    *,
    wanted_username: str,
    email: str,
    display_name: str,
    is_admin: bool = False,
) -> User:
    """An account without a password: its owner signs in with single sign-on."""
    username = await free_username(session, settings, wanted_username)
    return await accounts.create_user(
        session,
        settings,
        now,
        username=username,
        email=email,
        password=None,
        display_name=display_name,
        is_admin=is_admin,
    )


async def apply_profile(
    session: AsyncSession, settings: Settings, now: datetime, user: User, values: Mapping[str, str | None]
) -> None:
    """Write the given profile values (None = not provided, left as it is) through the profile service."""
    changes = {
        key: value
        for key, value in values.items()
        if value is not None and key in {"display_name", *PROFILE_TEXT_FIELDS}
    }
    if changes:
        await profiles.update_profile(session, settings, now, user, changes)


async def change_email(session: AsyncSession, user: User, email: str) -> None:
    """The directory changed the person's address: take it, unless another account holds it."""
    email = accounts.validate_email(email)
    if email == user.email:
        return
    holder = await account_store.get_user_by_login(session, email)
    if holder is not None and holder.id != user.id:
        raise Conflict("this e-mail address belongs to another account", field="email")
    user.email = email


async def on_deactivated(session: AsyncSession, settings: Settings, now: datetime, user: User) -> None:
    """Called once when the directory deactivates `user`, in the same transaction, after
    `accounts.disable_user` has ended the person's sessions and tokens.

    The peers that hold this person's memberships are told (a `Delete` of the `Person`), with
    delivery rows written in `session`: they commit or roll back with the deactivation itself.
    """
    told = await outbox.person_deactivated(session, now, user)
    logger.info("account %s deactivated by the directory; %s peer inboxes told", user.username, told)


async def on_reactivated(session: AsyncSession, settings: Settings, now: datetime, user: User) -> None:
    """Called when the directory turns a deactivated account on again (same transaction).

    The sessions that were open before stay ended (the session epoch moved on). Federation may
    announce the person again here.
    """
    logger.info("account %s reactivated by the directory", user.username)


async def deactivate(session: AsyncSession, settings: Settings, now: datetime, user: User) -> None:
    if user.disabled_at is None:
        await accounts.disable_user(session, now, user.username)
        await on_deactivated(session, settings, now, user)


async def reactivate(session: AsyncSession, settings: Settings, now: datetime, user: User) -> None:
    if user.disabled_at is not None:
        user.disabled_at = None
        await on_reactivated(session, settings, now, user)
