"""Mail in, through Cercle's own SMTP server: posts, replies in the right thread, attachments; forged,
tampered and expired replies refused with a clear answer; robots and bounces ignored without a word."""

from __future__ import annotations

import asyncio
import io
import smtplib
from collections.abc import Sequence
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from server.clock import FakeClock
from server.context import Context
from server.mail.inbound import serve
from server.storage import posts as post_store
from server.storage.social import Post, PostCommunity
from tests.mail.conftest import Sink, join, mail, smtp_send, text_of, work, write
from tests.pg import free_port
from tests.social.helpers import community, person


async def _posts(ctx: Context) -> Sequence[Post]:
    async with ctx.sessions() as session:
        return (await session.execute(select(Post).order_by(Post.id))).scalars().all()


async def _reply_address(ctx: Context, sink: Sink, who: str) -> str:
    await work(ctx)
    latest = sink.to(f"{who}@corp.example")[-1]
    return str(latest["Reply-To"].addresses[0].addr_spec)


async def _setup_thread(ctx: Context, sink: Sink) -> tuple[Post, str]:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    await community(ctx, bob, "design")
    await join(ctx, ada, "design")
    post = await write(ctx, bob, "design", "Which colour, @ada?", title="Colours")
    return post, await _reply_address(ctx, sink, "ada")


async def test_a_mail_to_a_community_address_becomes_a_post(ctx: Context, inbound: int) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    await community(ctx, bob, "design")
    await join(ctx, ada, "design")
    message = mail(
        "Ada <ada@corp.example>",
        "community+design@localhost",
        "Workshop on Friday",
        "Join us at 10:00 in room 4.\n\n-- \nAda Lovelace\nDesign team\n",
    )
    assert await smtp_send(inbound, message) == {}
    (post,) = await _posts(ctx)
    assert (post.title, post.source, post.author_id) == (
        "Workshop on Friday",
        "Join us at 10:00 in room 4.",
        ada.actor_id,
    )
    async with ctx.sessions() as session:
        shares = (await session.execute(select(PostCommunity.community_id))).scalars().all()
    assert len(shares) == 1
    await smtp_send(inbound, message)  # the same mail delivered again
    assert len(await _posts(ctx)) == 1


async def test_a_reply_lands_in_the_right_thread(ctx: Context, sink: Sink, inbound: int) -> None:
    post, address = await _setup_thread(ctx, sink)
    cyd = await person(ctx, "cyd")
    await join(ctx, cyd, "design")
    other = await write(ctx, cyd, "design", "Another thread")
    body = (
        "Blue, definitely.\n\n"
        "On Mon, 5 Jan 2026 at 09:00, Bob via Cercle <cercle@localhost> wrote:\n"
        "> ## Reply above this line to answer on Cercle ##\n"
        "> Which colour, @ada?\n"
    )
    await smtp_send(inbound, mail("ada@corp.example", address, "Re: [Design] Colours", body))
    comments = [p for p in await _posts(ctx) if p.kind == "comment"]
    assert [(c.parent_id, c.root_id, c.source) for c in comments] == [(post.id, post.id, "Blue, definitely.")]
    async with ctx.sessions() as session:
        assert (await post_store.get_post(session, post.id)).comment_count == 1  # type: ignore[union-attr]
        assert (await post_store.get_post(session, other.id)).comment_count == 0  # type: ignore[union-attr]
    await work(ctx)
    (notified,) = [m for m in sink.to("bob@corp.example") if "replied" in text_of(m)]
    assert "Blue, definitely." in text_of(notified)


async def _refused(ctx: Context, sink: Sink, to: str) -> str:
    """The answer sent to `to`: from the null sender, marked auto-replied; returns its text."""
    await work(ctx)
    answers = [r for r in sink.take() if to in r.rcpt_tos]
    assert len(answers) == 1
    assert answers[0].mail_from == "<>"  # aiosmtpd shows the null sender as <>
    assert answers[0].message["Auto-Submitted"] == "auto-replied"
    return text_of(answers[0].message)


async def test_a_forged_reply_from_someone_else_is_refused(ctx: Context, sink: Sink, inbound: int) -> None:
    _, address = await _setup_thread(ctx, sink)
    await person(ctx, "eve")
    before = len(await _posts(ctx))
    sink.take()
    await smtp_send(inbound, mail("eve@corp.example", address, "Re: Colours", "Red!"))
    assert len(await _posts(ctx)) == before
    answer = await _refused(ctx, sink, "eve@corp.example")
    assert "nothing was stored" in answer and "belongs to someone else" in answer


async def test_a_tampered_token_is_refused(ctx: Context, sink: Sink, inbound: int) -> None:
    _, address = await _setup_thread(ctx, sink)
    local, _, domain = address.partition("@")
    tampered = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + domain
    before = len(await _posts(ctx))
    sink.take()
    await smtp_send(inbound, mail("ada@corp.example", tampered, "Re: Colours", "Green"))
    assert len(await _posts(ctx)) == before
    assert "not valid" in await _refused(ctx, sink, "ada@corp.example")


async def test_an_expired_token_is_refused(ctx: Context, sink: Sink, clock: FakeClock, inbound: int) -> None:
    _, address = await _setup_thread(ctx, sink)
    clock.advance(timedelta(days=31))
    before = len(await _posts(ctx))
    sink.take()
    await smtp_send(inbound, mail("ada@corp.example", address, "Re: Colours", "Late answer"))
    assert len(await _posts(ctx)) == before
    assert "expired" in await _refused(ctx, sink, "ada@corp.example")


async def test_an_attachment_is_carried(ctx: Context, inbound: int) -> None:
    bob = await person(ctx, "bob")
    await community(ctx, bob, "design")
    message = mail("bob@corp.example", "community+design@localhost", "Mock-up", "Here it is.")
    image = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(image, "PNG")
    message.add_attachment(image.getvalue(), maintype="image", subtype="png", filename="mockup.png")
    await smtp_send(inbound, message)
    (post,) = await _posts(ctx)
    async with ctx.sessions() as session:
        (attachment,) = (await post_store.attachments_of(session, [post.id]))[post.id]
    assert attachment.media_type == "image/png" and attachment.filename == "mockup.png"
    assert (ctx.settings.media_dir / (attachment.path or "")).exists()
    assert post.source == "Here it is."


@pytest.mark.parametrize(
    ("headers", "envelope_from"),
    [
        ({"Auto_Submitted": "auto-replied"}, None),
        ({"Precedence": "bulk"}, None),
        ({"X_Autoreply": "yes"}, None),
        ({}, ""),  # a bounce: the null sender
    ],
)
async def test_robots_and_bounces_are_ignored_without_answer(
    ctx: Context, sink: Sink, inbound: int, headers: dict[str, str], envelope_from: str | None
) -> None:
    _, address = await _setup_thread(ctx, sink)
    before = len(await _posts(ctx))
    sink.take()
    message = mail("ada@corp.example", address, "Out of office", "I am away until Monday.", **headers)
    await smtp_send(inbound, message, envelope_from=envelope_from)
    await smtp_send(
        inbound,
        mail("ada@corp.example", "community+design@localhost", "Away", "Away", **headers),
        envelope_from=envelope_from,
    )
    assert len(await _posts(ctx)) == before
    await work(ctx)
    assert sink.received == []


async def test_a_delivery_report_is_ignored(ctx: Context, sink: Sink, inbound: int) -> None:
    await person(ctx, "ada")
    report = mail("mailer-daemon@corp.example", "community+design@localhost", "Undelivered", "failed")
    report.make_mixed()
    report.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')
    await smtp_send(inbound, report, envelope_from="")
    await work(ctx)
    assert await _posts(ctx) == [] and sink.received == []


async def test_unknown_senders_and_refusals_are_answered(ctx: Context, sink: Sink, inbound: int) -> None:
    bob = await person(ctx, "bob")
    await community(ctx, bob, "design")
    await person(ctx, "ada")  # not a member of the closed board
    await community(ctx, bob, "board", "closed")
    await smtp_send(inbound, mail("stranger@elsewhere.example", "community+design@localhost", "Hi", "Spam"))
    assert "no account on Cercle" in await _refused(ctx, sink, "stranger@elsewhere.example")
    await smtp_send(inbound, mail("ada@corp.example", "community+board@localhost", "Hello board", "Hi all"))
    assert "only members can post" in await _refused(ctx, sink, "ada@corp.example")
    await smtp_send(
        inbound, mail("bob@corp.example", "community+design@localhost", "Pay me", "Card 4111 1111 1111 1111")
    )
    assert "Reason:" in await _refused(ctx, sink, "bob@corp.example")
    assert await _posts(ctx) == []


async def test_foreign_recipients_are_refused_at_rcpt(ctx: Context, inbound: int) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await smtp_send(inbound, mail("ada@corp.example", "someone@localhost", "Hi", "Hello"))
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await smtp_send(inbound, mail("ada@corp.example", "community+design@other.example", "Hi", "Hello"))


async def test_only_authenticated_mail_when_required(ctx: Context, sink: Sink, inbound: int) -> None:
    ctx.settings = ctx.settings.model_copy(
        update={
            "smtp": ctx.settings.smtp.model_copy(update={"require_authentication_results": "mx.corp.example"})
        }
    )
    bob = await person(ctx, "bob")
    await community(ctx, bob, "design")
    await smtp_send(inbound, mail("bob@corp.example", "community+design@localhost", "Unsigned", "Hello"))
    assert "DKIM/DMARC" in await _refused(ctx, sink, "bob@corp.example")
    signed = mail(
        "bob@corp.example",
        "community+design@localhost",
        "Signed",
        "Hello",
        Authentication_Results="mx.corp.example; dkim=pass header.d=corp.example; dmarc=pass",
    )
    await smtp_send(inbound, signed)
    assert [p.title for p in await _posts(ctx)] == ["Signed"]


async def test_lmtp_behind_the_company_mail_server(ctx: Context) -> None:
    bob = await person(ctx, "bob")
    await community(ctx, bob, "design")
    port = free_port()
    server = await serve(ctx, "127.0.0.1", port, lmtp=True)
    message = mail("bob@corp.example", "community+design@localhost", "By LMTP", "Hi")

    def deliver() -> dict[str, object]:
        # the standard library's LMTP client reads one answer per DATA: one recipient per mail here
        with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
            return dict(
                client.sendmail("bob@corp.example", ["community+design@localhost"], message.as_bytes())
            )

    try:
        assert await asyncio.to_thread(deliver) == {}
    finally:
        server.close()
        await server.wait_closed()
    assert [p.title for p in await _posts(ctx)] == ["By LMTP"]


async def test_one_mail_to_two_communities_is_one_post_in_both(ctx: Context, inbound: int) -> None:
    bob = await person(ctx, "bob")
    await community(ctx, bob, "design")
    await community(ctx, bob, "brand")
    await smtp_send(
        inbound,
        mail("bob@corp.example", "community+design@localhost, community+brand@localhost", "Both", "Hi"),
    )
    (post,) = await _posts(ctx)
    async with ctx.sessions() as session:
        shares = (await session.execute(select(PostCommunity.community_id))).scalars().all()
    assert post.title == "Both" and len(shares) == 2
