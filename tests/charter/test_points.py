"""The other points without federation: membership, analytics, administration; simulation; the audit log."""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from server.clock import FakeClock
from server.context import Context
from server.errors import Forbidden
from server.policy import load_charter
from server.services import charter as service
from server.storage import audit
from tests.charter.conftest import (
    MakeContext,
    add_community,
    add_post,
    add_user,
    audit_entries,
    bearer,
    charter_dir_with,
    snapshot,
)
from tests.conftest import REPO


def test_the_audit_log_module_can_only_add_and_read() -> None:
    source = inspect.getsource(audit)
    assert not re.search(r"\b(update|delete)\(", source)
    assert not re.search(r"\.(delete|merge)\b|execute\(\s*text", source)


async def test_membership_of_an_export_controlled_community(make_ctx: MakeContext) -> None:
    ctx = await make_ctx(charter="us")
    async with ctx.transaction() as session:
        denied = await service.check_membership(
            session,
            ctx.clock.now(),
            ctx.charter,
            person_actor_id=None,
            person_jurisdiction="FR",
            community_uri="c/itar",
            community_tags=["export-controlled"],
        )
        allowed = await service.check_membership(
            session,
            ctx.clock.now(),
            ctx.charter,
            person_actor_id=None,
            person_jurisdiction="US",
            community_uri="c/itar",
            community_tags=["export-controlled"],
        )
    assert (denied.action, denied.article_id, allowed.action) == ("deny", "6.3", "allow")
    assert [(e.point, e.action, e.article_id) for e in await audit_entries(ctx)] == [
        ("membership", "deny", "6.3")
    ]


async def test_analytics_never_shows_a_per_person_figure_in_germany(make_ctx: MakeContext) -> None:
    ctx = await make_ctx(charter="de")
    async with ctx.transaction() as session:
        per_person = await service.check_analytics(
            session, ctx.clock.now(), ctx.charter, subject="posts-by-person", group_size=50, per_person=True
        )
        small = await service.check_analytics(
            session, ctx.clock.now(), ctx.charter, subject="team", group_size=6
        )
        fine = await service.check_analytics(
            session, ctx.clock.now(), ctx.charter, subject="site", group_size=7
        )
    assert (per_person.action, per_person.reason_code) == ("deny", "analytics.per_person_forbidden")
    assert (small.action, fine.action) == ("deny", "allow")
    assert [e.reason_code for e in await audit_entries(ctx)] == [
        "analytics.per_person_forbidden",
        "analytics.group_too_small",
    ]


async def test_an_admin_read_is_refused_and_recorded_where_the_charter_forbids(ctx: Context) -> None:
    admin = await add_user(ctx, "root", admin=True, language="fr")
    with pytest.raises(Forbidden) as refused:
        async with ctx.transaction() as session:
            await service.audit_admin_read(session, ctx.clock.now(), ctx.charter, admin, "post/9", ctx=ctx)
    assert refused.value.message.startswith("§ 9 Administrateurs")
    [entry] = await audit_entries(ctx)
    assert (entry.point, entry.action, entry.subject, entry.actor_id) == (
        "administration",
        "deny",
        "post/9",
        admin.actor_id,
    )


async def test_an_admin_read_is_always_recorded_where_allowed(make_ctx: MakeContext, tmp_path: Path) -> None:
    group = (REPO / "charter" / "group.toml").read_text(encoding="utf-8")
    directory = charter_dir_with(
        tmp_path,
        "group.toml",
        group.replace("admins_may_read_private = false", "admins_may_read_private = true"),
    )
    ctx = await make_ctx(charter_dir=directory)
    admin = await add_user(ctx, "root", admin=True)
    member = await add_user(ctx, "member")
    async with ctx.transaction() as session:
        decision = await service.audit_admin_read(session, ctx.clock.now(), ctx.charter, admin, "post/3")
        with pytest.raises(Forbidden):
            await service.audit_admin_read(session, ctx.clock.now(), ctx.charter, member, "post/3")
    assert decision.action == "allow"
    assert [(e.action, e.article_id, e.subject) for e in await audit_entries(ctx)] == [
        ("allow", "9", "post/3")
    ]


async def test_simulate_reports_per_article_and_changes_nothing(
    make_ctx: MakeContext, clock: FakeClock
) -> None:
    ctx = await make_ctx(charter="group")
    author = await add_user(ctx, "sim")
    nir = await add_post(ctx, author, "NIR 1 85 05 78 006 084 91", created_at=clock.now() - timedelta(days=3))
    sick = await add_post(ctx, author, "en arrêt maladie", created_at=clock.now() - timedelta(days=2))
    await add_post(ctx, author, "bonjour", created_at=clock.now() - timedelta(days=1))
    await add_post(ctx, author, "arrêt maladie long ago", created_at=clock.now() - timedelta(days=400))
    proposed = load_charter(REPO / "charter", "fr")
    before = await snapshot(ctx)
    async with ctx.sessions() as session:
        report = await service.simulate_stored(
            session, proposed, clock.now(), since=clock.now() - timedelta(days=90)
        )
        await session.rollback()
    assert await snapshot(ctx) == before
    assert report.total == 3
    assert report.outcomes["rejected"] == 1 and report.outcomes["held"] == 1
    rejected, held = report.article("4.1"), report.article("4.3")
    assert rejected is not None and held is not None
    assert (rejected.count("rejected"), rejected.examples["rejected"]) == (1, (str(nir),))
    assert (held.count("held"), held.examples["held"]) == (1, (str(sick),))


async def test_the_audit_api_is_for_administrators_with_filters_and_a_cursor(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    admin = await add_user(ctx, "root", admin=True)
    member = await add_user(ctx, "member")
    for n in range(3):
        async with ctx.transaction() as session:
            await service.check_publish(
                session,
                ctx,
                ctx.clock.now(),
                author_user=member,
                text="strictly confidential",
                subject=f"p/{n}",
            )
    async with ctx.transaction() as session:
        await service.accept_charter(session, ctx.clock.now(), ctx.charter, member, "en")
    await add_community(ctx, "spare")
    assert (await client.get("/api/v1/audit", headers=await bearer(ctx, member))).status_code == 403
    headers = await bearer(ctx, admin)
    first = (await client.get("/api/v1/audit", params={"limit": 2, "action": "hold"}, headers=headers)).json()
    assert [i["subject"] for i in first["items"]] == ["p/2", "p/1"] and first["next_cursor"]
    rest = (
        await client.get(
            "/api/v1/audit",
            params={"limit": 2, "cursor": first["next_cursor"], "article": "3.2"},
            headers=headers,
        )
    ).json()
    assert [i["subject"] for i in rest["items"]] == ["p/0"] and rest["next_cursor"] is None
    assert (await client.get("/api/v1/audit", params={"point": "egress"}, headers=headers)).json()[
        "items"
    ] == []
    bad = await client.get("/api/v1/audit", params={"since": "last week"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/validation-failed"
    exported = await client.get("/api/v1/charter/acceptances", params={"format": "csv"}, headers=headers)
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.strip().splitlines()
    assert (
        lines[0].startswith("user_id,username,email,charter_id")
        and ",member,member@corp.example,group," in lines[1]
    )
    as_json = (await client.get("/api/v1/charter/acceptances", headers=headers)).json()["items"]
    assert [(a["username"], a["charter_version"]) for a in as_json] == [("member", "2026.1")]
