"""Building the mails Cercle sends: a post or comment, a digest, an answer to a refused mail.

Every mail is multipart (plain text and HTML) in the reader's language. Mails about a thread are
threaded for mail clients: the mail about post P sent to person U has the Message-ID
`<cercle.post.P.uU@domain>` (one mail per person and post, so the id is unique), and a comment's
mail names its parent's and its root's ids in `In-Reply-To` and `References`, which are exactly the
ids of the mails that person got (or would have got) about them. Mails to people carry
`List-Unsubscribe` with `List-Unsubscribe-Post` (RFC 8058) and `Auto-Submitted: auto-generated`
(RFC 3834), so out-of-office robots stay quiet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import escape

from server.config import Settings
from server.mail.addresses import community_address, from_header, mail_domain
from server.mail.texts import text


@cache
def templates() -> Environment:
    return Environment(
        loader=PackageLoader("server.mail", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def post_message_id(settings: Settings, post_id: int, user_id: int) -> str:
    return f"<cercle.post.{post_id}.u{user_id}@{mail_domain(settings)}>"


def serialize(message: EmailMessage) -> str:
    """The message as sent on the wire: 7-bit, CRLF line ends, headers folded and encoded."""
    return message.as_bytes(policy=SMTP).decode("ascii")


def _recipient(name: str, email: str) -> Address:
    username, _, domain = email.rpartition("@")
    return Address(display_name=name, username=username, domain=domain)


def _finish(message: EmailMessage, plain: str, html: str) -> EmailMessage:
    message.set_content(plain, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def _unsubscribe_headers(message: EmailMessage, url: str) -> None:
    message["List-Unsubscribe"] = f"<{url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"


@dataclass(frozen=True)
class PostMail:
    """What a mail about one post or comment says. `body_text` None: the content stays on Cercle."""

    reason: str  # item | mention | reply
    lang: str
    user_id: int
    recipient_name: str
    recipient_email: str
    post_id: int
    root_id: int
    parent_id: int | None
    author_name: str
    community_name: str | None
    community_slug: str | None
    title: str
    body_text: str | None
    body_html: str | None
    url: str
    reply_to: str | None
    unsubscribe_url: str
    created_at: datetime


def _headline(mail: PostMail) -> str:
    if mail.reason == "item":
        key = "item" if mail.parent_id is None else "item_comment"
        return text(key, mail.lang, author=mail.author_name, community=mail.community_name or "")
    return text(mail.reason, mail.lang, author=mail.author_name)


def _why(mail: PostMail) -> str:
    if mail.reason == "item":
        return text("why_community", mail.lang, community=mail.community_name or "")
    return text(f"why_{mail.reason}", mail.lang)


def build_post_mail(settings: Settings, mail: PostMail) -> EmailMessage:
    lang = mail.lang
    title = mail.title or text("untitled", lang, author=mail.author_name)
    subject = f"[{mail.community_name}] {title}" if mail.community_name else title
    if mail.parent_id is not None:
        subject = f"Re: {subject}"
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = from_header(settings, mail.author_name)
    message["To"] = _recipient(mail.recipient_name, mail.recipient_email)
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = post_message_id(settings, mail.post_id, mail.user_id)
    if mail.parent_id is not None:
        parent = post_message_id(settings, mail.parent_id, mail.user_id)
        root = post_message_id(settings, mail.root_id, mail.user_id)
        message["In-Reply-To"] = parent
        message["References"] = root if parent == root else f"{root} {parent}"
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    if mail.community_slug:
        message["List-Id"] = f"{mail.community_name} <{mail.community_slug}.{mail_domain(settings)}>"
        message["List-Post"] = f"<mailto:{community_address(settings, mail.community_slug)}>"
    _unsubscribe_headers(message, mail.unsubscribe_url)

    marker = text("reply_marker", lang) if mail.reply_to else ""
    how_to_reply = text("how_to_reply", lang) if mail.reply_to else ""
    private_notice = text("private_body", lang)
    headline, why = _headline(mail), _why(mail)
    lines = [marker, ""] if marker else []
    lines += [headline, "", title, "", mail.body_text if mail.body_text is not None else private_notice]
    lines += ["", f"{text('open', lang)}: {mail.url}"]
    if how_to_reply:
        lines += ["", how_to_reply]
    lines += ["", "-- ", why, f"{text('unsubscribe', lang)}: {mail.unsubscribe_url}", ""]
    html = (
        templates()
        .get_template("post.html")
        .render(
            lang=lang,
            subject=subject,
            marker=marker,
            headline=headline,
            title=title,
            body_html=mail.body_html if mail.body_text is not None else None,
            private_notice=private_notice,
            url=mail.url,
            open_label=text("open", lang),
            how_to_reply=how_to_reply,
            why=why,
            unsubscribe_url=mail.unsubscribe_url,
            unsubscribe_label=text("unsubscribe", lang),
        )
    )
    return _finish(message, "\n".join(lines), html)


@dataclass(frozen=True)
class DigestEntry:
    community_name: str
    title: str
    author_name: str
    url: str
    excerpt: str | None
    comments: int


def build_digest_mail(
    settings: Settings,
    *,
    lang: str,
    frequency: str,
    user_id: int,
    recipient_name: str,
    recipient_email: str,
    entries: Sequence[DigestEntry],
    since: datetime,
    until: datetime,
    unsubscribe_url: str,
) -> EmailMessage:
    subject = text(f"digest_{frequency}_subject", lang, instance=settings.instance_name)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = from_header(settings)
    message["To"] = _recipient(recipient_name, recipient_email)
    message["Date"] = format_datetime(until)
    stamp = int(until.timestamp())
    message["Message-ID"] = f"<cercle.digest.{frequency}.u{user_id}.{stamp}@{mail_domain(settings)}>"
    _unsubscribe_headers(message, unsubscribe_url)
    intro = text("digest_intro", lang, since=since.strftime("%Y-%m-%d %H:%M UTC"))
    why = text(f"why_{frequency}", lang)
    groups: dict[str, list[dict[str, str | None]]] = {}
    lines = [intro, ""]
    for entry in entries:
        comments = text("comments", lang, count=entry.comments) if entry.comments else ""
        row: dict[str, str | None] = {
            "title": entry.title,
            "url": entry.url,
            "byline": text("digest_entry", lang, author=entry.author_name),
            "excerpt": entry.excerpt,
            "comments": comments,
        }
        groups.setdefault(entry.community_name, []).append(row)
    for community, rows in groups.items():
        lines += [f"# {community}", ""]
        for row in rows:
            extra = f" · {row['comments']}" if row["comments"] else ""
            lines.append(f"* {row['title']} — {row['byline']}{extra}")
            if row["excerpt"]:
                lines.append(f"  {row['excerpt']}")
            lines.append(f"  {row['url']}")
        lines.append("")
    lines += ["-- ", why, f"{text('unsubscribe', lang)}: {unsubscribe_url}", ""]
    html = (
        templates()
        .get_template("digest.html")
        .render(
            lang=lang,
            subject=subject,
            intro=intro,
            groups=list(groups.items()),
            why=why,
            unsubscribe_url=unsubscribe_url,
            unsubscribe_label=text("unsubscribe", lang),
        )
    )
    return _finish(message, "\n".join(lines), html)


def build_answer_mail(
    settings: Settings,
    *,
    lang: str,
    to: str,
    subject: str,
    in_reply_to: str | None,
    address: str,
    reason: str,
) -> EmailMessage:
    """The answer to a mail Cercle could not publish. Marked auto-replied so no robot answers it."""
    message = EmailMessage()
    message["Subject"] = text("refused_subject", lang, subject=subject or "…")
    message["From"] = from_header(settings)
    message["To"] = to
    message["Message-ID"] = make_msgid("cercle.answer", domain=mail_domain(settings))
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    intro = text("refused_intro", lang, address=address)
    because = text("refused_reason", lang, reason=reason)
    plain = f"{intro}\n\n{because}\n\n-- \n{settings.instance_name} {settings.base_url}\n"
    html = (
        f'<!DOCTYPE html><html lang="{lang}"><body style="font-family: sans-serif;">'
        f"<p>{_escape(intro)}</p><p><strong>{_escape(because)}</strong></p>"
        f'<p><a href="{_escape(settings.base_url)}">{_escape(settings.instance_name)}</a></p></body></html>'
    )
    return _finish(message, plain, html)


def _escape(value: str) -> str:
    return str(escape(value))
