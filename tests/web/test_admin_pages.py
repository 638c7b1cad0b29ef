"""The administrators' and legal team's pages, through the real application: peers, charter, audit, holds."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from server.config import Settings
from server.context import Context
from server.storage import compliance_queries
from server.storage import delivery as delivery_store
from server.storage.accounts import get_user_by_username
from server.storage.compliance import CharterAcceptance
from server.storage.delivery_models import Delivery
from tests.conftest import make_settings
from tests.web.test_accounts_web import csrf_of, make_user, sign_in
from tests.web.test_pages_web import accept_charter

ADMIN_URLS = ("/admin", "/admin/peers", "/admin/charter", "/admin/audit", "/admin/holds")
PEER = "munich.example.com"
IBAN = "IBAN FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        peers=[{"domain": PEER, "jurisdiction": "de"}, {"domain": "paris.example.com", "jurisdiction": "FR"}],
    )


async def admin_signed_in(ctx: Context, client: httpx.AsyncClient) -> str:
    await make_user(ctx, "root", admin=True)
    return await sign_in(client, "root")


async def test_others_are_told_the_admin_pages_do_not_exist(ctx: Context, client: httpx.AsyncClient) -> None:
    for url in ADMIN_URLS:
        assert (await client.get(url)).status_code == 404, url
    await make_user(ctx, "alice")
    csrf = await sign_in(client, "alice")
    home = await client.get("/")
    assert 'href="/admin"' not in home.text
    for url in (*ADMIN_URLS, "/admin/holds/1/release"):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert "Legal holds" not in response.text
    for url in ("/admin/holds", "/admin/holds/1/release"):
        response = await client.post(url, data={"csrf_token": csrf, "reason": "curious"})
        assert response.status_code == 404, url
    async with ctx.sessions() as session:
        assert list(await compliance_queries.list_legal_holds(session)) == []


async def test_overview_links_every_admin_page(ctx: Context, client: httpx.AsyncClient) -> None:
    await admin_signed_in(ctx, client)
    assert 'href="/admin"' in (await client.get("/")).text
    page = await client.get("/admin")
    assert page.status_code == 200 and "<h1>Administration</h1>" in page.text
    for url in ADMIN_URLS[1:]:
        assert f'href="{url}"' in page.text


async def test_peers_show_deliveries_and_health(ctx: Context, client: httpx.AsyncClient) -> None:
    await admin_signed_in(ctx, client)
    now = ctx.clock.now()
    async with ctx.transaction() as session:
        root = await get_user_by_username(session, "root")
        assert root is not None and root.actor_id is not None
        rows = [
            Delivery(
                destination=f"https://{PEER}/inbox",
                peer_domain=PEER,
                activity_uri=f"http://localhost:8000/activities/{n}",
                payload={},
                signer_actor_id=root.actor_id,
                state="pending",
                created_at=now,
            )
            for n in range(2)
        ]
        await delivery_store.enqueue(session, now, rows)
        health = await delivery_store.get_peer_health(session, PEER)
        health.consecutive_failures = 3
    page = await client.get("/admin/peers")
    assert page.status_code == 200
    row = re.search(rf'<th scope="row">{re.escape(PEER)}</th>(.*?)</tr>', page.text, re.S)
    assert row, page.text
    cells = re.findall(r"<td>\s*(.*?)\s*</td>", row.group(1), re.S)
    assert cells[:5] == ["DE", "2", "0", "0", "0"]
    assert "3 failures" in cells[5]
    other = re.search(r'<th scope="row">paris\.example\.com</th>(.*?)</tr>', page.text, re.S)
    assert other and "ok" in other.group(1)
    assert "<caption>Configured peer instances</caption>" in page.text


async def test_charter_in_force_with_rules_in_plain_words_and_acceptance_figures(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    csrf = await admin_signed_in(ctx, client)
    await accept_charter(client, csrf)
    await make_user(ctx, "bruno")
    await make_user(ctx, "carla")
    async with ctx.transaction() as session:
        carla = await get_user_by_username(session, "carla")
        assert carla is not None
        await compliance_queries.add_acceptance(
            session,
            CharterAcceptance(
                user_id=carla.id,
                charter_id=ctx.charter.id,
                charter_version="1999.1",
                language="en",
                accepted_at=ctx.clock.now(),
            ),
        )
    page = await client.get("/admin/charter")
    assert page.status_code == 200
    assert f"Charter {ctx.charter.id}, version {ctx.charter.version}" in page.text
    assert "§ 4.1 Sensitive personal data" in page.text
    assert "When someone publishes and it contains" in page.text and "refuse it." in page.text

    def figure(label: str) -> str:
        found = re.search(rf'<th scope="row">{re.escape(label)}</th><td>(\d+)</td>', page.text)
        assert found, label
        return found.group(1)

    assert figure("Active accounts") == "3"
    assert figure("Accepted the current version") == "1"
    assert figure("Must accept again (accepted an earlier version)") == "1"
    assert figure("Never accepted") == "1"


async def test_audit_log_shows_a_refused_post_and_filters(ctx: Context, client: httpx.AsyncClient) -> None:
    csrf = await admin_signed_in(ctx, client)
    await accept_charter(client, csrf)
    refused = await client.post("/compose", data={"csrf_token": csrf, "body": IBAN, "on_profile": "1"})
    assert refused.status_code == 422
    page = await client.get("/admin/audit", params={"article": "4.1", "point": "publish", "action": "reject"})
    assert page.status_code == 200
    rows = re.findall(r"<tr>\s*<td><time.*?</tr>", page.text, re.S)
    assert len(rows) == 1, page.text
    assert "§ 4.1" in rows[0] and "<td>publish</td>" in rows[0] and "<td>reject</td>" in rows[0]
    assert '<option value="4.1" selected>' in page.text
    assert "No audit entry matches." in (await client.get("/admin/audit?action=deny")).text
    assert "No audit entry matches." in (await client.get("/admin/audit?since=2999-01-01")).text
    assert "§ 4.1" in (await client.get("/admin/audit?since=30d")).text
    wrong = await client.get("/admin/audit?since=yesterday")
    assert wrong.status_code == 422
    assert 'value="yesterday" aria-invalid="true" aria-describedby="since-error"' in wrong.text
    assert 'id="since-error">must be a date-time' in wrong.text


async def test_place_and_release_a_hold_both_audited(ctx: Context, client: httpx.AsyncClient) -> None:
    csrf = await admin_signed_in(ctx, client)
    await make_user(ctx, "alice")
    placed = await client.post(
        "/admin/holds",
        data={"csrf_token": csrf, "person": "alice", "period_start": "2026-01-01", "reason": "Case 2026-17"},
    )
    assert placed.status_code == 303 and placed.headers["location"] == "/admin/holds?done=placed"
    page = await client.get(placed.headers["location"])
    assert "The hold is placed." in page.text
    assert "Case 2026-17" in page.text and 'href="/people/alice"' in page.text
    hold_id = re.search(r'action="/admin/holds/(\d+)/release"', page.text)
    assert hold_id
    form_csrf = csrf_of(page.text)
    released = await client.post(f"/admin/holds/{hold_id.group(1)}/release", data={"csrf_token": form_csrf})
    assert released.headers["location"] == "/admin/holds?done=released"
    page = await client.get(released.headers["location"])
    assert "The hold is released." in page.text and "No legal hold." in page.text
    assert "Case 2026-17" in (await client.get("/admin/holds?all=1")).text
    again = await client.post(f"/admin/holds/{hold_id.group(1)}/release", data={"csrf_token": form_csrf})
    assert again.status_code == 422 and "already released" in again.text
    audit = await client.get("/admin/audit", params={"point": "retention"})
    assert "retention.legal_hold_placed: Case 2026-17" in audit.text
    assert "retention.legal_hold_released: Case 2026-17" in audit.text
    assert f"legal_hold {hold_id.group(1)}" in audit.text


async def test_a_refused_hold_keeps_what_was_typed_next_to_the_field(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    csrf = await admin_signed_in(ctx, client)
    response = await client.post(
        "/admin/holds", data={"csrf_token": csrf, "person": "nobody", "reason": "Case 9"}
    )
    assert response.status_code == 422
    typed = 'value="nobody" autocomplete="off" aria-invalid="true" aria-describedby="person-error"'
    assert typed in response.text
    assert 'id="person-error">no local user with this name' in response.text
    assert 'value="Case 9"' in response.text
    no_reason = await client.post("/admin/holds", data={"csrf_token": csrf, "community": "", "reason": " "})
    assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.text
    backwards = await client.post(
        "/admin/holds",
        data={"csrf_token": csrf, "period_start": "2026-02-01", "period_end": "2026-01-01", "reason": "x"},
    )
    assert backwards.status_code == 422 and 'id="period_end-error"' in backwards.text
    assert 'value="2026-02-01"' in backwards.text


async def test_a_post_without_csrf_token_is_refused(ctx: Context, client: httpx.AsyncClient) -> None:
    await admin_signed_in(ctx, client)
    response = await client.post("/admin/holds", data={"person": "root", "reason": "forged"})
    assert response.status_code == 403
    async with ctx.sessions() as session:
        assert list(await compliance_queries.list_legal_holds(session)) == []


async def test_admin_pages_speak_french(ctx: Context, client: httpx.AsyncClient) -> None:
    await admin_signed_in(ctx, client)
    client.headers["accept-language"] = "fr"
    for url, heading in (
        ("/admin", "Administration"),
        ("/admin/peers", "Instances pairs et santé des envois"),
        ("/admin/audit", "Journal d’audit"),
        ("/admin/holds", "Conservations légales"),
    ):
        page = await client.get(url)
        assert f"<h1>{heading}</h1>" in page.text, url
