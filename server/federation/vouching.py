"""Trusting the Group's Announce: an activity of a third instance, relayed by the Group of a closed or
secret community hosted elsewhere (FEP-1b12).

When Munich's Alice posts in a closed community hosted on Paris, Paris's Group announces her `Create`,
unchanged, to every member instance. Lyon checks an embedded activity of another origin than the Group by
fetching it from that origin; but Munich serves it only to instances that may read it, and Munich does not
know that Lyon has members in a community hosted on Paris: the fetch answers 404. So, as Lemmy does, the
Group's signed `Announce` vouches for the activity it embeds, when all of these hold:

1. the announcing actor is the `Group` of a closed or secret community hosted on its own instance (not
   here), in which a person of this instance is an accepted member (we follow that Group);
2. the embedded activity is one a member makes in a community (`Create`, `Update` or `Delete` of a post,
   `Like`, `EmojiReact`, or `Undo` of one of those); its id and its actor (for `Create` and `Update`, its
   object's id too; for `Undo`, the reaction's id) share one origin;
3. it is addressed to that Group (`audience`, `to` or `cc`; for `Create` and `Update`, its object too);
4. it concerns that community's content: the thread of a reply, or the post edited, deleted or reacted to,
   is known here in that community.

Anything else is fetched from its origin as before; so are activities of open communities, whose origin
serves every peer, so that the stronger check costs nothing there. The handlers then apply their usual
checks to what is vouched for: who may change a post, addressing against the community's visibility, the
receiving charter's ingress rules, deduplication by id.

What stays trusted: the Group's host could forge, in its own community, an activity of a person of a third
instance (it cannot pass off one of its own people under another origin's id, nor speak for another
community). It already decides what its community shows, so this adds little to the trust its members
place in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub.vocabulary import id_of, ids_of, same_origin
from server.services.actors import GROUP
from server.storage import federation_graph as graph
from server.storage import posts as post_store

if TYPE_CHECKING:
    from server.federation.state import Federation

VOUCHED_TYPES = frozenset({"Create", "Update", "Delete", "Like", "EmojiReact", "Undo"})
REACTION_TYPES = frozenset({"Like", "EmojiReact"})


def _kind(document: dict[str, Any]) -> str | None:
    kind = document.get("type")
    return kind if isinstance(kind, str) else None


def _addressed_to(document: dict[str, Any], group_uri: str) -> bool:
    audience = [id_of(document.get("audience")), *ids_of(document.get("to")), *ids_of(document.get("cc"))]
    return group_uri in audience


def _of_one_origin(inner: dict[str, Any], group_uri: str) -> bool:
    """Conditions 2 and 3: the type, one origin for the ids and the actor, the Group addressed."""
    kind, inner_id, actor = _kind(inner), id_of(inner), inner.get("actor")
    if kind not in VOUCHED_TYPES or inner_id is None or not isinstance(actor, str):
        return False
    if not same_origin(inner_id, actor) or not _addressed_to(inner, group_uri):
        return False
    obj = inner.get("object")
    if kind in ("Create", "Update"):
        return (
            isinstance(obj, dict) and same_origin(id_of(obj) or "", actor) and _addressed_to(obj, group_uri)
        )
    if kind == "Undo":
        return (
            isinstance(obj, dict)
            and _kind(obj) in REACTION_TYPES
            and id_of(obj.get("actor")) == actor
            and same_origin(id_of(obj) or "", actor)
        )
    return id_of(obj) is not None


def _post_concerned(inner: dict[str, Any]) -> str | None:
    """The post known here that the activity is about: a reply's parent, the post edited, deleted or
    reacted to; None for a new root post."""
    obj = inner.get("object")
    if _kind(inner) == "Create":
        return id_of(obj.get("inReplyTo")) if isinstance(obj, dict) else None
    if _kind(inner) == "Undo":
        return id_of(obj.get("object")) if isinstance(obj, dict) else None
    return id_of(obj)


async def _in_community(session: AsyncSession, post_uri: str | None, community_id: int) -> bool:
    if post_uri is None:
        return True  # a new post: its addressing to the Group was checked
    post = await post_store.get_post_by_uri(session, post_uri)
    if post is None:
        return False
    places = await graph.communities_of_post(session, post.root_id or post.id)
    return any(community.id == community_id for community, _ in places)


async def vouches_for(fed: Federation, group_uri: str, inner: dict[str, Any]) -> bool:
    """Whether the Announce signed by `group_uri` vouches for the activity it embeds, taken as embedded
    without a fetch from its origin (see the module's docstring for the conditions)."""
    if not _of_one_origin(inner, group_uri):
        return False
    async with fed.ctx.sessions() as session:
        found = await graph.community_of_group(session, group_uri)
        if found is None:
            return False
        community, group = found
        if community.local or group.kind != GROUP or community.visibility == "open":
            return False
        if not await graph.has_local_member(session, community.id):
            return False
        return await _in_community(session, _post_concerned(inner), community.id)
