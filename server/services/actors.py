"""Local actors: the ActivityPub identity of every local person and community, and their keys.

URLs: people `/users/<name>`, communities `/c/<slug>`, the instance `/actor`. Key pairs are made
on first use (an RSA-2048 pair costs tens of milliseconds, and most seeded accounts never sign).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub import keys
from server.config import Settings
from server.context import Context
from server.storage import federation as federation_store
from server.storage.social import Actor, ActorKey, Profile

PERSON, GROUP, APPLICATION = "Person", "Group", "Application"


def person_uri(settings: Settings, username: str) -> str:
    return f"{settings.base_url}/users/{username}"


def group_uri(settings: Settings, slug: str) -> str:
    return f"{settings.base_url}/c/{slug}"


def instance_actor_uri(settings: Settings) -> str:
    return f"{settings.base_url}/actor"


def _local_actor(
    settings: Settings, now: datetime, *, kind: str, uri: str, username: str, name: str
) -> Actor:
    return Actor(
        uri=uri,
        kind=kind,
        local=True,
        domain=settings.domain,
        username=username,
        display_name=name,
        summary="",
        url=uri,
        inbox_url=f"{uri}/inbox",
        outbox_url=f"{uri}/outbox",
        shared_inbox_url=f"{settings.base_url}/inbox",
        followers_url=f"{uri}/followers",
        manually_approves=False,
        created_at=now,
    )


async def create_local_person(
    session: AsyncSession, settings: Settings, now: datetime, *, username: str, display_name: str
) -> Actor:
    actor = _local_actor(
        settings, now, kind=PERSON, uri=person_uri(settings, username), username=username, name=display_name
    )
    session.add(actor)
    await session.flush()
    session.add(Profile(actor_id=actor.id, updated_at=now))
    return actor


async def create_local_group(
    session: AsyncSession, settings: Settings, now: datetime, *, slug: str, name: str, manually_approves: bool
) -> Actor:
    actor = _local_actor(settings, now, kind=GROUP, uri=group_uri(settings, slug), username=slug, name=name)
    actor.manually_approves = manually_approves
    session.add(actor)
    await session.flush()
    return actor


async def get_or_create_instance_actor(session: AsyncSession, settings: Settings, now: datetime) -> Actor:
    uri = instance_actor_uri(settings)
    found = await federation_store.get_actor_by_uri(session, uri)
    if found is not None:
        return found
    actor = _local_actor(
        settings, now, kind=APPLICATION, uri=uri, username=settings.domain, name=settings.domain
    )
    actor.manually_approves = True
    session.add(actor)
    await session.flush()
    return actor


@dataclass(frozen=True)
class KeySet:
    by_algorithm: dict[str, ActorKey]
    created: list[str]


async def ensure_actor_keys(session: AsyncSession, actor: Actor, now: datetime) -> KeySet:
    """The actor's key pairs by algorithm ('rsa', 'ed25519'), creating the missing ones."""
    rows = await federation_store.list_actor_keys(session, actor.id)
    found = {row.algorithm: row for row in rows}
    created: list[str] = []
    makers: dict[str, tuple[str, Callable[[], keys.PrivateKey]]] = {
        "rsa": ("main-key", keys.generate_rsa_key),
        "ed25519": ("ed25519-key", keys.generate_ed25519_key),
    }
    for algorithm, (fragment, make) in makers.items():
        if algorithm in found:
            continue
        private = make()
        row = ActorKey(
            actor_id=actor.id,
            key_id=f"{actor.uri}#{fragment}",
            algorithm=algorithm,
            public_pem=keys.public_key_to_pem(private.public_key()),
            private_pem=keys.private_key_to_pem(private),
            created_at=now,
        )
        session.add(row)
        found[algorithm] = row
        created.append(algorithm)
    await session.flush()
    return KeySet(by_algorithm=found, created=created)


async def stored_keys(ctx: Context, actor_id: int) -> dict[str, ActorKey]:
    """A local actor's key pairs by algorithm, made on first use, in a transaction of their own.

    Two requests may make an actor's first keys at the same moment (two peers fetching its document,
    two workers signing for it): the one whose insert meets the other's key id (unique) fails, and
    reads the keys the other stored instead."""
    for attempt in range(2):
        try:
            async with ctx.transaction() as session:
                actor = await session.get(Actor, actor_id)
                if actor is None or not actor.local:
                    raise LookupError(f"actor {actor_id} has no keys here: not local")
                return (await ensure_actor_keys(session, actor, ctx.clock.now())).by_algorithm
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")
