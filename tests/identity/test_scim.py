"""Provisioning from the directory over SCIM 2.0: create, update, deactivate; groups."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from server.identity.scim_protocol import ENTERPRISE_SCHEMA, PATCH_SCHEMA, USER_SCHEMA
from server.services import accounts
from server.storage.models import User
from server.storage.social import Profile
from tests.identity.conftest import BASE_URL, Instance, Provider
from tests.identity.test_oidc import sso_sign_in

ALICE: dict[str, Any] = {
    "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
    "externalId": "a1b2c3-entra-object-id",
    "userName": "Alice.Durand@corp.example",
    "active": True,
    "name": {"givenName": "Alice", "familyName": "Durand"},
    "emails": [{"value": "alice.durand@corp.example", "type": "work", "primary": True}],
    "title": "Buyer",
    "addresses": [{"type": "work", "locality": "Paris"}],
    ENTERPRISE_SCHEMA: {"department": "Purchasing", "employeeNumber": "E-1001"},
}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


async def person(instance: Instance, username: str) -> tuple[User, Profile]:
    async with instance.ctx.sessions() as session:
        user = (await session.execute(select(User).where(User.username == username))).scalar_one()
        profile = await session.get(Profile, user.actor_id)
        assert profile is not None
        return user, profile


async def test_the_directory_creates_updates_and_deactivates_a_person(
    instance: Instance, provider: Provider
) -> None:
    scim, browser = instance.directory, instance.browser

    created = await scim.post("/scim/v2/Users", json=ALICE)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/scim+json")
    alice = created.json()
    assert created.headers["location"] == f"{BASE_URL}/scim/v2/Users/{alice['id']}"
    assert alice["userName"] == "alice.durand@corp.example" and alice["displayName"] == "Alice Durand"
    assert alice["externalId"] == ALICE["externalId"] and alice["active"] is True
    user, profile = await person(instance, "alice.durand")
    assert user.password_hash is None and user.email == "alice.durand@corp.example"
    assert (profile.job_title, profile.department, profile.site) == ("Buyer", "Purchasing", "Paris")

    again = await scim.post("/scim/v2/Users", json=ALICE)
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"
    found = await scim.get("/scim/v2/Users", params={"filter": 'userName eq "alice.durand@corp.example"'})
    assert found.json()["totalResults"] == 1 and found.json()["Resources"][0]["id"] == alice["id"]
    none = await scim.get("/scim/v2/Users", params={"filter": 'externalId eq "nobody"'})
    assert none.json()["totalResults"] == 0

    manager = (
        await scim.post(
            "/scim/v2/Users",
            json={
                "userName": "bruno@corp.example",
                "emails": [{"value": "bruno@corp.example"}],
                "displayName": "Bruno",
            },
        )
    ).json()
    updated = await scim.patch(
        f"/scim/v2/Users/{alice['id']}",
        json=patch(
            {"op": "Replace", "path": "title", "value": "Senior buyer"},
            {"op": "Replace", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Procurement"},
            {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": manager["id"]},
            {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Lille"},
        ),
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()[ENTERPRISE_SCHEMA]["manager"]["value"] == manager["id"]
    _, profile = await person(instance, "alice.durand")
    assert (profile.job_title, profile.department, profile.site) == ("Senior buyer", "Procurement", "Lille")

    replaced = await scim.put(f"/scim/v2/Users/{alice['id']}", json={**ALICE, "title": "Head of purchasing"})
    assert replaced.status_code == 200 and replaced.json()["title"] == "Head of purchasing"

    # Alice signs in with single sign-on: the provider's preferred_username is her directory userName.
    claims = {"sub": "entra-pairwise-sub", "preferred_username": "Alice.Durand@corp.example"}
    assert (
        await sso_sign_in(browser, provider, {**claims, "email": "alice.durand@corp.example"})
    ).status_code == 303
    assert (await browser.get("/api/v1/me")).json()["username"] == "alice.durand"
    async with instance.ctx.transaction() as session:
        token = (await accounts.create_api_token(session, instance.ctx.clock.now(), user, "laptop")).secret

    off = await scim.patch(
        f"/scim/v2/Users/{alice['id']}", json=patch({"op": "Replace", "path": "active", "value": "False"})
    )
    assert off.status_code == 200 and off.json()["active"] is False
    assert (await browser.get("/api/v1/me")).status_code == 401
    assert (await browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    user, _ = await person(instance, "alice.durand")
    assert user.disabled_at is not None

    on = await scim.patch(
        f"/scim/v2/Users/{alice['id']}", json=patch({"op": "replace", "value": {"active": True}})
    )
    assert on.json()["active"] is True
    assert (await browser.get("/api/v1/me")).status_code == 401  # the old session stays ended

    assert (await scim.delete(f"/scim/v2/Users/{alice['id']}")).status_code == 204
    assert (await scim.get(f"/scim/v2/Users/{alice['id']}")).status_code == 404
    user, _ = await person(instance, "alice.durand")
    assert user.disabled_at is not None  # the account and its content stay, deactivated


async def test_groups_and_their_members(instance: Instance) -> None:
    scim = instance.directory
    ids = []
    for name in ("carla", "dmitri", "eun-ji"):
        body = {"userName": name, "emails": [{"value": f"{name}@corp.example"}]}
        ids.append((await scim.post("/scim/v2/Users", json=body)).json()["id"])
    created = await scim.post(
        "/scim/v2/Groups",
        json={"displayName": "Lyon plant", "members": [{"value": ids[0]}, {"value": ids[1]}]},
    )
    assert created.status_code == 201, created.text
    group = created.json()
    assert [m["value"] for m in group["members"]] == ids[:2]
    assert (await scim.post("/scim/v2/Groups", json={"displayName": "Lyon plant"})).status_code == 409

    changed = await scim.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch(
            {"op": "add", "path": "members", "value": [{"value": ids[2]}]},
            {"op": "remove", "path": f'members[value eq "{ids[0]}"]'},
            {"op": "replace", "path": "displayName", "value": "Lyon site"},
        ),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["displayName"] == "Lyon site"
    assert sorted(m["value"] for m in changed.json()["members"]) == sorted(ids[1:])
    user = (await scim.get(f"/scim/v2/Users/{ids[2]}")).json()
    assert [g["display"] for g in user["groups"]] == ["Lyon site"]

    listed = await scim.get("/scim/v2/Groups", params={"filter": 'displayName eq "Lyon site"'})
    assert listed.json()["totalResults"] == 1
    assert (await scim.delete(f"/scim/v2/Groups/{group['id']}")).status_code == 204
    assert (await scim.get(f"/scim/v2/Groups/{group['id']}")).status_code == 404


async def test_scim_wants_the_token(instance: Instance) -> None:
    anonymous = httpx.AsyncClient(transport=instance.directory._transport, base_url=BASE_URL)
    async with anonymous:
        assert (await anonymous.get("/scim/v2/Users")).status_code == 401
        wrong = await anonymous.get("/scim/v2/Users", headers={"Authorization": "Bearer " + "x" * 51})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    bad = await instance.directory.get("/scim/v2/Users", params={"filter": 'title co "buy"'})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
    config = await instance.directory.get("/scim/v2/ServiceProviderConfig")
    assert config.json()["patch"]["supported"] is True


@pytest.mark.parametrize("instance", [{"scim_token": None}], indirect=True)
async def test_scim_is_off_without_a_token(instance: Instance) -> None:
    assert (await instance.directory.get("/scim/v2/Users")).status_code == 404
