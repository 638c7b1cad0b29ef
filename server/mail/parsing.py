"""Reading incoming mail: its text without quotes and signature, its attachments, and whether a robot sent it.

Quote and signature stripping is written here rather than taken from a library: the libraries on
PyPI (email-reply-parser and its forks) know English mail clients only, while Cercle's people write
in French and German too, and our own "reply above this line" marker is the most reliable cut.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage

import nh3

from server.mail.addresses import address_of
from server.mail.texts import TEXTS

_QUOTE_HEADERS = [
    re.compile(r"^\s*On .{1,200}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Le .{1,200}\ba écrit\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am .{1,200}\bschrieb .{0,200}:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*(Original Message|Message d'origine|Ursprüngliche Nachricht)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*_{10,}\s*$"),
]
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|De|Von)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|Envoyé|Gesendet)\s*:", re.IGNORECASE)
_MOBILE_SIGNATURES = re.compile(
    r"^\s*(Sent from my .+|Get Outlook for .+|Envoyé de mon .+|Von meinem .+ gesendet)\s*$", re.IGNORECASE
)
_BREAKS = re.compile(r"<\s*(br\s*/?|/p|/div|/li|/h[1-6]|/tr|/blockquote)\s*>", re.IGNORECASE)
_AUTO_PRECEDENCE = {"bulk", "junk", "list"}
_ROBOT_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
_ROBOT_SENDERS = {"mailer-daemon", "postmaster", "noreply", "no-reply"}


def html_to_text(value: str) -> str:
    text = _BREAKS.sub("\n", value)
    text = html.unescape(nh3.clean(text, tags=set()))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def body_of(message: EmailMessage) -> str:
    """The mail's text: its text/plain body, else its HTML body turned to text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None or not isinstance(part, EmailMessage):
        return ""
    content = part.get_content()
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_subtype() == "html" else content


def _markers() -> list[str]:
    return list(TEXTS["reply_marker"].values())


def strip_reply(text: str, *, markers: Iterable[str] | None = None) -> str:
    """The new text of a reply: everything before our marker, a quote header or the signature,
    without quoted (`>`) lines and mobile signatures."""
    known = [m.strip("# ").strip() for m in (markers if markers is not None else _markers())]
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        bare = line.lstrip("> ").strip("# ").strip()
        if bare and any(bare == marker for marker in known):
            break
        if line.rstrip() in ("--", "-- "):
            break
        if any(pattern.match(line) for pattern in _QUOTE_HEADERS):
            break
        if (
            index + 1 < len(lines)
            and line.strip().startswith("On ")
            and lines[index + 1].strip().endswith("wrote:")
        ):
            break
        if _OUTLOOK_FROM.match(line) and index + 1 < len(lines) and _OUTLOOK_NEXT.match(lines[index + 1]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    while kept and (not kept[-1].strip() or _MOBILE_SIGNATURES.match(kept[-1])):
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept)


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


def attachments_of(message: EmailMessage) -> list[MailAttachment]:
    found: list[MailAttachment] = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or not data:
            continue
        found.append(MailAttachment(part.get_filename() or "attachment", part.get_content_type(), data))
    return found


def automatic_reason(message: EmailMessage, envelope_from: str | None) -> str | None:
    """Why this mail is a bounce or an automatic answer (None for a mail a person wrote).

    Such mail never creates content and is never answered, which is what breaks mail loops.
    """
    if not (envelope_from or "").strip("<> "):
        return "null sender (a bounce)"
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if message.get_content_type() == "multipart/report":
        return "delivery or read report"
    if any(message.get(name) is not None for name in _ROBOT_HEADERS):
        return "automatic answer"
    local = address_of(str(message.get("From", ""))).partition("@")[0]
    if local in _ROBOT_SENDERS or address_of(envelope_from).partition("@")[0] in _ROBOT_SENDERS:
        return "robot sender"
    return None


def authenticated(message: EmailMessage, authserv_id: str | None) -> bool:
    """Whether the trusted mail server `authserv_id` says DMARC (or DKIM) passed (RFC 8601)."""
    if authserv_id is None:
        return True
    for value in message.get_all("Authentication-Results") or []:
        head, _, rest = str(value).partition(";")
        if head.strip().lower() != authserv_id.lower():
            continue
        results = rest.lower()
        if re.search(r"\bdmarc=pass\b", results) or re.search(r"\bdkim=pass\b", results):
            return True
    return False
