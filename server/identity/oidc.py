"""Single sign-on with OpenID Connect: the authorization code flow with PKCE, by authlib.

How a sign-in goes:

1. `/login/sso` asks authlib's Starlette client for the provider's authorization URL. authlib
   reads the discovery document once (and caches it), and keeps state, nonce and the PKCE
   verifier in the signed session cookie.
2. The provider sends the browser back to `/login/sso/callback`. authlib exchanges the code at
   the token endpoint (client secret and PKCE verifier) and checks the ID token: signature
   against the provider's JWKS, issuer, audience, expiry and nonce.
3. `account_for_claims` finds the account, in this order: the link (`oidc`, `sub`); the account
   the directory provisioned under the same name (the mapped `username` claim, by default
   `preferred_username`, equals the SCIM `userName`); the account with the same e-mail address,
   unless the provider says the address is unverified; else a new account, created just in
   time, without a password. Mapped profile fields and, when an admin claim is configured, the
   administrator role are refreshed at every sign-in: the provider is the source of truth.

The claim mapping (`oidc_claims`) maps a Cercle field to a claim name, or to a dotted path into
a structured claim (`address.locality`); an empty name turns a field off.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.errors import Forbidden, ValidationFailed
from server.identity import directory
from server.storage import accounts as account_store
from server.storage import identity as store
from server.storage.models import User

logger = logging.getLogger(__name__)

PROVIDER = "oidc"
DEFAULT_CLAIMS: dict[str, str] = {
    "username": "preferred_username",
    "email": "email",
    "display_name": "name",
    "job_title": "job_title",
    "department": "department",
    "site": "site",
}
HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class MappedClaims:
    subject: str
    username: str | None = None
    email: str | None = None
    email_verified: bool | None = None
    display_name: str | None = None
    profile: dict[str, str] = field(default_factory=dict)
    is_admin: bool | None = None  # None when no admin claim is configured


def claim_mapping(settings: Settings) -> dict[str, str]:
    return {**DEFAULT_CLAIMS, **settings.oidc_claims}


def claim_value(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return None


def admin_from_claims(settings: Settings, claims: Mapping[str, Any]) -> bool | None:
    """Whether the claims grant the administrator role (None: no admin claim configured)."""
    if not settings.oidc_admin_claim:
        return None
    value = claim_value(claims, settings.oidc_admin_claim)
    wanted = settings.oidc_admin_value
    if isinstance(value, list):
        return wanted in [str(item) for item in value]
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    return value is not None and str(value) == wanted


def map_claims(settings: Settings, claims: Mapping[str, Any]) -> MappedClaims:
    """The claims of an ID token (and user info) as Cercle fields. Pure."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise ValidationFailed("the identity provider sent no subject ('sub')", field="sub")
    mapping = claim_mapping(settings)

    def mapped(name: str) -> str | None:
        path = mapping.get(name, "")
        return _text(claim_value(claims, path)) if path else None

    verified = claims.get("email_verified")
    return MappedClaims(
        subject=subject,
        username=mapped("username"),
        email=mapped("email"),
        email_verified=verified if isinstance(verified, bool) else None,
        display_name=mapped("display_name"),
        profile={
            name: value for name in directory.PROFILE_TEXT_FIELDS if (value := mapped(name)) is not None
        },
        is_admin=admin_from_claims(settings, claims),
    )


def lacks_mapped_claims(settings: Settings, claims: Mapping[str, Any]) -> bool:
    """Whether a mapped claim is absent from the ID token (then the user-info endpoint is asked)."""
    return any(path and claim_value(claims, path) is None for path in claim_mapping(settings).values())


async def _find_account(session: AsyncSession, mapped: MappedClaims) -> User | None:
    if mapped.username:
        entry = await store.get_directory_entry_by_name(session, mapped.username)
        if entry is not None:
            return await account_store.get_user(session, entry.user_id)
    if mapped.email and mapped.email_verified is not False:
        return await account_store.get_user_by_login(session, mapped.email)
    return None


async def account_for_claims(
    session: AsyncSession, settings: Settings, now: datetime, mapped: MappedClaims
) -> User:
    """The account these claims sign in to, linked or created just in time, its profile refreshed.

    Raises `Forbidden` for a deactivated account and `ValidationFailed` when a new account would
    have no e-mail address.
    """
    identity = await store.get_identity(session, PROVIDER, mapped.subject)
    user = await account_store.get_user(session, identity.user_id) if identity is not None else None
    created = False
    if user is None:
        user = await _find_account(session, mapped)
        if user is None:
            if not mapped.email:
                raise ValidationFailed(
                    "the identity provider sent no e-mail address for this person", field="email"
                )
            user = await directory.create_account(
                session,
                settings,
                now,
                wanted_username=mapped.username or mapped.email,
                email=mapped.email,
                display_name=mapped.display_name or "",
            )
            created = True
        await store.unlink_identities(session, user.id, PROVIDER)
        await store.link_identity(session, user.id, PROVIDER, mapped.subject, now)
    elif identity is not None:
        identity.last_seen_at = now
    if not user.is_active:
        raise Forbidden("this account is deactivated", code="account-disabled")
    if mapped.is_admin is not None:
        user.is_admin = mapped.is_admin
    if mapped.email and not created and mapped.email_verified is not False:
        await directory.change_email(session, user, mapped.email)
    await directory.apply_profile(
        session, settings, now, user, {"display_name": mapped.display_name, **mapped.profile}
    )
    logger.info("single sign-on: %s %s", "created" if created else "signed in", user.username)
    return user


def build_client(settings: Settings) -> Any:
    """authlib's Starlette client for the configured provider (discovery, PKCE S256)."""
    import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401  (installs its filters first)

    with warnings.catch_warnings():
        # authlib 1.9 prefers the `httpx2` fork and warns when it falls back to httpx, which is the
        # HTTP client of this project (and still supported by authlib).
        warnings.filterwarnings("ignore", message="The httpx module is deprecated")
        from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]

    secret = settings.oidc_client_secret
    return OAuth().register(
        name="cercle_sso",
        server_metadata_url=settings.oidc_discovery_url,
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret is not None else None,
        client_kwargs={
            "scope": settings.oidc_scopes,
            "code_challenge_method": "S256",
            "timeout": HTTP_TIMEOUT_SECONDS,
        },
    )
