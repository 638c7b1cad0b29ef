"""The publish point: the charter refuses, holds or labels a post, says why in the author's language,
and the decision goes to the audit log without the value it found."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.context import Context
from server.errors import CercleError
from server.policy import Attachment
from server.services import charter as service
from server.web.problems import cercle_error
from tests.charter.conftest import MakeContext, add_user, audit_entries, charter_dir_with

CARD = "4111 1111 1111 1111"
NIR = "1 85 05 78 006 084 91"


def refusal_app(ctx: Context) -> Starlette:
    """A tiny API route that publishes through the charter, to see the refusal as HTTP answers it."""

    async def publish(request: Request) -> Response:
        text = (await request.body()).decode()
        author = await add_user(ctx, "route-author")
        async with ctx.transaction() as session:
            decision = await service.check_publish(
                session, ctx, ctx.clock.now(), author_user=author, text=text
            )
        service.raise_if_refused(decision, "fr", ctx.charter)
        return Response(status_code=201)

    return Starlette(
        routes=[Route("/api/v1/test-publish", publish, methods=["POST"])],
        exception_handlers={CercleError: cercle_error},
    )


async def test_a_nir_is_refused_with_the_article_message_in_french(make_ctx: MakeContext) -> None:
    ctx = await make_ctx(charter="fr")
    author = await add_user(ctx, "amelie", language="fr")
    async with ctx.transaction() as session:
        decision = await service.check_publish(
            session, ctx, ctx.clock.now(), author_user=author, text=f"Mon numéro : {NIR}"
        )
    assert (decision.action, decision.article_id) == ("reject", "4.1")
    try:
        service.raise_if_refused(decision, "fr", ctx.charter)
    except service.CharterRefusal as refusal:
        assert refusal.status == 422 and refusal.code == "charter-refused"
        assert (refusal.article_id, refusal.charter_id, refusal.charter_version) == ("4.1", "fr", "2026.2")
        assert refusal.message.startswith("§ 4.1 Données personnelles sensibles — Votre publication semble")
    else:
        raise AssertionError("a reject decision must raise")
    entries = await audit_entries(ctx)
    assert [(e.charter_id, e.charter_version, e.article_id, e.point, e.action) for e in entries] == [
        ("fr", "2026.2", "4.1", "publish", "reject")
    ]
    assert entries[0].actor_id == author.actor_id
    assert entries[0].details["detectors"] == ["fr.nir"]
    assert "084" not in repr(entries[0].details) and "006" not in repr(entries[0].details)


async def test_the_refusal_is_problem_json_and_stays_in_the_audit_log(ctx: Context) -> None:
    transport = httpx.ASGITransport(app=refusal_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as http:
        answer = await http.post("/api/v1/test-publish", content=f"Ma carte {CARD}")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["type"] == "/problems/charter-refused"
    assert problem["detail"].startswith("§ 4.1 Données personnelles sensibles — Votre publication semble")
    assert [(e.article_id, e.action) for e in await audit_entries(ctx)] == [("4.1", "reject")]


async def test_an_executable_attachment_is_refused(ctx: Context) -> None:
    author = await add_user(ctx, "bob")
    async with ctx.transaction() as session:
        decision = await service.check_publish(
            session,
            ctx,
            ctx.clock.now(),
            author_user=author,
            text="the installer",
            attachments=[Attachment("application/x-msdownload", 2000, "setup.exe")],
        )
    assert (decision.action, decision.article_id) == ("reject", "5")
    assert decision.text("en") == "Executable files cannot be attached."


async def test_a_health_mention_is_held_and_recorded_with_the_post(make_ctx: MakeContext) -> None:
    ctx = await make_ctx(charter="fr")
    author = await add_user(ctx, "claire")
    async with ctx.transaction() as session:
        decision = await service.check_publish(
            session, ctx, ctx.clock.now(), author_user=author, text="Paul est en arrêt maladie", subject="p/1"
        )
        service.raise_if_refused(decision, "fr", ctx.charter)
    assert (decision.action, decision.article_id) == ("hold", "4.3")
    assert "animateur" in decision.text("fr")
    [entry] = await audit_entries(ctx)
    assert (entry.action, entry.subject, entry.details["criteria"]) == (
        "hold",
        "p/1",
        ["keyword:arrêt maladie"],
    )


async def test_a_held_decision_is_rolled_back_with_the_post(ctx: Context) -> None:
    author = await add_user(ctx, "dora")
    try:
        async with ctx.transaction() as session:
            await service.check_publish(
                session, ctx, ctx.clock.now(), author_user=author, text="strictly confidential roadmap"
            )
            raise RuntimeError("the post could not be stored")
    except RuntimeError:
        pass
    assert await audit_entries(ctx) == []


async def test_a_publish_label_is_returned_and_recorded(make_ctx: MakeContext, tmp_path: Path) -> None:
    directory = charter_dir_with(
        tmp_path,
        "labels.toml",
        """
        id = "labels"
        extends = "group"
        version = "2026.1"
        languages = ["en", "fr"]

        [[article]]
        id = "11"
        title = { en = "Opinions", fr = "Opinions" }
        text = { en = "Personal opinions are labelled.", fr = "Les opinions personnelles sont signalées." }
          [[article.rule]]
          at = "publish"
          match = { hashtags = ["opinion"] }
          action = "label"
          label = { en = "Personal opinion", fr = "Opinion personnelle" }
        """,
    )
    ctx = await make_ctx(charter="labels", charter_dir=directory)
    author = await add_user(ctx, "eve")
    async with ctx.transaction() as session:
        decision = await service.check_publish(
            session, ctx, ctx.clock.now(), author_user=author, text="I think so", hashtags=["opinion"]
        )
    assert decision.action == "label"
    assert [(label.article_id, label.text["fr"]) for label in decision.labels] == [
        ("11", "Opinion personnelle")
    ]
    [entry] = await audit_entries(ctx)
    assert (entry.article_id, entry.action, entry.details["labels"]) == ("11", "label", ["11"])


async def test_plain_content_is_allowed_and_not_recorded(ctx: Context) -> None:
    author = await add_user(ctx, "fred")
    async with ctx.transaction() as session:
        decision = await service.check_publish(
            session, ctx, ctx.clock.now(), author_user=author, text="Hello"
        )
    assert (decision.action, decision.article_id) == ("allow", None)
    service.raise_if_refused(decision, "en")
    assert await audit_entries(ctx) == []


async def test_the_most_severe_community_decides(make_ctx: MakeContext) -> None:
    ctx = await make_ctx(charter="us")
    author = await add_user(ctx, "gina")
    async with ctx.transaction() as session:
        decision = await service.check_publish(
            session,
            ctx,
            ctx.clock.now(),
            author_user=author,
            text="strictly confidential",
            communities=[
                service.CommunityFacts("project"),
                service.CommunityFacts("interest", frozenset({"x"})),
            ],
        )
    assert (decision.action, decision.article_id) == ("hold", "3.2")


def test_display_labels_come_from_the_charter_in_the_reader_language(ctx: Context) -> None:
    labels = service.display_labels(ctx.charter, "fr", community_tags=["confidential"])
    assert labels == [("3.1", "Confidentiel — ne pas diffuser hors de cette communauté")]
    assert service.display_labels(ctx.charter, "fr", community_tags=["public"]) == []


def test_display_labels_are_remembered_per_charter_object(ctx: Context) -> None:
    """The notices are memoised; another charter object (a reloaded or different charter) starts afresh."""
    first = service.display_labels(ctx.charter, "en", community_tags=["confidential"])
    assert first and service.display_labels(ctx.charter, "en", community_tags=["confidential"]) == first
    without_rules = dataclasses.replace(ctx.charter, articles=(), rules_at=MappingProxyType({}))
    assert service.display_labels(without_rules, "en", community_tags=["confidential"]) == []
    assert service.display_labels(ctx.charter, "en", community_tags=["confidential"]) == first
