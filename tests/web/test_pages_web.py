"""The everyday pages, through the real application: communities, posts, threads, people, settings."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from starlette.requests import Request

from server.app import create_app
from server.context import Context
from server.services import posts
from server.services.charter import CharterRefusal
from server.storage.accounts import get_user_by_username
from server.web.common import FormError, form_error
from server.web.problems import cercle_error
from tests.web.test_accounts_web import csrf_of, make_user, sign_in


async def accept_charter(client: httpx.AsyncClient, csrf: str) -> None:
    response = await client.post("/charter/accept", data={"csrf_token": csrf, "next": "/"})
    assert response.status_code == 303


async def two_people(ctx: Context) -> None:
    await make_user(ctx, "alice")
    await make_user(ctx, "bruno")


async def create_community(
    client: httpx.AsyncClient, csrf: str, slug: str, visibility: str = "open", name: str | None = None
) -> httpx.Response:
    return await client.post(
        "/communities/new",
        data={
            "csrf_token": csrf,
            "slug": slug,
            "name": name or slug.title(),
            "kind": "practice",
            "visibility": visibility,
            "description": "We talk about **welding**.",
            "rules": "Be kind.",
            "tags": "welding, safety",
        },
    )


async def test_create_a_community_and_find_it_in_the_directory(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    response = await create_community(client, csrf, "welders")
    assert response.status_code == 303 and response.headers["location"] == "/c/welders"
    page = await client.get("/c/welders")
    assert "<h1>Welders</h1>" in page.text and "Owner" in page.text
    about = await client.get("/c/welders/about")
    assert "<strong>welding</strong>" in about.text and "Be kind." in about.text
    found = await client.get("/communities", params={"tag": "safety", "kind": "practice"})
    assert 'href="/c/welders"' in found.text
    none = await client.get("/communities", params={"q": "knitting"})
    assert 'href="/c/welders"' not in none.text and "No community matches." in none.text


async def test_community_form_errors_keep_what_was_typed_next_to_the_field(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    response = await create_community(client, csrf, "No Spaces Allowed", name="Typed name")
    assert response.status_code == 422
    assert 'value="Typed name"' in response.text
    assert 'aria-invalid="true" aria-describedby="slug-error"' in response.text
    assert re.search(r'<p class="error field-error" id="slug-error">2 to 63 characters', response.text)


async def test_closed_community_request_and_approval(ctx: Context, client: httpx.AsyncClient) -> None:
    await two_people(ctx)
    csrf = await sign_in(client, "alice")
    await create_community(client, csrf, "secret-sauce", visibility="closed")
    await client.post("/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, "bruno")
    closed = await client.get("/c/secret-sauce")
    assert "Only members can read" in closed.text and "Ask to join" in closed.text
    asked = await client.post("/c/secret-sauce/join", data={"csrf_token": csrf})
    assert asked.status_code == 303
    assert "waiting for a manager" in (await client.get("/c/secret-sauce")).text
    await client.post("/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, "alice")
    assert "asks to join" in (await client.get("/notifications")).text
    members = await client.get("/c/secret-sauce/members")
    assert "Requests to join" in members.text and "/c/secret-sauce/requests/bruno" in members.text
    approved = await client.post(
        "/c/secret-sauce/requests/bruno", data={"csrf_token": csrf, "decision": "approve"}
    )
    assert approved.headers["location"] == "/c/secret-sauce/members?done=approve"
    members = await client.get(approved.headers["location"])
    assert "Request approved." in members.text and "No pending requests." in members.text
    role = await client.post(
        "/c/secret-sauce/members/bruno", data={"csrf_token": csrf, "action": "role", "role": "moderator"}
    )
    assert role.status_code == 303
    assert "Moderator" in (await client.get("/c/secret-sauce/members")).text


async def test_post_into_two_communities_then_comment_react_edit_delete(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    await accept_charter(client, csrf)
    await create_community(client, csrf, "welders")
    await create_community(client, csrf, "painters")
    composer = await client.get("/compose?community=painters")
    assert 'value="painters" checked' in composer.text and 'value="welders"' in composer.text
    created = await client.post(
        "/compose",
        data={
            "csrf_token": csrf,
            "title": "Shared news",
            "body": "Hello *both*",
            "communities": ["welders", "painters"],
        },
    )
    assert created.status_code == 303
    thread_url = created.headers["location"]
    post_id = int(thread_url.rsplit("/", 1)[1])
    for slug in ("welders", "painters"):
        assert "Shared news" in (await client.get(f"/c/{slug}")).text
    home = await client.get("/")
    assert "Shared news" in home.text and "<em>both</em>" in home.text

    comment = await client.post(
        f"/posts/{post_id}/comments", data={"csrf_token": csrf, "body": "First comment"}
    )
    assert comment.status_code == 303
    comment_id = int(comment.headers["location"].rsplit("-", 1)[1])
    reply = await client.post(f"/posts/{comment_id}/comments", data={"csrf_token": csrf, "body": "A reply"})
    assert reply.status_code == 303
    thread = await client.get(thread_url)
    assert "First comment" in thread.text and 'class="comment depth-1"' in thread.text

    reacted = await client.post(
        f"/posts/{post_id}/react", data={"csrf_token": csrf, "kind": "like"}, headers={"HX-Request": "true"}
    )
    assert reacted.status_code == 200 and reacted.text.lstrip().startswith('<form class="reactions"')
    assert 'aria-pressed="true"' in reacted.text and '<span class="count">1</span>' in reacted.text
    undone = await client.post(
        f"/posts/{post_id}/react", data={"csrf_token": csrf, "kind": "like"}, headers={"HX-Request": "true"}
    )
    assert 'aria-pressed="true"' not in undone.text

    edited = await client.post(
        f"/posts/{post_id}/edit", data={"csrf_token": csrf, "title": "Shared news", "body": "Hello again"}
    )
    assert edited.status_code == 303
    history = await client.get(f"/posts/{post_id}/history")
    assert "Hello again" in history.text and "<em>both</em>" in history.text

    deleted = await client.post(f"/posts/{comment_id}/delete", data={"csrf_token": csrf})
    assert deleted.headers["location"] == f"/posts/{post_id}"
    assert "This post was deleted." in (await client.get(thread_url)).text


async def test_composer_errors_keep_the_text(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    await accept_charter(client, csrf)
    response = await client.post("/compose", data={"csrf_token": csrf, "title": "Kept", "body": "No place"})
    assert response.status_code == 422
    assert 'value="Kept"' in response.text and "No place</textarea>" in response.text
    assert 'aria-describedby="communities-error"' in response.text
    assert "choose at least one community" in response.text


async def test_markdown_preview_is_rendered_on_the_server(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    response = await client.post(
        "/compose/preview",
        data={"body": "**bold** <script>alert(1)</script>"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert "<strong>bold</strong>" in response.text and "<script>" not in response.text


async def test_home_feed_pages_with_a_cursor(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    async with ctx.sessions() as session:
        alice = await get_user_by_username(session, "alice")
    assert alice is not None
    await accept_charter(client, csrf)
    for n in range(25):
        ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        async with ctx.transaction() as session:
            await posts.create_post(
                session, ctx, ctx.clock.now(), alice, body=f"note number {n}", on_profile=True
            )
    home = await client.get("/")
    assert "note number 24" in home.text and "note number 4<" not in home.text
    cursor = re.search(r'hx-get="/\?cursor=([^"]+)"', home.text)
    assert cursor
    more = await client.get(f"/?cursor={cursor.group(1)}", headers={"HX-Request": "true"})
    assert "note number 4<" in more.text and "<html" not in more.text


async def test_language_follows_the_setting_then_the_browser(ctx: Context, client: httpx.AsyncClient) -> None:
    login = await client.get("/login", headers={"Accept-Language": "de-CH, fr;q=0.5"})
    assert '<html lang="de">' in login.text and "Anmelden" in login.text
    await make_user(ctx)
    csrf = await sign_in(client)
    assert "Communities" in (await client.get("/")).text
    saved = await client.post("/settings/language", data={"csrf_token": csrf, "language": "fr"})
    assert saved.status_code == 303
    home = await client.get("/", headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in home.text and "Communautés" in home.text


async def test_people_directory_profile_and_follow(ctx: Context, client: httpx.AsyncClient) -> None:
    await two_people(ctx)
    csrf = await sign_in(client, "bruno")
    saved = await client.post(
        "/settings/profile",
        data={
            "csrf_token": csrf,
            "display_name": "Bruno Weld",
            "job_title": "Welding engineer",
            "expertise": "Orbital welding, metallurgy",
            "visibility.expertise": "network",
        },
    )
    assert saved.status_code == 303
    await client.post("/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, "alice")
    found = await client.get("/people", params={"q": "orbital welding"})
    assert "Bruno Weld" in found.text and 'href="/people/bruno"' in found.text
    profile = await client.get("/people/bruno")
    assert "Welding engineer" in profile.text and ">Follow<" in profile.text
    followed = await client.post("/people/bruno/follow", data={"csrf_token": csrf, "on": "1"})
    assert followed.status_code == 303
    assert ">Unfollow<" in (await client.get("/people/bruno")).text


async def test_profile_errors_name_the_field(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    response = await client.post(
        "/settings/profile", data={"csrf_token": csrf, "job_title": "x" * 300, "department": "Typed"}
    )
    assert response.status_code == 422
    assert 'aria-describedby="job_title-error"' in response.text and 'value="Typed"' in response.text


async def test_charter_onboarding(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    await sign_in(client)
    welcome = await client.get("/welcome")
    assert "/charter?next=/welcome" in welcome.text
    charter = await client.get("/charter?next=/welcome")
    assert f"version {ctx.charter.version}" in charter.text
    accepted = await client.post(
        "/charter/accept", data={"csrf_token": csrf_of(charter.text), "next": "/welcome"}
    )
    assert accepted.headers["location"] == "/welcome"
    assert "Done: you accepted the charter" in (await client.get("/welcome")).text


async def test_a_charter_refusal_names_its_article_in_the_persons_language(ctx: Context) -> None:
    refusal = CharterRefusal(
        "§ 4.1 Données personnelles sensibles — pas de numéro de sécurité sociale",
        article_id="4.1",
        charter_id="fr",
        charter_version="2026.2",
        reason_code="detector",
    )
    app = create_app(ctx.settings, context=ctx)
    scope = {"type": "http", "method": "POST", "path": "/compose", "headers": [], "app": app, "state": {}}
    english = form_error(Request(scope), refusal)
    assert english == FormError(
        None,
        "Refused under article 4.1 of charter fr 2026.2: "
        "§ 4.1 Données personnelles sensibles — pas de numéro de sécurité sociale",
        charter_link=True,
    )
    french = Request({**scope, "state": {}, "headers": [(b"accept-language", b"fr-FR,fr;q=0.9")]})
    assert form_error(french, refusal).message.startswith(
        "Refusé au titre de l’article 4.1 de la charte fr 2026.2"
    )
    page = await cercle_error(
        Request({**scope, "state": {}, "headers": [(b"accept", b"text/html")]}), refusal
    )
    assert page.status_code == 422
    assert b"Refused under article 4.1 of charter fr 2026.2" in bytes(page.body)
    assert b'href="/charter"' in bytes(page.body)


async def test_posting_before_accepting_the_charter_points_to_it(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    assert "Before you post, read and accept the usage charter" in (await client.get("/")).text
    response = await client.post("/compose", data={"csrf_token": csrf, "body": "Hello", "on_profile": "1"})
    assert response.status_code == 403
    assert f"Accept version {ctx.charter.version} of the usage charter first." in response.text
    assert 'href="/charter"' in response.text and "Hello</textarea>" in response.text


async def test_a_refused_post_says_which_article_refused_it(ctx: Context, client: httpx.AsyncClient) -> None:
    await make_user(ctx)
    csrf = await sign_in(client)
    await accept_charter(client, csrf)
    response = await client.post(
        "/compose",
        data={"csrf_token": csrf, "body": "Pay with 4111 1111 1111 1111", "on_profile": "1"},
    )
    assert response.status_code == 422
    assert re.search(
        rf"Refused under article 4\.1 of charter {ctx.charter.id} {re.escape(ctx.charter.version)}: § 4\.1",
        response.text,
    )
    assert "Pay with 4111 1111 1111 1111</textarea>" in response.text


async def test_unread_counts_pins_and_polls(ctx: Context, client: httpx.AsyncClient) -> None:
    await two_people(ctx)
    csrf = await sign_in(client, "bruno")
    await create_community(client, csrf, "welders")
    await client.post("/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, "alice")
    await accept_charter(client, csrf)
    await client.post("/c/welders/join", data={"csrf_token": csrf})
    await client.get("/c/welders")  # read up to now
    await client.post("/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, "bruno")
    await accept_charter(client, csrf)
    ctx.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    poll = await client.post(
        "/compose",
        data={"csrf_token": csrf, "body": "Which day?", "communities": "welders", "poll": "Monday\nFriday"},
    )
    post_id = int(poll.headers["location"].rsplit("/", 1)[1])
    pinned = await client.post(f"/c/welders/pins/{post_id}", data={"csrf_token": csrf, "pinned": "1"})
    assert pinned.status_code == 303
    page = await client.get("/c/welders")
    assert 'id="pinned-heading"' in page.text and ">Unpin<" in page.text
    await client.post("/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, "alice")
    home = await client.get("/")
    assert 'aria-label="1 new post"' in home.text
    voted = await client.post(f"/posts/{post_id}/vote", data={"csrf_token": csrf, "option": "1", "next": "/"})
    assert voted.headers["location"] == "/"
    thread = await client.get(f"/posts/{post_id}")
    assert re.search(
        r'value="1" checked>\s*<label[^>]*>Friday</label>\s*<span class="count">1 vote', thread.text
    )
