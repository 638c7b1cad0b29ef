"""Accepting the charter: required before posting, again after a new major version; consents apart."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.context import Context
from server.errors import ValidationFailed
from server.services import charter as service
from tests.charter.conftest import MakeContext, add_user, bearer, charter_dir_with
from tests.conftest import REPO


async def test_posting_needs_the_charter_accepted(ctx: Context) -> None:
    user = await add_user(ctx, "alice")
    async with ctx.sessions() as session:
        assert await service.acceptance_status(session, ctx.charter, user) == (False, None)
        with pytest.raises(service.CharterNotAccepted) as refused:
            await service.require_acceptance(session, ctx.charter, user)
    assert refused.value.status == 403 and refused.value.code == "charter-not-accepted"
    assert "version 2026.1" in refused.value.message and "/charter" in refused.value.message
    async with ctx.transaction() as session:
        await service.accept_charter(session, ctx.clock.now(), ctx.charter, user, "fr")
    async with ctx.sessions() as session:
        await service.require_acceptance(session, ctx.charter, user)
        assert await service.acceptance_status(session, ctx.charter, user) == (True, "2026.1")


async def test_a_new_major_version_must_be_accepted_again(make_ctx: MakeContext, tmp_path: Path) -> None:
    group = (REPO / "charter" / "group.toml").read_text(encoding="utf-8")
    before = await make_ctx()
    user = await add_user(before, "bruno")
    async with before.transaction() as session:
        await service.accept_charter(session, before.clock.now(), before.charter, user, "en")
    minor = charter_dir_with(tmp_path / "minor", "group.toml", group.replace('"2026.1"', '"2026.5"'))
    after_minor = await make_ctx(charter_dir=minor)
    async with after_minor.sessions() as session:
        await service.require_acceptance(session, after_minor.charter, user)
    major = charter_dir_with(tmp_path / "major", "group.toml", group.replace('"2026.1"', '"2027.1"'))
    after_major = await make_ctx(charter_dir=major)
    async with after_major.sessions() as session:
        assert await service.acceptance_status(session, after_major.charter, user) == (False, "2026.1")
        with pytest.raises(service.CharterNotAccepted) as refused:
            await service.require_acceptance(session, after_major.charter, user)
    assert (
        "version 2027.1" in refused.value.message and "you accepted version 2026.1" in refused.value.message
    )


async def test_acceptance_in_a_language_the_charter_lacks_is_refused(ctx: Context) -> None:
    user = await add_user(ctx, "carl")
    async with ctx.transaction() as session:
        with pytest.raises(ValidationFailed) as refused:
            await service.accept_charter(session, ctx.clock.now(), ctx.charter, user, "xx")
    assert "not 'xx'" in str(refused.value)


async def test_the_api_shows_the_charter_and_records_acceptance(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    user = await add_user(ctx, "dana", language="fr")
    headers = await bearer(ctx, user)
    anonymous = (await client.get("/api/v1/charter", params={"lang": "en"})).json()
    assert anonymous["must_accept"] is None and anonymous["articles"][0]["title"] == "Purpose and scope"
    shown = (await client.get("/api/v1/charter", headers=headers)).json()
    assert (shown["id"], shown["version"], shown["language"], shown["must_accept"]) == (
        "group",
        "2026.1",
        "fr",
        True,
    )
    assert shown["articles"][0]["title"] == "Objet et champ d'application"
    stale = await client.post("/api/v1/charter/accept", json={"version": "2025.1"}, headers=headers)
    assert stale.status_code == 409
    accepted = await client.post("/api/v1/charter/accept", json={"version": "2026.1"}, headers=headers)
    assert accepted.status_code == 201 and accepted.json()["language"] == "fr"
    again = (await client.get("/api/v1/charter", headers=headers)).json()
    assert (again["must_accept"], again["accepted_version"]) == (False, "2026.1")


async def test_consents_are_separate_records(ctx: Context, client: httpx.AsyncClient) -> None:
    user = await add_user(ctx, "erin")
    async with ctx.transaction() as session:
        first = await service.give_consent(session, ctx.clock.now(), user, "fr", "pipl-1")
        same = await service.give_consent(session, ctx.clock.now(), user, "FR", "pipl-1")
        await service.give_consent(session, ctx.clock.now(), user, "EU", "pipl-1")
        assert same.id == first.id
    async with ctx.sessions() as session:
        assert await service.consented_jurisdictions(session, user) == frozenset({"FR", "EU"})
        assert await service.acceptance_status(session, ctx.charter, user) == (False, None)
    async with ctx.transaction() as session:
        assert await service.withdraw_consent(session, ctx.clock.now(), user, "fr") is True
        assert await service.withdraw_consent(session, ctx.clock.now(), user, "fr") is False
    async with ctx.sessions() as session:
        assert await service.consented_jurisdictions(session, user) == frozenset({"EU"})
    headers = await bearer(ctx, user)
    given = await client.post(
        "/api/v1/charter/consents", json={"jurisdiction": "de", "text_version": "v2"}, headers=headers
    )
    assert given.status_code == 201 and given.json()["jurisdiction"] == "DE"
    listed = (await client.get("/api/v1/charter/consents", headers=headers)).json()["items"]
    assert [c["jurisdiction"] for c in listed] == ["DE", "EU"]
    assert (
        await client.delete("/api/v1/charter/consents?jurisdiction=DE", headers=headers)
    ).status_code == 204
    missing = await client.delete("/api/v1/charter/consents?jurisdiction=DE", headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )
    bad = await client.post(
        "/api/v1/charter/consents",
        json={"jurisdiction": "not a place", "text_version": "v2"},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "jurisdiction"
