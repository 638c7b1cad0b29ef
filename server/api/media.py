"""Uploads (`POST /api/v1/media`), their metadata, and the files themselves under `/media/`."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from server.context import Context
from server.errors import ValidationFailed
from server.federation import activities
from server.federation.authentication import has_signature
from server.services import media, profiles
from server.web.auth import current_user, require_user

FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=3600",
}


async def upload(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    async with request.form(max_files=1, max_fields=5) as form:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise ValidationFailed("is required: send the file as multipart/form-data", field="file")
        description = form.get("description")
        data = await file.read(max(media.SIZE_LIMITS.values()) + 1)
        async with ctx.transaction() as session:
            actor, _ = await profiles.person_of(session, user)
            attachment = await media.store_upload(
                session,
                ctx,
                ctx.clock.now(),
                actor,
                file.filename or "",
                file.content_type or "",
                data,
                description if isinstance(description, str) else "",
            )
            body = media.attachment_json(attachment)
    return JSONResponse(body, status_code=201)


async def metadata(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    user = await require_user(request)
    async with ctx.sessions() as session:
        attachment = await media.viewable_attachment(session, user, request.path_params["attachment_id"])
        return JSONResponse(media.attachment_json(attachment))


async def _serve(request: Request, *, thumbnail: bool) -> Response:
    ctx: Context = request.app.state.ctx
    viewer = await current_user(request)
    if viewer is None and has_signature(request.headers):
        attachment_id = request.path_params["attachment_id"]
        return await activities.file_for_peer(request, attachment_id, thumbnail=thumbnail)
    async with ctx.sessions() as session:
        served = await media.file_to_serve(
            session, ctx.settings, viewer, request.path_params["attachment_id"], thumbnail=thumbnail
        )
    return FileResponse(
        served.path,
        media_type=served.media_type,
        filename=served.filename,
        content_disposition_type=served.disposition,
        headers=FILE_HEADERS,
    )


async def serve_thumbnail(request: Request) -> Response:
    return await _serve(request, thumbnail=True)


async def serve_file(request: Request) -> Response:
    return await _serve(request, thumbnail=False)


routes: list[BaseRoute] = [
    Route("/api/v1/media", upload, methods=["POST"]),
    Route("/api/v1/media/{attachment_id:int}", metadata),
    Route("/media/{attachment_id:int}/thumbnail", serve_thumbnail),
    Route("/media/{attachment_id:int}/{name}", serve_file),
]
