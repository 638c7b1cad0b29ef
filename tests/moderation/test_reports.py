"""Reports and the moderation queue through the JSON API: who may report, who sees the queue, decisions."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from server.context import Context
from server.storage.audit import AuditFilter, list_audit_entries
from server.storage.moderation import Report
from tests.social.test_api import bearer


async def _team(
    client: httpx.AsyncClient, owner: dict[str, str], *members: dict[str, str], **extra: Any
) -> None:
    created = await client.post(
        "/api/v1/communities",
        json={"slug": "team", "name": "Team", "kind": "project", **extra},
        headers=owner,
    )
    assert created.status_code == 201, created.text
    for member in members:
        joined = await client.post("/api/v1/communities/team/join", headers=member)
        assert joined.status_code == 201, joined.text


async def _post(client: httpx.AsyncClient, who: dict[str, str], body: str) -> int:
    made = await client.post("/api/v1/posts", json={"body": body, "communities": ["team"]}, headers=who)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def test_a_member_reports_a_post_and_the_owner_dismisses_it(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ada, bob, eve = await bearer(ctx, "ada"), await bearer(ctx, "bob"), await bearer(ctx, "eve")
    await _team(client, ada, bob, eve)
    post_id = await _post(client, bob, "Buy cheap watches at my cousin's shop")

    reported = await client.post(
        f"/api/v1/posts/{post_id}/reports",
        json={"category": "spam", "comment": "Third time today"},
        headers=eve,
    )
    assert reported.status_code == 201, reported.text
    (item,) = reported.json()["items"]
    assert (item["community"], item["category"], item["comment"], item["state"]) == (
        "team",
        "spam",
        "Third time today",
        "open",
    )
    assert item["reporter"]["username"] == "eve"

    notes = (await client.get("/api/v1/notifications", headers=ada)).json()["items"]
    assert [(n["kind"], n["post_id"], n["community"]["slug"]) for n in notes[:1]] == [
        ("report", post_id, "team")
    ]
    assert "report" not in [
        n["kind"] for n in (await client.get("/api/v1/notifications", headers=bob)).json()["items"]
    ]

    queue = await client.get("/api/v1/communities/team/moderation", headers=ada)
    assert queue.status_code == 200
    assert [(r["id"], r["post"]["id"]) for r in queue.json()["reports"]] == [(item["id"], post_id)]
    assert queue.json()["held"] == []

    again = await client.post(f"/api/v1/posts/{post_id}/reports", json={"category": "spam"}, headers=eve)
    assert again.status_code == 409

    dismissed = await client.post(f"/api/v1/communities/team/reports/{item['id']}/dismiss", headers=ada)
    assert dismissed.status_code == 200 and dismissed.json()["state"] == "dismissed"
    assert (await client.get("/api/v1/communities/team/moderation", headers=ada)).json()["reports"] == []
    twice = await client.post(f"/api/v1/communities/team/reports/{item['id']}/remove", headers=ada)
    assert twice.status_code == 409
    still = await client.get(f"/api/v1/posts/{post_id}", headers=eve)
    assert still.json()["deleted"] is False


async def test_bad_reports_are_refused_with_the_field_and_store_nothing(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ada, bob = await bearer(ctx, "ada"), await bearer(ctx, "bob")
    await _team(client, ada, bob)
    post_id = await _post(client, bob, "An honest post")
    cases = [
        ({"category": "boring"}, 422, "category"),
        ({"category": "spam", "comment": "x" * 2001}, 422, "comment"),
        ({}, 422, "category"),
        ({"category": "spam", "community": "elsewhere"}, 404, "community"),
    ]
    for body, status, field in cases:
        answer = await client.post(f"/api/v1/posts/{post_id}/reports", json=body, headers=ada)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in answer.json().get("errors", [])] == [field], answer.json()
    own = await client.post(f"/api/v1/posts/{post_id}/reports", json={"category": "spam"}, headers=bob)
    assert own.status_code == 409
    missing = await client.post("/api/v1/posts/999999/reports", json={"category": "spam"}, headers=ada)
    assert missing.status_code == 404
    async with ctx.sessions() as session:
        assert (await session.execute(select(Report))).scalars().all() == []


async def test_removing_reported_content_closes_every_report_on_it_and_is_audited(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ada, bob, eve, dan = [await bearer(ctx, n) for n in ("ada", "bob", "eve", "dan")]
    await _team(client, ada, bob, eve, dan)
    post_id = await _post(client, bob, "Our rival's salaries, leaked")
    comment = await client.post(f"/api/v1/posts/{post_id}/comments", json={"body": "Wow"}, headers=eve)
    comment_id = comment.json()["id"]
    first = await client.post(
        f"/api/v1/posts/{post_id}/reports", json={"category": "confidential"}, headers=eve
    )
    second = await client.post(
        f"/api/v1/posts/{post_id}/reports", json={"category": "charter", "comment": "HR data"}, headers=dan
    )
    on_comment = await client.post(
        f"/api/v1/posts/{comment_id}/reports", json={"category": "other"}, headers=dan
    )
    assert {first.status_code, second.status_code, on_comment.status_code} == {201}

    member_view = await client.post(
        f"/api/v1/communities/team/reports/{first.json()['items'][0]['id']}/remove", headers=eve
    )
    assert member_view.status_code == 403
    removed = await client.post(
        f"/api/v1/communities/team/reports/{first.json()['items'][0]['id']}/remove", headers=ada
    )
    assert removed.status_code == 200 and removed.json()["state"] == "removed"

    thread = (await client.get(f"/api/v1/posts/{post_id}/thread", headers=eve)).json()
    assert thread["post"]["deleted"] is True and thread["post"]["content_html"] == ""
    left = (await client.get("/api/v1/communities/team/moderation", headers=ada)).json()["reports"]
    assert [r["post_id"] for r in left] == [comment_id]  # the other report on the post closed with it
    async with ctx.sessions() as session:
        states = sorted((await session.execute(select(Report.state))).scalars())
        audit = await list_audit_entries(session, AuditFilter(subject_kind="post"))
    assert states == ["open", "removed", "removed"]
    assert [(a.action, a.reason_code, a.details.get("by")) for a in audit] == [
        ("reject", "moderation.report_upheld", "moderator")
    ]


async def test_the_queue_is_for_moderators_and_a_secret_communitys_queue_is_hidden(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ada, bob, mod, eve = [await bearer(ctx, n) for n in ("ada", "bob", "mod", "eve")]
    created = await client.post(
        "/api/v1/communities",
        json={"slug": "board", "name": "Board", "kind": "project", "visibility": "secret"},
        headers=ada,
    )
    assert created.status_code == 201
    for name in ("bob", "mod"):
        await client.post("/api/v1/communities/board/invitations", json={"username": name}, headers=ada)
    await client.post("/api/v1/communities/board/join", headers=bob)
    await client.post("/api/v1/communities/board/join", headers=mod)
    role = await client.post(
        "/api/v1/communities/board/members/mod/role", json={"role": "moderator"}, headers=ada
    )
    assert role.status_code == 200, role.text
    post = await client.post(
        "/api/v1/posts", json={"body": "Merger plan", "communities": ["board"]}, headers=ada
    )
    post_id = post.json()["id"]

    assert (await client.get("/api/v1/communities/board/moderation", headers=eve)).status_code == 404
    assert (await client.get("/api/v1/communities/board/bans", headers=eve)).status_code == 404
    outsider = await client.post(f"/api/v1/posts/{post_id}/reports", json={"category": "spam"}, headers=eve)
    assert outsider.status_code == 404
    assert (await client.get("/api/v1/communities/board/moderation", headers=bob)).status_code == 403
    reported = await client.post(f"/api/v1/posts/{post_id}/reports", json={"category": "other"}, headers=bob)
    assert reported.status_code == 201
    report_id = reported.json()["items"][0]["id"]
    assert (
        await client.post(f"/api/v1/communities/board/reports/{report_id}/dismiss", headers=eve)
    ).status_code == 404
    assert (
        await client.post(f"/api/v1/communities/board/reports/{report_id}/dismiss", headers=bob)
    ).status_code == 403
    seen = await client.get("/api/v1/communities/board/moderation", headers=mod)
    assert seen.status_code == 200 and [r["id"] for r in seen.json()["reports"]] == [report_id]


async def test_a_held_post_is_approved_or_rejected_from_the_queue(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ada, bob, eve = await bearer(ctx, "ada"), await bearer(ctx, "bob"), await bearer(ctx, "eve")
    await _team(client, ada, bob, eve)
    first = await _post(client, bob, "The strictly confidential plan, part one")
    second = await _post(client, bob, "The strictly confidential plan, part two")
    queue = (await client.get("/api/v1/communities/team/moderation", headers=ada)).json()
    assert [p["id"] for p in queue["held"]] == [first, second]
    assert (
        await client.post(f"/api/v1/communities/team/held/{first}/approve", headers=eve)
    ).status_code == 403

    approved = await client.post(f"/api/v1/communities/team/held/{first}/approve", headers=ada)
    assert approved.status_code == 200 and approved.json()["held"] is False
    rejected = await client.post(f"/api/v1/communities/team/held/{second}/reject", headers=ada)
    assert rejected.status_code == 200 and rejected.json()["deleted"] is True
    feed = (await client.get("/api/v1/communities/team/feed", headers=eve)).json()["items"]
    assert [(p["id"], p["deleted"]) for p in feed] == [(first, False)]
    again = await client.post(f"/api/v1/communities/team/held/{first}/approve", headers=ada)
    assert again.status_code == 404
    wrong = await client.post(f"/api/v1/communities/team/held/{first}/maybe", headers=ada)
    assert wrong.status_code == 404
    async with ctx.sessions() as session:
        audit = await list_audit_entries(session, AuditFilter(point="publish"))
    decisions = [(a.action, a.reason_code) for a in audit if a.reason_code.startswith("moderation.")]
    assert decisions == [("reject", "moderation.held_rejected"), ("allow", "moderation.held_released")]


async def test_ban_list_and_unban(ctx: Context, client: httpx.AsyncClient) -> None:
    ada, bob = await bearer(ctx, "ada"), await bearer(ctx, "bob")
    await _team(client, ada, bob)
    assert (await client.post("/api/v1/communities/team/members/bob/ban", headers=ada)).status_code == 204
    banned = (await client.get("/api/v1/communities/team/bans", headers=ada)).json()["items"]
    assert [(m["person"]["username"], m["state"]) for m in banned] == [("bob", "banned")]
    assert (await client.post("/api/v1/communities/team/join", headers=bob)).status_code == 403
    assert (await client.delete("/api/v1/communities/team/bans/bob", headers=bob)).status_code == 403
    assert (await client.delete("/api/v1/communities/team/bans/bob", headers=ada)).status_code == 204
    assert (await client.delete("/api/v1/communities/team/bans/bob", headers=ada)).status_code == 404
    assert (await client.get("/api/v1/communities/team/bans", headers=ada)).json()["items"] == []
    assert (await client.post("/api/v1/communities/team/join", headers=bob)).status_code == 201
