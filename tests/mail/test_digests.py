"""Digests: a day (or a week) of activity in one mail per reader, nothing twice, nothing unreadable."""

from __future__ import annotations

from datetime import timedelta

from server.clock import FakeClock
from server.context import Context
from server.mail import preferences
from server.mail.digests import queue_digests
from server.services import communities
from tests.mail.conftest import Sink, answer, html_of, join, text_of, work, write
from tests.social.helpers import community, person


async def _mode(ctx: Context, user_id: int, community_id: int, mode: str) -> None:
    async with ctx.transaction() as session:
        await preferences.set_community_mode(session, ctx.clock.now(), user_id, community_id, mode)


async def test_a_daily_digest_lists_a_day_of_activity(ctx: Context, sink: Sink, clock: FakeClock) -> None:
    bob, ada, cyd = await person(ctx, "bob"), await person(ctx, "ada"), await person(ctx, "cyd")
    design = await community(ctx, bob, "design")
    board = await community(ctx, bob, "board", "closed")
    async with ctx.transaction() as session:
        await communities.invite(session, clock.now(), bob, "board", "ada")
    for slug, place in (("design", design), ("board", board)):
        await join(ctx, ada, slug)
        await _mode(ctx, ada.id, place.id, "daily")
    await join(ctx, cyd, "design")
    await _mode(ctx, cyd.id, design.id, "weekly")
    assert await queue_digests(ctx, "daily") == 0  # a first run with nothing new sends nothing

    clock.advance(timedelta(hours=2))
    first = await write(ctx, bob, "design", "Morning sketches of the new logo", title="Logo sketches")
    clock.advance(timedelta(hours=3))
    await answer(ctx, cyd, first.id, "Love the second one")
    await write(ctx, bob, "board", "Budget: 1.2 M€ for next year", title="Budget 2027")
    clock.advance(timedelta(hours=4))
    await write(ctx, ada, "design", "My own post is not in my digest", title="Ada's")
    await work(ctx)
    assert sink.to("ada@corp.example") == []  # daily readers get nothing as it happens

    clock.advance(timedelta(hours=15))
    assert await queue_digests(ctx, "daily") == 2  # ada, and bob (the instance default is daily)
    await work(ctx)
    (digest,) = sink.to("ada@corp.example")
    assert digest["Subject"] == "Your daily digest from Cercle"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = text_of(digest)
    assert "# Design" in body and "# Board" in body
    assert "Logo sketches — by Bob · 1 new comment(s)" in body
    assert "Morning sketches of the new logo" in body
    assert "Budget 2027" in body and "1.2 M€" not in body  # closed: title and link only
    assert "Ada's" not in body
    assert "Logo sketches" in html_of(digest)
    assert sink.to("cyd@corp.example") == []  # cyd reads the weekly digest
    assert "Ada's" in text_of(sink.to("bob@corp.example")[-1])

    assert await queue_digests(ctx, "daily") == 0  # run again: nothing new
    clock.advance(timedelta(days=1))
    assert await queue_digests(ctx, "daily") == 0

    assert await queue_digests(ctx, "weekly") == 1
    await work(ctx)
    (weekly,) = sink.to("cyd@corp.example")
    assert weekly["Subject"] == "Your weekly digest from Cercle"
    assert "Logo sketches" in text_of(weekly) and "Budget" not in text_of(weekly)  # cyd is not on the board


async def test_a_digest_in_german(ctx: Context, sink: Sink, clock: FakeClock) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    async with ctx.transaction() as session:
        (await session.merge(ada)).language = "de"
    await community(ctx, bob, "design")
    await join(ctx, ada, "design")
    await write(ctx, bob, "design", "Neu", title="Neuigkeiten")
    clock.advance(timedelta(hours=1))
    await queue_digests(ctx, "daily")  # the instance default mode is daily
    await work(ctx)
    (digest,) = sink.to("ada@corp.example")
    assert digest["Subject"] == "Ihre tägliche Zusammenfassung von Cercle"
    assert "Neuigkeiten — von Bob" in text_of(digest)
