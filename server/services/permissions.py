"""Who may do what in a community: one table, one function, tested as a matrix.

A person's standing in a community is their membership role (owner, manager, moderator,
member, guest) when the membership is active, or their state otherwise (pending, invited,
banned), or nothing. `allowed(action, visibility, standing)` answers from the table below.
Services call `check()`, which raises `NotFound` when the person may not even know the
community exists (a secret community, to a non-member) and `Forbidden` otherwise, so a
secret community answers 404 everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Forbidden, NotFound
from server.storage import communities as community_store
from server.storage import posts as post_store
from server.storage.models import User
from server.storage.social import Post


class Action(StrEnum):
    SEE = "see"  # know it exists: its name, description and rules
    READ = "read"  # read its posts and comments
    LIST_MEMBERS = "list_members"
    JOIN = "join"  # become a member at once (open) or ask to (closed)
    POST = "post"
    COMMENT = "comment"
    REACT = "react"
    MODERATE = "moderate"  # pin, hide, remove posts; remove and ban members
    MANAGE = "manage"  # approve requests, invite, change roles, edit the community
    REPORT = "report"  # report a post or comment to the moderators


ROLES = ("owner", "manager", "moderator", "member", "guest")
VISIBILITIES = ("open", "closed", "secret")
STANDINGS = (*ROLES, "pending", "invited", "banned", None)

_STAFF: frozenset[str | None] = frozenset({"owner", "manager", "moderator"})
_MANAGERS: frozenset[str | None] = frozenset({"owner", "manager"})
_POSTERS: frozenset[str | None] = _STAFF | {"member"}
_PARTICIPANTS: frozenset[str | None] = _POSTERS | {"guest"}
_ANYONE: frozenset[str | None] = frozenset({*ROLES, "pending", "invited", "banned", None})

# visibility -> action -> standings allowed. `None` stands for "no membership at all".
_TABLE: dict[str, dict[Action, frozenset[str | None]]] = {
    "open": {
        Action.SEE: _ANYONE,
        Action.READ: _ANYONE,
        Action.LIST_MEMBERS: _POSTERS | {"pending", "invited", None},
        Action.JOIN: frozenset({"invited", None}),
        Action.POST: _POSTERS,
        Action.COMMENT: _PARTICIPANTS,
        Action.REACT: _PARTICIPANTS,
        Action.MODERATE: _STAFF,
        Action.MANAGE: _MANAGERS,
        Action.REPORT: _PARTICIPANTS,
    },
    "closed": {
        Action.SEE: _ANYONE,
        Action.READ: _PARTICIPANTS,
        Action.LIST_MEMBERS: _POSTERS,
        Action.JOIN: frozenset({"invited", None}),
        Action.POST: _POSTERS,
        Action.COMMENT: _PARTICIPANTS,
        Action.REACT: _PARTICIPANTS,
        Action.MODERATE: _STAFF,
        Action.MANAGE: _MANAGERS,
        Action.REPORT: _PARTICIPANTS,
    },
    "secret": {
        Action.SEE: frozenset({*ROLES, "invited"}),
        Action.READ: _PARTICIPANTS,
        Action.LIST_MEMBERS: _POSTERS,
        Action.JOIN: frozenset({"invited"}),
        Action.POST: _POSTERS,
        Action.COMMENT: _PARTICIPANTS,
        Action.REACT: _PARTICIPANTS,
        Action.MODERATE: _STAFF,
        Action.MANAGE: _MANAGERS,
        Action.REPORT: _PARTICIPANTS,
    },
}


def standing(role: str | None, state: str | None) -> str | None:
    """The single word the table uses: the role when active, else the state, else None."""
    if state is None:
        return None
    return role if state == "active" else state


def allowed(action: Action, visibility: str, who: str | None) -> bool:
    return who in _TABLE[visibility][action]


def check(action: Action, visibility: str, who: str | None, *, what: str = "community") -> None:
    if allowed(action, visibility, who):
        return
    if not allowed(Action.SEE, visibility, who):
        raise NotFound(f"no such {what}")
    if who == "banned":
        raise Forbidden("you were banned from this community", code="banned")
    raise Forbidden(_REASONS.get(action, "you may not do this in this community"))


_REASONS = {
    Action.READ: "only members can read this community; ask to join",
    Action.LIST_MEMBERS: "only members can see who is in this community",
    Action.JOIN: "you are already a member or have already asked to join",
    Action.POST: "only members can post here (guests can read and comment)",
    Action.COMMENT: "only members and guests can comment here",
    Action.REACT: "only members and guests can react here",
    Action.MODERATE: "only the community's moderators can do this",
    Action.MANAGE: "only the community's owners and managers can do this",
    Action.REPORT: "only members and guests can report content here",
}


def can_assign_role(assigner: str | None, current: str, new: str) -> bool:
    """Owners change any role; managers only below manager, and never an owner's or manager's."""
    if assigner == "owner":
        return new in ROLES
    if assigner == "manager":
        return current not in _MANAGERS and new in {"moderator", "member", "guest"}
    return False


async def readable_post_ids(session: AsyncSession, viewer_actor_id: int, posts: Sequence[Post]) -> set[int]:
    """Which of these posts (roots or comments) the viewer may read, with a fixed number of queries.

    A comment is readable when its thread's root is. A root is readable by its author; when
    held by the charter, only by its author and the moderators of its communities; on a
    profile (no community), by everyone signed in; else when the viewer may read at least one
    of the communities it is shared in.
    """
    roots = {p.id: (p.root_id or p.id) for p in posts}
    root_posts = await post_store.load_posts(session, list(set(roots.values())))
    shares = await post_store.community_ids_of_posts(session, list(root_posts))
    communities = await community_store.get_communities(session, [c for ids in shares.values() for c in ids])
    memberships = await community_store.memberships_of(session, viewer_actor_id, list(communities))

    def readable_root(root: Post) -> bool:
        if root.author_id == viewer_actor_id:
            return True
        standings = {
            cid: standing(memberships[cid].role, memberships[cid].state) if cid in memberships else None
            for cid in shares.get(root.id, [])
        }
        if root.held:
            return any(s in _STAFF for s in standings.values())
        if not standings:
            return root.on_profile
        return any(allowed(Action.READ, communities[cid].visibility, s) for cid, s in standings.items())

    readable_roots = {rid for rid, root in root_posts.items() if readable_root(root)}
    return {pid for pid, rid in roots.items() if rid in readable_roots}


async def can_view_post(session: AsyncSession, viewer: User, post: Post) -> bool:
    if viewer.actor_id is None:
        return False
    return post.id in await readable_post_ids(session, viewer.actor_id, [post])
