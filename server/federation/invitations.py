"""`Invite` to a community hosted elsewhere, for a person here (Mobilizon's shape: `actor` the person
who invites, `object` the Group, `target` the invitee).

The `actor` must be the community's Group, or one of its moderators as the Group's `attributedTo`
collection lists them (fetched signed from the Group's origin, which is the `actor`'s); otherwise the
`Invite` is refused and nothing is stored. The community is mirrored here (as secret when its Group
says `discoverable: false`, so that it stays invisible to everyone here but the invitee), and the
person gets an invitation; accepting it (joining) sends a `Follow` that the host admits because of
the invitation it recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub.vocabulary import id_of, ids_of, same_origin
from server.federation.handlers import stored_actor
from server.federation.outcome import Outcome
from server.federation.reach import remote_actor
from server.services import notifications
from server.storage import communities as community_store
from server.storage import federation_graph as graph
from server.storage.social import Actor, Community, Membership

if TYPE_CHECKING:
    from server.federation.state import Federation


async def _moderator_uris(fed: Federation, group: Actor) -> set[str]:
    """Who moderates a Group, as its origin lists them (FEP-1b12 `attributedTo`)."""
    collection = id_of((group.raw or {}).get("attributedTo"))
    if collection is None or not same_origin(collection, group.uri):
        return set()
    fetched = await fed.fetcher.get_document(collection)
    if not fetched.ok or fetched.document is None:
        return set()
    items = fetched.document.get("orderedItems", fetched.document.get("items"))
    return set(ids_of(items))


async def _mirror(fed: Federation, group: Actor, secret: bool) -> Community:
    async with fed.ctx.transaction() as session:
        found = await graph.community_of_group(session, group.uri)
        if found is not None:
            if secret and found[0].visibility != "secret":
                found[0].visibility = "secret"
            return found[0]
        raw = group.raw or {}
        return await graph.add_mirror_community(
            session,
            Community(
                actor_id=group.id,
                slug=f"{group.username}@{urlsplit(group.uri).netloc}",
                name=group.display_name,
                description=group.summary,
                rules="",
                kind=str(raw.get("cercle:kind") or "interest")[:20],
                tags=[],
                visibility="secret" if secret else ("closed" if group.manually_approves else "open"),
                local=False,
                created_at=fed.ctx.clock.now(),
            ),
        )


async def handle_invite(
    fed: Federation, activity: dict[str, Any], depth: int, via: str | None = None
) -> Outcome:
    inviter_uri, group_uri = id_of(activity.get("actor")), id_of(activity.get("object"))
    invitee_uri = id_of(activity.get("target")) or next(iter(ids_of(activity.get("to"))), None)
    if inviter_uri is None or group_uri is None or invitee_uri is None:
        return Outcome("refused: Invite without actor, object or target")
    invitee = await stored_actor(fed, invitee_uri)
    if invitee is None or not invitee.local or invitee.kind != "Person":
        return Outcome("ignored: Invite of someone who is not a person here")
    if not same_origin(group_uri, inviter_uri):
        return Outcome("refused: Invite to a community of another origin")
    group = await remote_actor(fed, group_uri)
    if group is None or group.kind != "Group":
        return Outcome("refused: the invitation's community cannot be fetched")
    if inviter_uri != group.uri and inviter_uri not in await _moderator_uris(fed, group):
        return Outcome("refused: Invite from someone who does not moderate the community")
    inviter = group if inviter_uri == group.uri else await remote_actor(fed, inviter_uri)
    community = await _mirror(fed, group, secret=(group.raw or {}).get("discoverable") is False)
    return Outcome("invitation", _invite(fed, community, invitee, inviter))


def _invite(
    fed: Federation, community: Community, invitee: Actor, inviter: Actor | None
) -> Callable[[AsyncSession], Awaitable[None]]:
    now: datetime = fed.ctx.clock.now()

    async def apply(session: AsyncSession) -> None:
        if await community_store.get_membership(session, community.id, invitee.id) is not None:
            return  # already invited, asking, in, or banned: nothing changes
        await community_store.add_membership(
            session,
            Membership(
                community_id=community.id,
                actor_id=invitee.id,
                role="member",
                state="invited",
                invited_by_id=inviter.id if inviter else None,
                created_at=now,
                updated_at=now,
            ),
        )
        await notifications.notify(
            session,
            now,
            kind="invitation",
            recipients=[invitee.id],
            by_actor_id=inviter.id if inviter else None,
            community_id=community.id,
        )

    return apply
