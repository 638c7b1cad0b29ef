"""Rich profiles, per-field visibility, tags and the people directory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from server.context import Context
from server.errors import NotFound, ValidationFailed
from server.services import accounts, profiles
from server.storage.models import User
from server.storage.profiles import list_profile_tags
from server.storage.social import Actor, Profile

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def make_user(ctx: Context, name: str, *, admin: bool = False, display_name: str = "") -> User:
    async with ctx.transaction() as session:
        return await accounts.create_user(
            session,
            ctx.settings,
            ctx.clock.now(),
            username=name,
            email=f"{name}@corp.example",
            password=None,
            display_name=display_name,
            is_admin=admin,
        )


async def update(ctx: Context, user: User, **changes: Any) -> dict[str, Any]:
    async with ctx.transaction() as session:
        return await profiles.update_profile(session, ctx.settings, ctx.clock.now(), user, changes)


async def bearer(ctx: Context, user: User) -> dict[str, str]:
    async with ctx.transaction() as session:
        created = await accounts.create_api_token(session, ctx.clock.now(), user, "tests")
    return {"Authorization": f"Bearer {created.secret}"}


# -- visibility, as a pure function -------------------------------------------------------------------


def _person(visibility: dict[str, str], *, local: bool = True) -> tuple[Profile, Actor]:
    actor = Actor(id=7, username="alice", domain="paris.example", local=local, display_name="Alice")
    profile = Profile(
        actor_id=7,
        job_title="Engineer",
        department="R&D",
        site="Paris",
        languages=["fr"],
        expertise=["python"],
        interests=["chess"],
        bio="Hello",
        contact={"phone": "+33 1 23 45 67 89"},
        visibility=visibility,
        updated_at=NOW,
    )
    return profile, actor


# (viewer, level) -> visible?
MATRIX = {
    ("owner", "network"): True,
    ("owner", "instance"): True,
    ("owner", "nobody"): True,
    ("instance", "network"): True,
    ("instance", "instance"): True,
    ("instance", "nobody"): False,
    ("network", "network"): True,
    ("network", "instance"): False,
    ("network", "nobody"): False,
}


@pytest.mark.parametrize(("viewer", "level"), sorted(MATRIX))
@pytest.mark.parametrize("field", ["job_title", "department", "site", "languages", "expertise", "bio"])
def test_visibility_matrix_for_profile_fields(viewer: profiles.Viewer, level: str, field: str) -> None:
    profile, actor = _person({field: level})
    view = profiles.profile_view(profile, actor, viewer)
    assert (field in view) is MATRIX[(viewer, level)]
    assert view["display_name"] == "Alice"


@pytest.mark.parametrize(("viewer", "level"), sorted(MATRIX))
def test_visibility_matrix_for_contact_fields(viewer: profiles.Viewer, level: str) -> None:
    profile, actor = _person({"phone": level})
    view = profiles.profile_view(profile, actor, viewer)
    assert ("phone" in view["contact"]) is MATRIX[(viewer, level)]


def test_defaults_show_work_fields_to_the_network_and_contacts_to_the_instance() -> None:
    profile, actor = _person({})
    network = profiles.profile_view(profile, actor, "network")
    instance = profiles.profile_view(profile, actor, "instance")
    assert network["job_title"] == "Engineer" and network["expertise"] == ["python"]
    assert network["contact"] == {}
    assert "visibility" not in network
    assert instance["contact"] == {"phone": "+33 1 23 45 67 89"}
    owner = profiles.profile_view(profile, actor, "owner")
    assert owner["visibility"]["phone"] == "instance" and owner["visibility"]["bio"] == "network"


def test_viewer_level() -> None:
    _, local = _person({})
    _, remote = _person({}, local=False)
    me = User(actor_id=7, is_admin=False)
    colleague = User(actor_id=8, is_admin=False)
    admin = User(actor_id=9, is_admin=True)
    assert profiles.viewer_level(me, local) == "owner"
    assert profiles.viewer_level(colleague, local) == "instance"
    assert profiles.viewer_level(admin, local) == "owner"
    assert profiles.viewer_level(colleague, remote) == "network"
    assert profiles.viewer_level(admin, remote) == "network"
    assert profiles.viewer_level(None, local) == "network"


def test_bio_is_rendered_and_sanitised() -> None:
    html = profiles.render_bio(
        "**Hi** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://a.example)"
    )
    assert "<strong>Hi</strong>" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert 'href="https://a.example"' in html


# -- updates and tags --------------------------------------------------------------------------------


async def test_update_normalises_tags_and_keeps_profile_tags_in_sync(ctx: Context) -> None:
    alice = await make_user(ctx, "alice")
    view = await update(
        ctx,
        alice,
        expertise=["  Python ", "python", "Machine   Learning", ""],
        interests=["Chess"],
        languages=["FR", "en"],
        job_title="  Data   engineer ",
    )
    assert view["expertise"] == ["python", "machine learning"]
    assert view["job_title"] == "Data engineer"
    async with ctx.sessions() as session:
        assert await list_profile_tags(session, alice.actor_id or 0) == [
            ("expertise", "machine learning"),
            ("expertise", "python"),
            ("interest", "chess"),
            ("language", "en"),
            ("language", "fr"),
        ]
    await update(ctx, alice, expertise=["Rust"])
    async with ctx.sessions() as session:
        tags = await list_profile_tags(session, alice.actor_id or 0)
    assert ("expertise", "rust") in tags and ("expertise", "python") not in tags
    assert ("interest", "chess") in tags


async def test_tag_limits(ctx: Context) -> None:
    alice = await make_user(ctx, "alice")
    with pytest.raises(ValidationFailed) as too_many:
        await update(ctx, alice, expertise=[f"t{i}" for i in range(31)])
    assert too_many.value.field == "expertise"
    with pytest.raises(ValidationFailed) as too_long:
        await update(ctx, alice, interests=["ok", "x" * 101])
    assert too_long.value.field == "interests.1"
    view = await update(ctx, alice, expertise=[f"t{i % 30}" for i in range(60)])
    assert len(view["expertise"]) == 30


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"contact": {"fax": "1"}}, "contact.fax"),
        ({"contact": {"phone": "call me"}}, "contact.phone"),
        ({"contact": {"email": "nope"}}, "contact.email"),
        ({"contact": {"office": "x" * 201}}, "contact.office"),
        ({"visibility": {"phone": "everyone"}}, "visibility.phone"),
        ({"visibility": {"salary": "nobody"}}, "visibility.salary"),
        ({"job_title": "x" * 201}, "job_title"),
        ({"is_admin": True}, "is_admin"),
        ({"avatar_id": 999}, "avatar_id"),
    ],
)
async def test_invalid_updates_name_the_field(ctx: Context, changes: dict[str, Any], field: str) -> None:
    alice = await make_user(ctx, "alice")
    with pytest.raises(ValidationFailed) as error:
        await update(ctx, alice, **changes)
    assert error.value.field == field


async def test_contact_and_visibility_are_saved(ctx: Context) -> None:
    alice = await make_user(ctx, "alice")
    view = await update(
        ctx,
        alice,
        contact={"phone": "+33 1 23 45 67 89", "email": "Alice@Corp.example", "office": ""},
        visibility={"phone": "nobody"},
    )
    assert view["contact"] == {"phone": "+33 1 23 45 67 89", "email": "alice@corp.example"}
    view = await update(ctx, alice, visibility={"bio": "instance"})
    assert view["visibility"]["phone"] == "nobody" and view["visibility"]["bio"] == "instance"


# -- the JSON API ------------------------------------------------------------------------------------


async def test_api_profile_and_person_as_others_see_it(ctx: Context, client: httpx.AsyncClient) -> None:
    alice = await make_user(ctx, "alice")
    bob = await make_user(ctx, "bob")
    headers = await bearer(ctx, alice)
    response = await client.patch(
        "/api/v1/profile",
        json={
            "display_name": "Alice Martin",
            "job_title": "Buyer",
            "site": "Lyon",
            "contact": {"mobile": "+33 6 00 00 00 00", "phone": "+33 4 00 00 00 00"},
            "visibility": {"mobile": "nobody", "site": "nobody"},
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Alice Martin"
    mine = (await client.get("/api/v1/profile", headers=headers)).json()
    assert mine["site"] == "Lyon" and mine["contact"]["mobile"] == "+33 6 00 00 00 00"
    assert (await client.get("/api/v1/me", headers=headers)).json()["display_name"] == "Alice Martin"

    seen = (await client.get("/api/v1/people/alice", headers=await bearer(ctx, bob))).json()
    assert seen["job_title"] == "Buyer"
    assert "site" not in seen
    assert seen["contact"] == {"phone": "+33 4 00 00 00 00"}
    assert "visibility" not in seen

    missing = await client.get("/api/v1/people/nobody-here", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_api_validation_names_the_nested_field(ctx: Context, client: httpx.AsyncClient) -> None:
    alice = await make_user(ctx, "alice")
    response = await client.patch(
        "/api/v1/profile", json={"visibility": {"phone": "public"}}, headers=await bearer(ctx, alice)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "visibility.phone"


async def test_api_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/profile")).status_code == 401
    assert (await client.get("/api/v1/people")).status_code == 401


# -- the directory -----------------------------------------------------------------------------------


async def _directory(ctx: Context, viewer: User, **criteria: Any) -> list[str]:
    async with ctx.sessions() as session:
        cards, _ = await profiles.search_people(session, viewer=viewer, **criteria)
    return [card["username"] for card in cards]


async def test_directory_filters(ctx: Context) -> None:
    viewer = await make_user(ctx, "viewer")
    ana = await make_user(ctx, "ana", display_name="Ana Lopez")
    ben = await make_user(ctx, "ben", display_name="Ben Okafor")
    await update(ctx, ana, expertise=["SAP"], interests=["running"], languages=["es"], department="Finance")
    await update(
        ctx, ben, expertise=["python"], interests=["Running"], languages=["en"], site="Lyon Part-Dieu"
    )
    assert await _directory(ctx, viewer, expertise="sap") == ["ana"]
    assert await _directory(ctx, viewer, interest=" RUNNING ") == ["ana", "ben"]
    assert await _directory(ctx, viewer, language="en") == ["ben"]
    assert await _directory(ctx, viewer, department="finance") == ["ana"]
    assert await _directory(ctx, viewer, site="lyon") == ["ben"]
    assert await _directory(ctx, viewer, q="okaf") == ["ben"]
    assert await _directory(ctx, viewer, q="100%") == []
    assert await _directory(ctx, viewer, expertise="python", interest="running") == ["ben"]


async def test_directory_ranks_declared_expertise_first(ctx: Context) -> None:
    viewer = await make_user(ctx, "viewer")
    aaron = await make_user(ctx, "aaron", display_name="Aaron")
    zoe = await make_user(ctx, "zoe", display_name="Zoé")
    await make_user(ctx, "kubernetes-fan", display_name="Kubernetes Fan")
    await update(ctx, aaron, job_title="Kubernetes trainee")
    await update(ctx, zoe, expertise=["Kubernetes"])
    assert await _directory(ctx, viewer, q="kubernetes") == ["zoe", "aaron", "kubernetes-fan"]


async def test_hidden_fields_never_match(ctx: Context) -> None:
    viewer = await make_user(ctx, "viewer")
    admin = await make_user(ctx, "root", admin=True)
    secret = await make_user(ctx, "secret")
    await update(
        ctx,
        secret,
        expertise=["forensics"],
        department="Security",
        job_title="Investigator",
        visibility={"expertise": "nobody", "department": "nobody", "job_title": "nobody"},
    )
    assert await _directory(ctx, viewer, expertise="forensics") == []
    assert await _directory(ctx, viewer, department="security") == []
    assert await _directory(ctx, viewer, q="investigator") == []
    assert await _directory(ctx, viewer, q="forensics") == []
    cards = await _directory(ctx, viewer)
    assert "secret" in cards
    assert await _directory(ctx, secret, expertise="forensics") == ["secret"]
    assert await _directory(ctx, admin, department="security") == ["secret"]
    await update(ctx, secret, visibility={"expertise": "instance"})
    assert await _directory(ctx, viewer, expertise="forensics") == ["secret"]


async def test_directory_cards_leave_hidden_fields_out(ctx: Context) -> None:
    viewer = await make_user(ctx, "viewer")
    secret = await make_user(ctx, "secret")
    await update(ctx, secret, job_title="Investigator", visibility={"job_title": "nobody"})
    async with ctx.sessions() as session:
        cards, _ = await profiles.search_people(session, viewer=viewer, q="secret")
    assert cards and "job_title" not in cards[0]


async def test_disabled_people_are_not_listed(ctx: Context) -> None:
    viewer = await make_user(ctx, "viewer")
    await make_user(ctx, "gone")
    async with ctx.transaction() as session:
        await accounts.disable_user(session, ctx.clock.now(), "gone")
    assert await _directory(ctx, viewer, q="gone") == []
    async with ctx.sessions() as session:
        with pytest.raises(NotFound):
            await profiles.person_profile(session, ctx.settings, viewer, "gone")


async def test_directory_pages_with_a_cursor(ctx: Context, client: httpx.AsyncClient) -> None:
    viewer = await make_user(ctx, "viewer")
    for index in range(7):
        person = await make_user(ctx, f"p{index}", display_name=f"Person {index}")
        await update(ctx, person, expertise=["go"] if index % 2 else ["java"], interests=["go"])
    headers = await bearer(ctx, viewer)
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        response = await client.get(
            "/api/v1/people", params={"q": "go", "limit": 2, "cursor": cursor}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [card["username"] for card in body["items"]]
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert seen == ["p1", "p3", "p5"]
    every: list[str] = []
    cursor = ""
    while True:
        body = (
            await client.get("/api/v1/people", params={"limit": 3, "cursor": cursor}, headers=headers)
        ).json()
        every += [card["username"] for card in body["items"]]
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert every == ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "viewer"]
    bad = await client.get("/api/v1/people", params={"cursor": "garbage!"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    bad = await client.get("/api/v1/people", params={"limit": "1000"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit"


async def test_a_directory_page_costs_a_constant_number_of_statements(ctx: Context) -> None:
    viewer = await make_user(ctx, "viewer")
    for index in range(60):
        person = await make_user(ctx, f"person{index:02}")
        await update(
            ctx, person, expertise=["excel", f"skill{index}"], interests=["cycling"], department="Sales"
        )
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(ctx.engine.sync_engine, "before_cursor_execute", count)
    try:
        costs = []
        for size in (10, 50):
            statements.clear()
            async with ctx.sessions() as session:
                cards, _ = await profiles.search_people(
                    session, viewer=viewer, q="person", expertise="excel", department="sales", limit=size
                )
            assert len(cards) == size
            assert all(card["expertise"][0] == "excel" for card in cards)
            costs.append(len(statements))
    finally:
        event.remove(ctx.engine.sync_engine, "before_cursor_execute", count)
    assert costs[0] == costs[1]
    assert costs[1] <= 2
