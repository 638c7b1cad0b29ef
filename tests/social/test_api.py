"""The social core through the JSON API: bearer tokens, problem+json, the everyday journeys."""

from __future__ import annotations

import httpx

from server.context import Context
from server.services import accounts
from server.storage.accounts import get_user_by_username
from tests.social.helpers import person


async def bearer(ctx: Context, name: str) -> dict[str, str]:
    await person(ctx, name)
    async with ctx.transaction() as session:
        user = await get_user_by_username(session, name)
        assert user is not None
        token = await accounts.create_api_token(session, ctx.clock.now(), user, "tests")
    return {"Authorization": f"Bearer {token.secret}"}


async def test_closed_community_journey(ctx: Context, client: httpx.AsyncClient) -> None:
    ada, bob, eve = await bearer(ctx, "ada"), await bearer(ctx, "bob"), await bearer(ctx, "eve")
    created = await client.post(
        "/api/v1/communities",
        json={
            "slug": "pricing",
            "name": "Pricing",
            "kind": "project",
            "visibility": "closed",
            "tags": ["#Sales"],
        },
        headers=ada,
    )
    assert created.status_code == 201, created.text
    assert created.json()["tags"] == ["sales"] and created.json()["my_membership"]["role"] == "owner"

    asked = await client.post("/api/v1/communities/pricing/join", headers=bob)
    assert asked.status_code == 202 and asked.json()["state"] == "pending"
    blocked = await client.get("/api/v1/communities/pricing/feed", headers=bob)
    assert blocked.status_code == 403
    assert blocked.json()["detail"] == "only members can read this community; ask to join"

    note = (await client.get("/api/v1/notifications", headers=ada)).json()["items"][0]
    assert note["kind"] == "join_request" and note["actor"]["username"] == "bob"
    assert note["community"]["slug"] == "pricing"

    approved = await client.post("/api/v1/communities/pricing/requests/bob/approve", headers=ada)
    assert approved.status_code == 200
    post = await client.post(
        "/api/v1/posts",
        json={"body": "Draft grid for **Q3**, thoughts @ada? #pricing", "communities": ["pricing"]},
        headers=bob,
    )
    assert post.status_code == 201, post.text
    body = post.json()
    assert "<strong>Q3</strong>" in body["content_html"] and 'class="mention"' in body["content_html"]
    post_id = body["id"]

    comment = await client.post(f"/api/v1/posts/{post_id}/comments", json={"body": "Looks good"}, headers=ada)
    assert comment.status_code == 201
    assert (await client.put(f"/api/v1/posts/{post_id}/reactions/celebrate", headers=ada)).status_code == 201
    assert (await client.put(f"/api/v1/posts/{post_id}/reactions/boo", headers=ada)).status_code == 422

    thread = (await client.get(f"/api/v1/posts/{post_id}/thread", headers=bob)).json()
    assert thread["post"]["comment_count"] == 1 and thread["post"]["reactions"] == {"celebrate": 1}
    assert [c["source"] for c in thread["comments"]] == ["Looks good"]

    kinds = sorted(
        n["kind"] for n in (await client.get("/api/v1/notifications", headers=bob)).json()["items"]
    )
    assert kinds == ["join_decision", "reaction", "reply"]

    outsider = await client.get(f"/api/v1/posts/{post_id}", headers=eve)
    assert outsider.status_code == 404
    assert outsider.headers["content-type"] == "application/problem+json"


async def test_secret_community_is_404_everywhere_for_outsiders(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ada, eve = await bearer(ctx, "ada"), await bearer(ctx, "eve")
    await client.post(
        "/api/v1/communities",
        json={"slug": "merger", "name": "Merger", "kind": "project", "visibility": "secret"},
        headers=ada,
    )
    post_id = (
        await client.post(
            "/api/v1/posts", json={"body": "confidential", "communities": ["merger"]}, headers=ada
        )
    ).json()["id"]
    for path in (
        "/api/v1/communities/merger",
        "/api/v1/communities/merger/feed",
        "/api/v1/communities/merger/members",
        f"/api/v1/posts/{post_id}",
        f"/api/v1/posts/{post_id}/thread",
    ):
        response = await client.get(path, headers=eve)
        assert response.status_code == 404, path
    assert (await client.post("/api/v1/communities/merger/join", headers=eve)).status_code == 404
    listed = (await client.get("/api/v1/communities", headers=eve)).json()["items"]
    assert listed == []
    assert (await client.get("/api/v1/feed/home", headers=eve)).json()["items"] == []

    invited = await client.post(
        "/api/v1/communities/merger/invitations", json={"username": "eve"}, headers=ada
    )
    assert invited.status_code == 201
    assert (await client.get("/api/v1/communities/merger", headers=eve)).json()["my_membership"][
        "state"
    ] == "invited"
    assert (await client.post("/api/v1/communities/merger/join", headers=eve)).status_code == 201
    assert (await client.get(f"/api/v1/posts/{post_id}", headers=eve)).status_code == 200


async def test_post_in_two_communities_edit_and_delete(ctx: Context, client: httpx.AsyncClient) -> None:
    ada, bob = await bearer(ctx, "ada"), await bearer(ctx, "bob")
    for slug in ("paris-site", "lean"):
        await client.post(
            "/api/v1/communities", json={"slug": slug, "name": slug, "kind": "practice"}, headers=ada
        )
    created = (
        await client.post(
            "/api/v1/posts",
            json={"title": "Kaizen", "body": "First version", "communities": ["paris-site", "lean"]},
            headers=ada,
        )
    ).json()
    assert sorted(c["slug"] for c in created["communities"]) == ["lean", "paris-site"]
    for slug in ("paris-site", "lean"):
        feed = (await client.get(f"/api/v1/communities/{slug}/feed", headers=bob)).json()
        assert [p["id"] for p in feed["items"]] == [created["id"]]

    denied = await client.patch(f"/api/v1/posts/{created['id']}", json={"body": "hijack"}, headers=bob)
    assert denied.status_code == 403
    edited = await client.patch(
        f"/api/v1/posts/{created['id']}", json={"body": "Second version"}, headers=ada
    )
    assert edited.json()["source"] == "Second version" and edited.json()["edited_at"]
    history = (await client.get(f"/api/v1/posts/{created['id']}/revisions", headers=bob)).json()["items"]
    assert [r["source"] for r in history] == ["First version"]

    outsider_reply = await client.post(
        f"/api/v1/posts/{created['id']}/comments", json={"body": "hi"}, headers=bob
    )
    assert outsider_reply.status_code == 403
    await client.post("/api/v1/communities/lean/join", headers=bob)
    reply = (
        await client.post(f"/api/v1/posts/{created['id']}/comments", json={"body": "a reply"}, headers=bob)
    ).json()
    assert (await client.delete(f"/api/v1/posts/{created['id']}", headers=ada)).status_code == 204
    tombstone = (await client.get(f"/api/v1/posts/{created['id']}/thread", headers=bob)).json()
    assert tombstone["post"]["deleted"] is True and tombstone["post"]["source"] == ""
    assert [c["id"] for c in tombstone["comments"]] == [reply["id"]]
    assert (await client.get("/api/v1/communities/lean/feed", headers=bob)).json()["items"] == []


async def test_polls_and_validation_errors_name_the_field(ctx: Context, client: httpx.AsyncClient) -> None:
    ada = await bearer(ctx, "ada")
    await client.post(
        "/api/v1/communities", json={"slug": "team", "name": "Team", "kind": "functional"}, headers=ada
    )
    bad = await client.post(
        "/api/v1/posts", json={"body": "Lunch?", "communities": ["team"], "poll_options": ["x"]}, headers=ada
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "poll_options"
    missing = await client.post("/api/v1/posts", json={"body": "no place"}, headers=ada)
    assert missing.json()["errors"][0]["field"] == "communities"
    wrong_kind = await client.post(
        "/api/v1/communities", json={"slug": "x1", "name": "X1", "kind": "party"}, headers=ada
    )
    assert wrong_kind.json()["errors"][0]["field"] == "kind"
    poll = (
        await client.post(
            "/api/v1/posts",
            json={"body": "Lunch?", "communities": ["team"], "poll_options": ["12:00", "13:00"]},
            headers=ada,
        )
    ).json()
    assert (
        await client.post(f"/api/v1/posts/{poll['id']}/votes", json={"option": 1}, headers=ada)
    ).status_code == 204
    out_of_range = await client.post(f"/api/v1/posts/{poll['id']}/votes", json={"option": 5}, headers=ada)
    assert out_of_range.json()["errors"][0]["field"] == "option"
    shown = (await client.get(f"/api/v1/posts/{poll['id']}", headers=ada)).json()["poll"]
    assert shown["my_vote"] == 1 and [o["votes"] for o in shown["options"]] == [0, 1]
    bad_cursor = await client.get("/api/v1/feed/home?cursor=garbage", headers=ada)
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"


async def test_unread_counts_follow_read_markers(ctx: Context, client: httpx.AsyncClient) -> None:
    ada, bob = await bearer(ctx, "ada"), await bearer(ctx, "bob")
    await client.post(
        "/api/v1/communities", json={"slug": "news", "name": "News", "kind": "interest"}, headers=ada
    )
    await client.post("/api/v1/communities/news/join", headers=bob)
    for i in range(3):
        await client.post("/api/v1/posts", json={"body": f"item {i}", "communities": ["news"]}, headers=ada)
    assert (await client.get("/api/v1/unread", headers=bob)).json() == {
        "community:news": 3,
        "notifications": 0,
    }
    await client.get("/api/v1/communities/news/feed", headers=bob)
    assert (await client.get("/api/v1/unread", headers=bob)).json() == {"notifications": 0}
