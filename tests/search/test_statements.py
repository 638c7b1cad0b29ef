"""How a search is asked of the database: one kept statement per shape, the words as the planner sees them."""

from __future__ import annotations

from sqlalchemy import func, literal, literal_column, select

from server.context import Context
from server.services import search as service
from server.storage import search as store
from tests.search.helpers import community, person, write


async def test_the_kept_statement_serves_each_viewer_with_their_own_visibility(ctx: Context) -> None:
    ada, eve = await person(ctx, "ada"), await person(ctx, "eve")
    await community(ctx, ada, "lobby")
    await community(ctx, ada, "vault", visibility="secret")
    shown = await write(ctx, ada, "Quarterly forecast draft", places=["lobby"])
    hidden = await write(ctx, ada, "Quarterly forecast for the board", places=["vault"])
    store._tier_zero.cache_clear()
    async with ctx.sessions() as session:
        for viewer, expected in (
            (ada, {shown.id, hidden.id}),
            (eve, {shown.id}),
            (ada, {shown.id, hidden.id}),
        ):
            page = await service.search(session, ctx.settings, viewer, q="forecast")
            assert {i["post_id"] for i in page["items"]} == expected
    cached = store._tier_zero.cache_info()
    assert (cached.misses, cached.hits) == (1, 2)  # built once, then reused for both viewers


async def test_two_words_are_one_condition_and_keep_their_score(ctx: Context) -> None:
    ada = await person(ctx, "ada")
    await community(ctx, ada, "lobby")
    post = await write(ctx, ada, "Le projet du client avance, le client est content", places=["lobby"])
    async with ctx.sessions() as session:
        text = await store._text(session, ["projet", "client"])
        page = await service.search(session, ctx.settings, ada, q="projet client")
        assert [i["post_id"] for i in page["items"]] == [post.id]
        assert text is not None
        if text.dialect != "postgresql":
            return
        # Every configuration reads these words alike: the planner is given one condition, not four.
        assert text.query == "( 'projet' & 'client' )"
        # The score is still ts_rank against the OR of every configuration's query.
        documents = store.documents
        rank = func.ts_rank(literal_column("fts_documents.tsv"), store._pg_tsquery(literal("projet client")))
        expected = (
            await session.execute(select(rank).where(documents.c.ref == f"post:{post.id}"))
        ).scalar_one()
        assert page["items"][0]["score"] == round(float(expected), 6) > 0
