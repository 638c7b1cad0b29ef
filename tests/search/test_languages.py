"""Stemming in French and German (and English), accents folded, snippets escaped."""

from __future__ import annotations

from server.context import Context
from server.services import search as service
from server.storage import search as store
from tests.search.helpers import community, person, write


async def hits(ctx: Context, viewer: object, q: str) -> list[str]:
    async with ctx.sessions() as session:
        page = await service.search(session, ctx.settings, viewer, q=q)  # type: ignore[arg-type]
    return [i["snippet_html"] for i in page["items"]]


async def test_french_plural_finds_the_singular_and_back(ctx: Context) -> None:
    ada = await person(ctx, "ada")
    await community(ctx, ada, "equipe")
    await write(
        ctx, ada, "Compte rendu de la réunion du comité de direction", places=["equipe"], language="fr"
    )
    await write(ctx, ada, "Nos réunions hebdomadaires sont déplacées", places=["equipe"], language="fr")

    assert len(await hits(ctx, ada, "réunions")) == 2
    if ctx.engine.dialect.name == "sqlite":  # PostgreSQL folds accents only with `unaccent` (not assumed)
        assert len(await hits(ctx, ada, "reunion")) == 2
    assert any("<mark>réunion</mark>" in s for s in await hits(ctx, ada, "réunions"))
    assert len(await hits(ctx, ada, "comités")) == 1


async def test_german_stemmer_haus_and_hauser(ctx: Context) -> None:
    ada = await person(ctx, "ada")
    await community(ctx, ada, "standort")
    await write(ctx, ada, "Die Häuser am Standort werden renoviert", places=["standort"], language="de")
    await write(ctx, ada, "Das Haus in Köln ist geschlossen und wir sind nicht da", places=["standort"])

    assert len(await hits(ctx, ada, "Haus")) == 2
    assert len(await hits(ctx, ada, "Häuser")) == 2
    assert "<mark>Häuser</mark>" in "".join(await hits(ctx, ada, "haus"))


async def test_snippets_escape_the_text_and_mark_only_query_words(ctx: Context) -> None:
    ada = await person(ctx, "ada")
    await community(ctx, ada, "dev")
    await write(ctx, ada, "Never paste `<script>alert(1)</script>` into the wiki", places=["dev"])
    (snippet,) = await hits(ctx, ada, "wiki")
    assert "<script>" not in snippet and "&lt;script&gt;" in snippet and "<mark>wiki</mark>" in snippet


def test_the_analyzer() -> None:
    assert store.config_for("fr-FR", "") == "french"
    assert store.config_for(None, "Le projet est en cours et nous avançons") == "french"
    assert store.config_for(None, "Wir sind nicht fertig und das ist gut") == "german"
    assert store.config_for(None, "xyz") == "simple"
    assert store.stem("Häuser", "german") == store.stem("Haus", "german") == "haus"
    assert store.stem("réunions", "french") == "reunion"
    assert store.variants("Meetings") >= {"meetings", "meet"}


def test_highlight_picks_the_window_with_the_words() -> None:
    text = "intro " * 100 + "the budget review for the budget year" + " outro" * 100
    snippet = service.highlight(text, "english", service.Terms.of("budget review"))
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>budget</mark> <mark>review</mark>" in snippet
