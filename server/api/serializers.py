"""JSON shapes of the API's objects."""

from __future__ import annotations

from typing import Any

from server.services.feeds import FeedPage, PostView
from server.storage.social import Actor, Community, Membership, Notification, Post, PostRevision


def actor_json(actor: Actor) -> dict[str, Any]:
    return {
        "username": actor.username,
        "display_name": actor.display_name,
        "domain": actor.domain,
        "local": actor.local,
        "handle": f"@{actor.username}@{actor.domain}",
        "url": actor.url or actor.uri,
    }


def community_json(
    community: Community, *, membership: Membership | None = None, member_count: int | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": community.slug,
        "name": community.name,
        "kind": community.kind,
        "visibility": community.visibility,
        "tags": community.tags,
        "description": community.description,
        "rules": community.rules,
        "local": community.local,
        "created_at": community.created_at.isoformat(),
    }
    if member_count is not None:
        data["member_count"] = member_count
    data["my_membership"] = (
        {"role": membership.role, "state": membership.state} if membership is not None else None
    )
    return data


def membership_json(membership: Membership, actor: Actor) -> dict[str, Any]:
    return {
        "id": membership.id,
        "person": actor_json(actor),
        "role": membership.role,
        "state": membership.state,
        "since": membership.created_at.isoformat(),
    }


def post_json(view: PostView) -> dict[str, Any]:
    post = view.post
    data: dict[str, Any] = {
        "id": post.id,
        "uri": post.uri,
        "kind": post.kind,
        "author": actor_json(view.author),
        "title": post.title,
        "content_html": post.content_html,
        "source": post.source,
        "on_profile": post.on_profile,
        "communities": [{"slug": c.slug, "name": c.name, "pinned": pinned} for c, pinned in view.communities],
        "parent_id": post.parent_id,
        "root_id": post.root_id,
        "created_at": post.created_at.isoformat(),
        "edited_at": post.edited_at.isoformat() if post.edited_at else None,
        "deleted": post.deleted_at is not None,
        "held": post.held,
        "comment_count": post.comment_count,
        "reactions": view.reactions,
        "my_reactions": sorted(view.my_reactions),
        "notices": [{"article": article, "text": text} for article, text in view.notices],
        "attachments": [
            {
                "id": a.id,
                "media_type": a.media_type,
                "filename": a.filename,
                "size": a.size,
                "description": a.description,
                "url": f"/media/{a.id}/{a.filename}" if a.path else a.remote_url,
                "available": a.path is not None,  # False: a file from a peer that could not be fetched
            }
            for a in view.attachments
        ],
    }
    if post.kind == "poll" and post.poll_options is not None:
        data["poll"] = {
            "options": [
                {"index": i, "text": text, "votes": view.poll_counts.get(i, 0)}
                for i, text in enumerate(post.poll_options)
            ],
            "my_vote": view.my_vote,
            "closes_at": post.poll_closes_at.isoformat() if post.poll_closes_at else None,
        }
    return data


def page_json(page: FeedPage) -> dict[str, Any]:
    return {"items": [post_json(v) for v in page.items], "next_cursor": page.next_cursor}


def revision_json(revision: PostRevision) -> dict[str, Any]:
    return {
        "title": revision.title,
        "source": revision.source,
        "content_html": revision.content_html,
        "written_at": revision.created_at.isoformat(),
    }


def notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "actor_id": notification.actor_id,
        "post_id": notification.post_id,
        "community_id": notification.community_id,
        "detail": notification.detail,
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


def plain_post_json(post: Post) -> dict[str, Any]:
    return {"id": post.id, "uri": post.uri, "kind": post.kind, "created_at": post.created_at.isoformat()}
