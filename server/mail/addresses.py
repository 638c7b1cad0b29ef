"""The addresses Cercle receives mail at: `community+SLUG@domain` and `reply+TOKEN@domain`."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr

from server.config import Settings


def mail_domain(settings: Settings) -> str:
    return (settings.smtp.inbound_domain or settings.host).lower()


def community_address(settings: Settings, slug: str) -> str:
    return f"community+{slug}@{mail_domain(settings)}"


def reply_address(settings: Settings, token: str) -> str:
    return f"reply+{token}@{mail_domain(settings)}"


def from_header(settings: Settings, name: str | None = None) -> Address:
    """Our sender, named after the person whose content the mail carries when there is one."""
    username, _, domain = settings.smtp.from_address.partition("@")
    shown = f"{name} via {settings.instance_name}" if name else settings.instance_name
    return Address(display_name=shown, username=username, domain=domain)


@dataclass(frozen=True)
class Recipient:
    kind: str  # community | reply
    value: str  # the slug or the token


def parse_recipient(settings: Settings, address: str) -> Recipient | None:
    """What an envelope recipient at our domain names, or None when it is not one of ours."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    if domain.lower() != mail_domain(settings) or "+" not in local:
        return None
    kind, _, value = local.partition("+")
    kind = kind.lower()
    if kind not in ("community", "reply") or not value:
        return None
    return Recipient(kind, value.lower())


def address_of(header_value: str | None) -> str:
    """The bare, lower-case address in a From-like header ('' when there is none)."""
    if not header_value:
        return ""
    return parseaddr(header_value)[1].strip().lower()
