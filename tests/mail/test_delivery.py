"""What happened reaches people's mailboxes as they chose: each item, nothing, mentions and replies at once;
threaded, multipart, with one-click unsubscribe, and never content the reader may not read."""

from __future__ import annotations

from datetime import timedelta

from server.clock import FakeClock
from server.context import Context
from server.mail import preferences
from server.mail.messages import post_message_id
from server.storage import mail as store
from tests.mail.conftest import Sink, answer, html_of, join, text_of, work, write
from tests.social.helpers import community, person


async def _mode(ctx: Context, user_id: int, community_id: int, mode: str) -> None:
    async with ctx.transaction() as session:
        await preferences.set_community_mode(session, ctx.clock.now(), user_id, community_id, mode)


async def test_each_item_sends_one_multipart_threaded_mail_per_post_and_comment(
    ctx: Context, sink: Sink, clock: FakeClock
) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    design = await community(ctx, bob, "design")
    await join(ctx, ada, "design")
    await _mode(ctx, ada.id, design.id, "each")
    post = await write(ctx, bob, "design", "The **new** palette is ready.", title="Palette")
    report = await work(ctx)
    assert (report.queued, report.sent) == (1, 1)
    (mail,) = sink.to("ada@corp.example")
    assert mail["Subject"] == "[Design] Palette"
    assert mail.get_content_type() == "multipart/alternative"
    assert "The **new** palette is ready." in text_of(mail)
    assert "<strong>new</strong>" in html_of(mail)
    assert mail["Message-ID"] == post_message_id(ctx.settings, post.id, ada.id)
    assert mail["List-Unsubscribe"].strip().startswith("<http://localhost:8000/mail/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["List-Id"] == "Design <design.localhost>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Reply-To"].addresses[0].addr_spec.startswith("reply+")
    assert "Bob via Cercle" in str(mail["From"])

    clock.advance(timedelta(minutes=5))
    comment = await answer(ctx, bob, post.id, "And the icons too.")
    await work(ctx)
    (_, reply) = sink.to("ada@corp.example")
    assert reply["Subject"] == "Re: [Design] Palette"
    assert reply["In-Reply-To"] == post_message_id(ctx.settings, post.id, ada.id)
    assert post_message_id(ctx.settings, post.id, ada.id) in reply["References"]
    assert reply["Message-ID"] == post_message_id(ctx.settings, comment.id, ada.id)
    assert sink.to("bob@corp.example") == []  # never about one's own writing
    assert (await work(ctx)).queued == 0  # nothing twice


async def test_none_sends_nothing_and_daily_waits_for_the_digest(ctx: Context, sink: Sink) -> None:
    bob, ada, cyd = await person(ctx, "bob"), await person(ctx, "ada"), await person(ctx, "cyd")
    design = await community(ctx, bob, "design")
    for user, mode in ((ada, "none"), (cyd, "daily")):
        await join(ctx, user, "design")
        await _mode(ctx, user.id, design.id, mode)
    await write(ctx, bob, "design", "Quiet news")
    assert (await work(ctx)).sent == 0
    assert sink.received == []


async def test_the_default_mode_applies_where_no_community_choice_was_made(ctx: Context, sink: Sink) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    await community(ctx, bob, "design")
    await join(ctx, ada, "design")
    async with ctx.transaction() as session:
        await preferences.set_default_mode(session, ctx.clock.now(), ada.id, "each")
    await write(ctx, bob, "design", "Hello")
    await work(ctx)
    assert len(sink.to("ada@corp.example")) == 1


async def test_mentions_and_replies_are_mailed_at_once_even_with_mode_none(ctx: Context, sink: Sink) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    design = await community(ctx, bob, "design")
    await join(ctx, ada, "design")
    await _mode(ctx, ada.id, design.id, "none")
    await _mode(ctx, bob.id, design.id, "none")
    post = await write(ctx, bob, "design", "What do you think, @ada?", title="Review")
    await work(ctx)
    (mention,) = sink.to("ada@corp.example")
    assert mention["Subject"] == "[Design] Review"
    assert "Bob mentioned you" in text_of(mention)
    await answer(ctx, ada, post.id, "Looks good")
    await work(ctx)
    (reply,) = sink.to("bob@corp.example")
    assert "Ada replied to you" in text_of(reply)
    assert reply["In-Reply-To"] == post_message_id(ctx.settings, post.id, bob.id)


async def test_mentions_turned_off_are_not_mailed(ctx: Context, sink: Sink) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    await community(ctx, bob, "design")
    await join(ctx, ada, "design")
    async with ctx.transaction() as session:
        await preferences.set_immediate(session, ctx.clock.now(), ada.id, mentions=False)
        await preferences.set_default_mode(session, ctx.clock.now(), ada.id, "none")
    await write(ctx, bob, "design", "@ada look")
    await work(ctx)
    assert sink.to("ada@corp.example") == []


async def test_a_mention_in_a_followed_community_gives_one_mail(ctx: Context, sink: Sink) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    design = await community(ctx, bob, "design")
    await join(ctx, ada, "design")
    await _mode(ctx, ada.id, design.id, "each")
    await write(ctx, bob, "design", "@ada and everyone")
    await work(ctx)
    assert len(sink.to("ada@corp.example")) == 1


async def test_closed_and_secret_communities_send_the_title_and_a_link_only(ctx: Context, sink: Sink) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    for slug, visibility in (("board", "closed"), ("merger", "secret")):
        place = await community(ctx, bob, slug, visibility)
        async with ctx.transaction() as session:
            from server.services import communities

            await communities.invite(session, ctx.clock.now(), bob, slug, "ada")
        await join(ctx, ada, slug)
        await _mode(ctx, ada.id, place.id, "each")
        await write(ctx, bob, slug, f"Confidential figures for {slug}: 42 M€", title=f"{slug} update")
    await work(ctx)
    mails = sink.to("ada@corp.example")
    assert sorted(m["Subject"] for m in mails) == ["[Board] board update", "[Merger] merger update"]
    for mail in mails:
        assert "Confidential" not in mail.as_string() and "42" not in text_of(mail)
        assert "not sent by mail" in text_of(mail)
        assert "http://localhost:8000/posts/" in text_of(mail)


async def test_private_full_text_is_a_setting(ctx: Context, sink: Sink) -> None:
    ctx.settings = ctx.settings.model_copy(update={"mail_full_text_for_private": True})
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    board = await community(ctx, bob, "board", "closed")
    async with ctx.transaction() as session:
        from server.services import communities

        await communities.invite(session, ctx.clock.now(), bob, "board", "ada")
    await join(ctx, ada, "board")
    await _mode(ctx, ada.id, board.id, "each")
    await write(ctx, bob, "board", "Figures inside")
    await work(ctx)
    assert "Figures inside" in text_of(sink.to("ada@corp.example")[0])


async def test_nothing_is_mailed_that_the_reader_cannot_read(ctx: Context, sink: Sink) -> None:
    bob = await person(ctx, "bob")
    await person(ctx, "ada")
    await community(ctx, bob, "merger", "secret")
    await write(ctx, bob, "merger", "Secret plan @ada")  # ada is mentioned but not a member
    report = await work(ctx)
    assert report.queued == 0 and sink.received == []


async def test_the_mail_is_in_the_readers_language(ctx: Context, sink: Sink) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    async with ctx.transaction() as session:
        merged = await session.merge(ada)
        merged.language = "fr"
    await community(ctx, bob, "design")
    await write(ctx, bob, "design", "Bonjour @ada")
    await work(ctx)
    (mail,) = sink.to("ada@corp.example")
    assert "Bob vous a mentionné" in text_of(mail)
    assert "Répondez au-dessus de cette ligne" in text_of(mail)
    assert 'lang="fr"' in html_of(mail)


async def test_the_queue_remembers_every_mail(ctx: Context, sink: Sink) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    await community(ctx, bob, "design")
    await write(ctx, bob, "design", "@ada hi")
    await work(ctx)
    async with ctx.sessions() as session:
        (row,) = await store.list_outbound(session, user_id=ada.id)
    assert row.sent_at is not None and row.attempts == 1 and row.kind == "mention"
