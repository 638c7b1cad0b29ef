"""Attachments of posts from other instances: fetched from their origin, checked like uploads, kept here.

When a post arrives with `attachment`s, each file is downloaded before the post is written: a GET
signed as this instance (the origin serves a file only to instances that may read its post), only
from the post's own origin (an instance cannot make us fetch, with our signature, a file of another
instance, nor one on a private address: the URL must pass the same outbound checks as every fetch),
with the fetch deadline and at most `remote_media_max_bytes`, cut off while streaming. The bytes
then go through `media.store_upload`, the very checks of a local upload (type read from the bytes,
per-kind size limits, images re-encoded without their metadata), and are served from here like
local files, under the post's access rule.

A file that cannot be had (refused URL, network error, too large, refused type) leaves a
placeholder: an attachment row without a local file, naming its origin URL. The post is never lost
for a file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from server.activitypub.vocabulary import id_of, same_origin
from server.context import Context
from server.errors import ValidationFailed
from server.services import media
from server.storage.social import Actor, Attachment

logger = logging.getLogger(__name__)

Refusal = Callable[[str], Awaitable[str | None]]
MAX_URL = 2048


@dataclass(frozen=True)
class RemoteFile:
    """One attachment of a post from a peer: its bytes, or why there are none."""

    url: str
    media_type: str
    name: str
    data: bytes | None = None
    failure: str | None = None


def _url_of(item: dict[str, Any]) -> str | None:
    value = item.get("url")
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str | dict)), None)
    if isinstance(value, dict):
        value = value.get("href")
    found = value if isinstance(value, str) else id_of(item)
    return found if found and len(found) <= MAX_URL else None


def described(note: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(url, claimed media type, name) of each attachment a note lists, at most as many as a post takes."""
    items = note.get("attachment")
    found: list[tuple[str, str, str]] = []
    for item in items if isinstance(items, list) else [items] if isinstance(items, dict) else []:
        if not isinstance(item, dict) or item.get("type") not in ("Document", "Image", "Video", "Audio"):
            continue
        url = _url_of(item)
        if url is None:
            continue
        claimed = item.get("mediaType") if isinstance(item.get("mediaType"), str) else ""
        name = item.get("name") if isinstance(item.get("name"), str) else ""
        found.append((url, str(claimed)[:100], str(name)[: media.MAX_DESCRIPTION]))
    return found[: media.MAX_ATTACHMENTS_PER_POST]


async def _download(
    ctx: Context, url: str, auth: httpx.Auth | None, limit: int
) -> tuple[bytes | None, str | None]:
    request = ctx.http.build_request("GET", url, headers={"Accept": "*/*"})
    response = await ctx.http.send(request, auth=auth or httpx.USE_CLIENT_DEFAULT, stream=True)
    try:
        if response.status_code != 200:
            return None, f"HTTP {response.status_code}"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return None, f"larger than {limit} bytes"
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                return None, f"larger than {limit} bytes"
            chunks.append(chunk)
    finally:
        await response.aclose()
    return b"".join(chunks), None


async def fetch(
    ctx: Context, note: dict[str, Any], *, origin: str, refusal: Refusal, auth: httpx.Auth | None
) -> list[RemoteFile]:
    """Download the attachments of `note`, whose id is `origin`; failures are kept with their reason."""
    files: list[RemoteFile] = []
    for url, claimed, name in described(note):
        reason = None if same_origin(url, origin) else "not at the origin of its post"
        reason = reason or await refusal(url)
        data: bytes | None = None
        if reason is None:
            try:
                async with asyncio.timeout(ctx.settings.fetch_timeout_seconds):
                    data, reason = await _download(ctx, url, auth, ctx.settings.remote_media_max_bytes)
            except TimeoutError:
                reason = "timed out"
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}"
        if reason is not None:
            logger.info("attachment %s not fetched: %s", url, reason)
        files.append(RemoteFile(url, claimed, name, data, reason))
    return files


def _placeholder(owner: Actor, post_id: int, file: RemoteFile, now: datetime) -> Attachment:
    media_type = file.media_type if file.media_type in media.ALLOWED else "application/octet-stream"
    filename = media.safe_filename(file.url.rsplit("/", 1)[-1], media.ALLOWED.get(media_type, ("", "bin"))[1])
    return Attachment(
        owner_id=owner.id,
        post_id=post_id,
        media_type=media_type,
        filename=filename,
        size=0,
        sha256="",
        description=file.name,
        remote_url=file.url,
        created_at=now,
    )


async def attach(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    owner: Actor,
    post_id: int,
    files: Sequence[RemoteFile],
) -> int:
    """Store the files fetched for a post from a peer (placeholders for the rest); returns how many."""
    stored = 0
    for file in files:
        attachment: Attachment | None = None
        if file.data is not None:
            try:
                name = file.url.rsplit("/", 1)[-1]
                attachment = await media.store_upload(
                    session, ctx, now, owner, name, file.media_type, file.data, file.name
                )
                attachment.post_id, attachment.remote_url = post_id, file.url
                stored += 1
            except ValidationFailed as refused:
                logger.info("attachment %s refused: %s", file.url, refused)
        if attachment is None:
            session.add(_placeholder(owner, post_id, file, now))
    await session.flush()
    return stored
