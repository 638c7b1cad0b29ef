"""Importing a mailing-list archive: threads with their original dates and authors, idempotent."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from server.context import Context
from server.errors import NotFound
from server.mail.mbox import IMPORTED_DOMAIN, import_mbox
from server.storage.social import Actor, Post, PostCommunity
from tests.mail.conftest import Sink, work
from tests.social.helpers import community, person


def _message(
    mid: str, sender: str, date: str, subject: str, body: str, parent: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["Message-ID"] = mid
    message["From"] = sender
    message["To"] = "design-list@corp.example"
    message["Date"] = date
    message["Subject"] = subject
    if parent:
        message["In-Reply-To"] = parent
        message["References"] = parent
    message.set_content(body)
    return message


def write_archive(path: Path) -> Path:
    box = mailbox.mbox(path)
    # out of order on purpose: the importer sorts by date
    box.add(
        _message(
            "<2@list>",
            "Ada <ada@corp.example>",
            "Tue, 03 Mar 2015 10:00:00 +0100",
            "Re: Fonts",
            "Use Inter.\n\nOn Mon, 2 Mar 2015, Jean Dupont wrote:\n> Which font?\n",
            "<1@list>",
        )
    )
    box.add(
        _message(
            "<1@list>",
            "Jean Dupont <jean.dupont@old-subsidiary.example>",
            "Mon, 02 Mar 2015 09:30:00 +0100",
            "Fonts",
            "Which font for the new brochure?\n-- \nJean",
        )
    )
    box.add(
        _message(
            "<3@list>",
            "Jean Dupont <jean.dupont@old-subsidiary.example>",
            "Wed, 04 Mar 2015 08:00:00 +0100",
            "Re: Fonts",
            "Thanks!",
            "<2@list>",
        )
    )
    box.add(
        _message(
            "<4@list>",
            "Zoé <zoe@elsewhere.example>",
            "Thu, 05 Mar 2015 12:00:00 +0000",
            "Colours",
            "Any palette yet?",
        )
    )
    box.flush()
    box.close()
    return path


async def _state(ctx: Context) -> list[tuple[object, ...]]:
    async with ctx.sessions() as session:
        rows = (
            await session.execute(
                select(Post, Actor).join(Actor, Actor.id == Post.author_id).order_by(Post.id)
            )
        ).all()
        shared = set((await session.execute(select(PostCommunity.post_id))).scalars())
    return [
        (
            p.kind,
            p.title,
            p.source,
            p.created_at,
            a.username,
            a.domain,
            a.display_name,
            p.parent_id,
            p.id in shared,
            p.comment_count,
        )
        for p, a in rows
    ]


async def test_an_archive_imported_twice_gives_the_same_threads(
    ctx: Context, sink: Sink, tmp_path: Path
) -> None:
    bob, ada = await person(ctx, "bob"), await person(ctx, "ada")
    await community(ctx, bob, "design")
    archive = write_archive(tmp_path / "design.mbox")

    dry = await import_mbox(ctx, archive, "design", dry_run=True)
    assert (dry.posts, dry.comments, dry.dry_run) == (2, 2, True)
    assert await _state(ctx) == []

    first = await import_mbox(ctx, archive, "design")
    assert (first.messages, first.posts, first.comments, first.external_authors) == (4, 2, 2, 2)
    state = await _state(ctx)
    fonts, ada_reply, thanks, colours = state
    assert fonts[:4] == (
        "post",
        "Fonts",
        "Which font for the new brochure?",
        datetime(2015, 3, 2, 8, 30, tzinfo=UTC),
    )
    assert fonts[4:7] == ("jean.dupont@old-subsidiary.example", IMPORTED_DOMAIN, "Jean Dupont")
    assert fonts[8:] == (True, 2)
    assert ada_reply[0] == "comment" and ada_reply[2] == "Use Inter." and ada_reply[4] == "ada"
    assert ada_reply[5] == "localhost:8000"  # matched to the account by address
    assert thanks[0] == "comment" and thanks[8] is False
    assert colours[:2] == ("post", "Colours") and colours[6] == "Zoé"
    async with ctx.sessions() as session:
        ids = [p.id for p in (await session.execute(select(Post).order_by(Post.id))).scalars()]
    assert ada_reply[7] == ids[0] and thanks[7] == ids[1]

    again = await import_mbox(ctx, archive, "design")
    assert (again.posts, again.comments, again.already_imported) == (0, 0, 4)
    assert await _state(ctx) == state
    assert ada.actor_id is not None

    await work(ctx)
    assert sink.received == []  # an archive is not mailed to the members


async def test_an_unknown_community_is_refused(ctx: Context, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        await import_mbox(ctx, write_archive(tmp_path / "x.mbox"), "nowhere")
