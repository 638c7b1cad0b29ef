"""What every community page shows above its tabs: the community, the viewer's standing, the member
count and which actions the viewer may take (the permission table decides; the header only shows)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.services.communities import CommunityAccess
from server.services.permissions import Action, allowed
from server.storage import communities as community_store

HEADER_ACTIONS = (Action.READ, Action.LIST_MEMBERS, Action.JOIN, Action.POST, Action.MODERATE, Action.MANAGE)


def abilities(found: CommunityAccess) -> dict[str, bool]:
    visibility, who = found.community.visibility, found.standing
    return {action.value: allowed(action, visibility, who) for action in HEADER_ACTIONS}


async def header_context(session: AsyncSession, found: CommunityAccess) -> dict[str, Any]:
    community = found.community
    count = (await community_store.member_counts(session, [community.id])).get(community.id, 0)
    return {
        "community": community,
        "standing": found.standing,
        "members_count": count,
        "can": abilities(found),
    }
