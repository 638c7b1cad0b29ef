"""The moderation pages: a member reports from the thread, the animator decides from the queue."""

from __future__ import annotations

import httpx

from server.context import Context
from tests.web.test_accounts_web import make_user, sign_in
from tests.web.test_pages_web import accept_charter, create_community


async def _sign_out(client: httpx.AsyncClient, csrf: str) -> None:
    await client.post("/logout", data={"csrf_token": csrf})


async def _written_by_bruno(ctx: Context, client: httpx.AsyncClient, body: str) -> tuple[int, str]:
    """Alice's community `welding`, Bruno a member who posts `body`; returns the post id and Bruno's token."""
    await make_user(ctx, "alice")
    await make_user(ctx, "bruno")
    await make_user(ctx, "chloe")
    csrf = await sign_in(client, "alice")
    await accept_charter(client, csrf)
    await create_community(client, csrf, "welding")
    await _sign_out(client, csrf)
    csrf = await sign_in(client, "bruno")
    await accept_charter(client, csrf)
    await client.post("/c/welding/join", data={"csrf_token": csrf})
    created = await client.post(
        "/compose", data={"csrf_token": csrf, "body": body, "communities": ["welding"]}
    )
    assert created.status_code == 303, created.text
    return int(created.headers["location"].rsplit("/", 1)[1]), csrf


async def test_report_then_remove_from_the_queue(ctx: Context, client: httpx.AsyncClient) -> None:
    post_id, csrf = await _written_by_bruno(ctx, client, "Selling my old car, cheap")
    assert f"/posts/{post_id}/report" not in (await client.get(f"/posts/{post_id}")).text  # not on one's own
    await _sign_out(client, csrf)
    csrf = await sign_in(client, "chloe")
    await accept_charter(client, csrf)
    await client.post("/c/welding/join", data={"csrf_token": csrf})
    thread = await client.get(f"/posts/{post_id}")
    assert f'href="/posts/{post_id}/report"' in thread.text
    assert "/c/welding/moderation" not in (await client.get("/c/welding")).text
    assert (await client.get("/c/welding/moderation")).status_code == 403

    form = await client.get(f"/posts/{post_id}/report")
    assert form.status_code == 200 and 'name="category"' in form.text
    refused = await client.post(f"/posts/{post_id}/report", data={"category": "spam", "comment": "Ads"})
    assert refused.status_code == 403  # no CSRF token
    wrong = await client.post(f"/posts/{post_id}/report", data={"csrf_token": csrf, "category": "boring"})
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text
    sent = await client.post(
        f"/posts/{post_id}/report",
        data={"csrf_token": csrf, "category": "spam", "comment": "Ads <b>again</b>"},
    )
    assert sent.status_code == 200 and "moderators will look at this report" in sent.text
    await _sign_out(client, csrf)

    csrf = await sign_in(client, "alice")
    assert "/c/welding/moderation" in (await client.get("/c/welding")).text
    assert "reported a post in Welding" in (await client.get("/notifications")).text
    queue = await client.get("/c/welding/moderation")
    assert queue.status_code == 200
    assert "Selling my old car" in queue.text and "Ads &lt;b&gt;again&lt;/b&gt;" in queue.text
    report_form = 'action="/c/welding/moderation/reports/'
    assert report_form in queue.text
    report_id = queue.text.split(report_form, 1)[1].split('"', 1)[0]
    removed = await client.post(
        f"/c/welding/moderation/reports/{report_id}", data={"csrf_token": csrf, "decision": "remove"}
    )
    assert removed.status_code == 303 and removed.headers["location"] == "/c/welding/moderation?done=remove"
    after = await client.get(removed.headers["location"])
    assert "Post removed." in after.text and "No open reports." in after.text
    assert "This post was deleted." in (await client.get(f"/posts/{post_id}")).text
    bogus = await client.post(
        "/c/welding/moderation/reports/abc", data={"csrf_token": csrf, "decision": "remove"}
    )
    assert bogus.status_code == 404


async def test_held_posts_and_bans_in_french(ctx: Context, client: httpx.AsyncClient) -> None:
    post_id, csrf = await _written_by_bruno(ctx, client, "The strictly confidential roadmap")
    await _sign_out(client, csrf)
    csrf = await sign_in(client, "alice")
    banned = await client.post("/c/welding/members/chloe", data={"csrf_token": csrf, "action": "ban"})
    assert banned.status_code == 303
    queue = await client.get("/c/welding/moderation", headers={"Accept-Language": "fr"})
    assert "En attente de validation" in queue.text and "strictly confidential roadmap" in queue.text
    assert "Lever le bannissement" in queue.text and "@chloe" in queue.text
    approved = await client.post(
        f"/c/welding/moderation/held/{post_id}", data={"csrf_token": csrf, "decision": "approve"}
    )
    assert approved.status_code == 303
    assert (
        "Aucune publication n’est retenue"
        in (await client.get("/c/welding/moderation", headers={"Accept-Language": "fr"})).text
    )
    lifted = await client.post(
        "/c/welding/moderation/bans/chloe", data={"csrf_token": csrf, "decision": "unban"}
    )
    assert lifted.headers["location"] == "/c/welding/moderation?done=unban"
    assert "Nobody is banned." in (await client.get("/c/welding/moderation")).text
