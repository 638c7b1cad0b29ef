"""Which ways of signing in this instance accepts: passwords, single sign-on, or both.

Pure functions of the settings, free of the services, so `services.accounts` can call them
without an import cycle.
"""

from __future__ import annotations

from server.config import Settings
from server.errors import Forbidden

PASSWORDS_DISABLED = "this instance signs people in with the company's single sign-on only"


def sso_enabled(settings: Settings) -> bool:
    return settings.oidc_discovery_url is not None


def password_sign_in_allowed(settings: Settings) -> bool:
    """False in SSO-only mode: no password sign-in, no password sign-up, on any route."""
    return not settings.sso_only


def ensure_password_sign_in_allowed(settings: Settings) -> None:
    """Raise `Forbidden` (code `sso-only`) when passwords are turned off."""
    if not password_sign_in_allowed(settings):
        raise Forbidden(PASSWORDS_DISABLED, code="sso-only")
