"""The charter where people write: acceptance first, refusals with their article, holds, attachments."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from server.context import Context
from tests.social.helpers import person
from tests.social.test_api import bearer


async def test_posting_needs_the_charter_accepted_first(ctx: Context, client: httpx.AsyncClient) -> None:
    ada = await bearer(ctx, "ada")
    await client.post(
        "/api/v1/communities", json={"slug": "team", "name": "Team", "kind": "project"}, headers=ada
    )
    newcomer = await person(ctx, "newbie", accept=False)
    async with ctx.transaction() as session:
        from server.services import accounts

        token = await accounts.create_api_token(session, ctx.clock.now(), newcomer, "t")
    headers = {"Authorization": f"Bearer {token.secret}"}
    await client.post("/api/v1/communities/team/join", headers=headers)
    refused = await client.post(
        "/api/v1/posts", json={"body": "hello", "communities": ["team"]}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/charter-not-accepted"
    assert "/charter" in refused.json()["detail"]
    assert (await client.post("/api/v1/charter/accept", headers=headers)).status_code in (200, 201)
    accepted = await client.post(
        "/api/v1/posts", json={"body": "hello", "communities": ["team"]}, headers=headers
    )
    assert accepted.status_code == 201


async def test_a_refused_post_names_its_article_and_is_not_stored(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ada = await bearer(ctx, "ada")
    await client.post(
        "/api/v1/communities", json={"slug": "team", "name": "Team", "kind": "project"}, headers=ada
    )
    refused = await client.post(
        "/api/v1/posts",
        json={"body": "Please pay to FR76 3000 6000 0112 3456 7890 189", "communities": ["team"]},
        headers=ada,
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"] == "/problems/charter-refused"
    assert "4.1" in problem["detail"]
    assert "3000 6000" not in problem["detail"]
    assert (await client.get("/api/v1/communities/team/feed", headers=ada)).json()["items"] == []
    audit = await client.get("/api/v1/audit", headers=ada)
    assert audit.status_code == 403  # ada is not an administrator
    metrics = (await client.get("/metrics")).text
    assert (
        'cercle_charter_decisions_recorded{action="reject",article="4.1",charter="group",point="publish"} 1.0'
        in metrics
    )


async def test_a_held_post_is_shown_to_its_author_and_moderators_only(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ada, bob = await bearer(ctx, "ada"), await bearer(ctx, "bob")
    await client.post(
        "/api/v1/communities", json={"slug": "team", "name": "Team", "kind": "project"}, headers=ada
    )
    await client.post("/api/v1/communities/team/join", headers=bob)
    held = await client.post(
        "/api/v1/posts",
        json={"body": "The strictly confidential plan is attached", "communities": ["team"]},
        headers=bob,
    )
    assert held.status_code == 201 and held.json()["held"] is True
    eve = await bearer(ctx, "eve")
    await client.post("/api/v1/communities/team/join", headers=eve)
    assert (await client.get("/api/v1/communities/team/feed", headers=eve)).json()["items"] == []
    assert (await client.get(f"/api/v1/posts/{held.json()['id']}", headers=eve)).status_code == 404
    assert len((await client.get("/api/v1/communities/team/feed", headers=ada)).json()["items"]) == 1
    assert len((await client.get("/api/v1/communities/team/feed", headers=bob)).json()["items"]) == 1


async def test_a_post_with_an_image(ctx: Context, client: httpx.AsyncClient) -> None:
    ada, bob = await bearer(ctx, "ada"), await bearer(ctx, "bob")
    await client.post(
        "/api/v1/communities", json={"slug": "site", "name": "Site", "kind": "functional"}, headers=ada
    )
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buffer, "JPEG")
    uploaded = await client.post(
        "/api/v1/media", files={"file": ("field.jpg", buffer.getvalue(), "image/jpeg")}, headers=ada
    )
    assert uploaded.status_code == 201, uploaded.text
    attachment_id = uploaded.json()["id"]
    post = await client.post(
        "/api/v1/posts",
        json={"body": "From the field", "communities": ["site"], "attachment_ids": [attachment_id]},
        headers=ada,
    )
    assert post.status_code == 201, post.text
    (attached,) = post.json()["attachments"]
    assert attached["media_type"] == "image/jpeg"
    served = await client.get(attached["url"], headers=bob)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    await client.post("/api/v1/communities/site/join", headers=bob)
    stolen = await client.post(
        "/api/v1/posts",
        json={"body": "mine now", "communities": ["site"], "attachment_ids": [attachment_id]},
        headers=bob,
    )
    assert stolen.status_code == 422 and stolen.json()["errors"][0]["field"] == "attachments"


async def test_display_rules_put_the_charters_notice_beside_the_post(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ada = await bearer(ctx, "ada")
    for slug, tags in (("board", ["confidential"]), ("canteen", [])):
        await client.post(
            "/api/v1/communities",
            json={"slug": slug, "name": slug, "kind": "functional", "tags": tags},
            headers=ada,
        )
        await client.post("/api/v1/posts", json={"body": f"In {slug}", "communities": [slug]}, headers=ada)
    board = (await client.get("/api/v1/communities/board/feed", headers=ada)).json()["items"]
    canteen = (await client.get("/api/v1/communities/canteen/feed", headers=ada)).json()["items"]
    assert board[0]["notices"] == [
        {"article": "3.1", "text": "Confidential — do not share outside this community"}
    ]
    assert canteen[0]["notices"] == []
