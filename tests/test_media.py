"""Uploads: type sniffing, size limits, metadata stripping, storage, serving and permissions."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import ExifTags, Image

from server.context import Context
from server.errors import ValidationFailed
from server.services import accounts, media, permissions, profiles
from server.storage.models import User
from server.storage.social import Attachment, Post

# -- building test files ------------------------------------------------------------------------------


def jpeg_with_gps(size: tuple[int, int] = (1200, 800)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 4, size[1] // 4))  # a blue top-left corner
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # shown rotated 90° clockwise
    exif[ExifTags.Base.Make] = "PhoneCo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 3.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"secret comment")
    return out.getvalue()


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 128)).save(out, format="PNG")
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 30), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(
        out, format="GIF", save_all=True, append_images=frames[1:], duration=120, loop=0, comment=b"x"
    )
    return out.getvalue()


def office(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
PE = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 64
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 32
MOV = b"\x00\x00\x00\x14ftypqt  \x20\x05\x03\x00qt  " + b"\x00" * 32
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + b"\x00" * 32
DOCX = office({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = office({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
DOCM = office(
    {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<d/>", "word/vbaProject.bin": b"\x00"}
)
ODT = office({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office/>"})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(), "image/png"),
        (jpeg_with_gps(), "image/jpeg"),
        (animated_gif(), "image/gif"),
        (PDF, "application/pdf"),
        (MP4, "video/mp4"),
        (MOV, "video/quicktime"),
        (WEBM, "video/webm"),
        (DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (ODT, "application/vnd.oasis.opendocument.text"),
        (DOCM, "application/vnd.ms-office.vbaproject"),
        (office({"a.txt": b"hello"}), "application/zip"),
        ("Compte rendu, réunion du 5 janvier\n".encode(), "text/plain"),
        (b"<!DOCTYPE html><html><script>alert(1)</script>", "text/html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        (b"#!/bin/sh\nrm -rf /\n", "text/x-script"),
        (ELF, "application/x-executable"),
        (PE, "application/x-msdownload"),
        (b"II*\x00" + b"\x00" * 20, "image/tiff"),
        (b"\x00\x01\x02\x03binary", "application/octet-stream"),
    ],
)
def test_sniff_reads_the_bytes(data: bytes, expected: str) -> None:
    assert media.sniff(data) == expected


def test_safe_filename() -> None:
    assert media.safe_filename("../../etc/passwd", "txt") == "passwd.txt"
    assert media.safe_filename("..\\..\\boot.ini", "txt") == "boot.txt"
    assert media.safe_filename("report.final.pdf", "png") == "report.final.png"
    assert media.safe_filename("inv\u202egpj.exe", "pdf") == "invgpj.pdf"
    assert media.safe_filename('a"b;c<d>.jpg', "jpg") == "a_b;c_d_.jpg"
    assert media.safe_filename("", "pdf") == "file.pdf"
    assert media.safe_filename("...", "pdf") == "file.pdf"


# -- through the service and the API ------------------------------------------------------------------


async def make_user(ctx: Context, name: str) -> User:
    async with ctx.transaction() as session:
        return await accounts.create_user(
            session, ctx.settings, ctx.clock.now(), username=name, email=f"{name}@corp.example", password=None
        )


async def bearer(ctx: Context, user: User) -> dict[str, str]:
    async with ctx.transaction() as session:
        created = await accounts.create_api_token(session, ctx.clock.now(), user, "tests")
    return {"Authorization": f"Bearer {created.secret}"}


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    filename: str = "file.bin",
    content_type: str = "application/octet-stream",
    description: str | None = None,
) -> httpx.Response:
    fields = {"description": description} if description is not None else None
    client.cookies.clear()  # a bearer request without the session cookie that an HTML 404 page may set
    return await client.post(
        "/api/v1/media", files={"file": (filename, data, content_type)}, data=fields, headers=headers
    )


async def store(ctx: Context, user: User, data: bytes, filename: str = "f") -> Attachment:
    async with ctx.transaction() as session:
        actor, _ = await profiles.person_of(session, user)
        return await media.store_upload(
            session, ctx, ctx.clock.now(), actor, filename, "application/octet-stream", data, ""
        )


async def make_post(ctx: Context, user: User, number: int = 1) -> int:
    async with ctx.transaction() as session:
        post = Post(
            uri=f"{ctx.settings.base_url}/posts/{number}",
            author_id=user.actor_id,
            kind="post",
            local=True,
            created_at=ctx.clock.now(),
        )
        session.add(post)
        await session.flush()
        return post.id


def stored_files(ctx: Context) -> list[Path]:
    return sorted(path for path in ctx.settings.media_dir.rglob("*") if path.is_file())


async def test_jpeg_comes_back_without_exif_rotated_and_with_a_thumbnail(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as check:
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo), "the test image must carry GPS data"
    alice = await make_user(ctx, "alice")
    headers = await bearer(ctx, alice)
    response = await upload(client, headers, original, "IMG_0001.JPG", "image/jpeg", "The team")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["media_type"] == "image/jpeg"
    assert body["filename"] == "IMG_0001.jpg"
    assert body["description"] == "The team"
    assert (body["width"], body["height"]) == (800, 1200)

    served = await client.get(body["url"], headers=headers)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"].startswith("inline")
    assert b"Exif" not in served.content and b"PhoneCo" not in served.content
    assert b"secret comment" not in served.content
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.size == (800, 1200)
        assert len(image.getexif()) == 0
        assert not {"exif", "comment", "icc_profile", "xmp"} & set(image.info)
        red, _green, blue = image.convert("RGB").getpixel((790, 5))  # type: ignore[misc]
        assert blue > 150 > red  # the blue corner moved top-right

    thumbnail = await client.get(body["thumbnail_url"], headers=headers)
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/webp"
    assert thumbnail.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(thumbnail.content)) as image:
        assert image.format == "WEBP"
        assert max(image.size) == 640 and image.size == (427, 640)
        assert len(image.getexif()) == 0


async def test_animated_gif_keeps_its_frames_and_loses_its_comment(ctx: Context) -> None:
    alice = await make_user(ctx, "alice")
    attachment = await store(ctx, alice, animated_gif(), "loop.gif")
    assert attachment.path is not None
    kept = (ctx.settings.media_dir / attachment.path).read_bytes()
    with Image.open(io.BytesIO(kept)) as image:
        assert getattr(image, "n_frames", 1) == 3
        assert "comment" not in image.info


async def test_a_png_called_pdf_is_stored_as_png(ctx: Context, client: httpx.AsyncClient) -> None:
    alice = await make_user(ctx, "alice")
    response = await upload(client, await bearer(ctx, alice), png(), "report.pdf", "application/pdf")
    assert response.status_code == 201, response.text
    assert response.json()["media_type"] == "image/png"
    assert response.json()["filename"] == "report.png"
    assert response.json()["thumbnail_url"] is not None


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (ELF, "application/x-executable"),
        (PE, "application/x-msdownload"),
        (DOCM, "application/vnd.ms-office.vbaproject"),
        (b"<html><body>hi</body></html>", "text/html"),
    ],
)
async def test_refused_types_are_named(
    ctx: Context, client: httpx.AsyncClient, data: bytes, named: str
) -> None:
    alice = await make_user(ctx, "alice")
    response = await upload(client, await bearer(ctx, alice), data, "holiday.jpg", "image/jpeg")
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "file"
    assert named in error["detail"]
    assert stored_files(ctx) == []
    async with ctx.sessions() as session:
        assert await session.get(Attachment, 1) is None


async def test_size_limits_per_kind(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = await make_user(ctx, "alice")
    monkeypatch.setitem(media.SIZE_LIMITS, "document", 100)
    await store(ctx, alice, b"x" * 100, "ok.txt")
    with pytest.raises(ValidationFailed) as error:
        await store(ctx, alice, b"x" * 101, "big.txt")
    assert error.value.field == "file" and "document" in error.value.message
    monkeypatch.setitem(media.SIZE_LIMITS, "image", 50)
    with pytest.raises(ValidationFailed) as error:
        await store(ctx, alice, png(), "big.png")
    assert "image" in error.value.message
    with pytest.raises(ValidationFailed):
        await store(ctx, alice, b"", "empty.txt")


async def test_oversize_upload_through_the_api(
    ctx: Context, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await make_user(ctx, "alice")
    monkeypatch.setattr(media, "SIZE_LIMITS", {"image": 10, "video": 10, "document": 10})
    response = await upload(client, await bearer(ctx, alice), PDF, "big.pdf")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"
    assert "larger than" in response.json()["errors"][0]["detail"]


async def test_a_traversal_filename_is_harmless(ctx: Context, client: httpx.AsyncClient) -> None:
    alice = await make_user(ctx, "alice")
    headers = await bearer(ctx, alice)
    response = await upload(client, headers, b"meeting notes\n", "../../../../tmp/evil.sh", "text/plain")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == "evil.txt"
    files = stored_files(ctx)
    assert len(files) == 1
    assert files[0].resolve().is_relative_to(ctx.settings.media_dir.resolve())
    assert files[0].name == f"{body['sha256']}.txt"
    served = await client.get(body["url"], headers=headers)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/plain")
    assert served.headers["content-disposition"] == 'attachment; filename="evil.txt"'
    assert served.headers["x-content-type-options"] == "nosniff"
    sneaky = await client.get("/media/1/..%2F..%2F..%2Fetc%2Fpasswd", headers=headers)
    assert sneaky.status_code == 404 and "root:" not in sneaky.text


async def test_documents_are_served_as_attachments(ctx: Context, client: httpx.AsyncClient) -> None:
    alice = await make_user(ctx, "alice")
    headers = await bearer(ctx, alice)
    body = (await upload(client, headers, PDF, "Rapport annuel é.pdf", "application/pdf")).json()
    served = await client.get(body["url"], headers=headers)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/pdf"
    assert (
        served.headers["content-disposition"] == "attachment; filename*=utf-8''Rapport%20annuel%20%C3%A9.pdf"
    )
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.content == PDF
    assert (await client.get(f"/media/{body['id']}/thumbnail", headers=headers)).status_code == 404
    video = (await upload(client, headers, MP4, "clip.mp4", "video/mp4")).json()
    served = await client.get(video["url"], headers=headers)
    assert served.headers["content-disposition"].startswith("inline")
    assert served.headers["content-type"] == "video/mp4"


async def test_identical_uploads_share_one_file(ctx: Context) -> None:
    alice = await make_user(ctx, "alice")
    first = await store(ctx, alice, PDF, "a.pdf")
    second = await store(ctx, alice, PDF, "b.pdf")
    assert first.id != second.id and first.path == second.path
    assert len(stored_files(ctx)) == 1


async def test_others_do_not_see_my_unattached_upload(ctx: Context, client: httpx.AsyncClient) -> None:
    alice = await make_user(ctx, "alice")
    bob = await make_user(ctx, "bob")
    body = (await upload(client, await bearer(ctx, alice), PDF, "draft.pdf")).json()
    bob_headers = await bearer(ctx, bob)
    assert (await client.get(body["url"], headers=bob_headers)).status_code == 404
    assert (await client.get(f"/api/v1/media/{body['id']}", headers=bob_headers)).status_code == 404
    assert (await client.get(body["url"])).status_code == 404
    mine = await client.get(f"/api/v1/media/{body['id']}", headers=await bearer(ctx, alice))
    assert mine.status_code == 200 and mine.json()["filename"] == "draft.pdf"


async def test_an_avatar_is_visible_to_colleagues(ctx: Context, client: httpx.AsyncClient) -> None:
    alice = await make_user(ctx, "alice")
    bob = await make_user(ctx, "bob")
    alice_headers = await bearer(ctx, alice)
    image = (await upload(client, alice_headers, png(), "me.png")).json()
    document = (await upload(client, alice_headers, PDF, "cv.pdf")).json()
    bob_headers = await bearer(ctx, bob)
    assert (await client.get(image["thumbnail_url"], headers=bob_headers)).status_code == 404
    client.cookies.clear()
    refused = await client.patch("/api/v1/profile", json={"avatar_id": document["id"]}, headers=alice_headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "avatar_id"
    bobs = (await upload(client, bob_headers, png(), "bob.png")).json()
    refused = await client.patch("/api/v1/profile", json={"avatar_id": bobs["id"]}, headers=alice_headers)
    assert refused.status_code == 422
    saved = await client.patch("/api/v1/profile", json={"avatar_id": image["id"]}, headers=alice_headers)
    assert saved.status_code == 200
    assert saved.json()["avatar_url"] == image["thumbnail_url"]
    assert (await client.get(image["thumbnail_url"], headers=bob_headers)).status_code == 200
    assert (await client.get(image["thumbnail_url"])).status_code == 404


async def test_attach_to_post_only_takes_my_own_unattached_uploads(ctx: Context) -> None:
    alice = await make_user(ctx, "alice")
    bob = await make_user(ctx, "bob")
    mine = await store(ctx, alice, PDF, "mine.pdf")
    also_mine = await store(ctx, alice, png(), "mine.png")
    theirs = await store(ctx, bob, b"bob's notes", "theirs.txt")
    post_id = await make_post(ctx, alice, 1)
    other_post_id = await make_post(ctx, alice, 2)
    async with ctx.transaction() as session:
        with pytest.raises(ValidationFailed) as error:
            await media.attach_to_post(session, alice.actor_id or 0, [mine.id, theirs.id], post_id)
    assert error.value.field == "attachments" and str(theirs.id) in error.value.message
    async with ctx.transaction() as session:
        attached = await media.attach_to_post(session, alice.actor_id or 0, [mine.id, mine.id], post_id)
    assert [a.id for a in attached] == [mine.id]
    async with ctx.transaction() as session:
        with pytest.raises(ValidationFailed):
            await media.attach_to_post(session, alice.actor_id or 0, [mine.id], other_post_id)
        with pytest.raises(ValidationFailed):
            await media.attach_to_post(session, alice.actor_id or 0, [999], post_id)
    async with ctx.sessions() as session:
        assert (await session.get(Attachment, mine.id)).post_id == post_id  # type: ignore[union-attr]
        assert (await session.get(Attachment, theirs.id)).post_id is None  # type: ignore[union-attr]
        assert (await session.get(Attachment, also_mine.id)).post_id is None  # type: ignore[union-attr]


async def test_attachments_on_posts_follow_the_post_permission(
    ctx: Context, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await make_user(ctx, "alice")
    bob = await make_user(ctx, "bob")
    attachment = await store(ctx, alice, PDF, "minutes.pdf")
    post_id = await make_post(ctx, alice)
    async with ctx.transaction() as session:
        await media.attach_to_post(session, alice.actor_id or 0, [attachment.id], post_id)
    url = f"/media/{attachment.id}/minutes.pdf"
    bob_headers = await bearer(ctx, bob)
    alice_headers = await bearer(ctx, alice)

    monkeypatch.delattr(permissions, "can_view_post", raising=False)
    assert (await client.get(url, headers=bob_headers)).status_code == 404
    assert (await client.get(url, headers=alice_headers)).status_code == 200

    asked: list[tuple[str, int]] = []

    async def can_view_post(session: Any, viewer: User, post: Post) -> bool:
        asked.append((viewer.username, post.id))
        return viewer.username == "bob"

    monkeypatch.setattr(permissions, "can_view_post", can_view_post, raising=False)
    assert (await client.get(url, headers=bob_headers)).status_code == 200
    assert (await client.get(url, headers=alice_headers)).status_code == 404
    assert asked == [("bob", post_id), ("alice", post_id)]


async def test_upload_needs_a_file_and_a_user(ctx: Context, client: httpx.AsyncClient) -> None:
    assert (await upload(client, {}, PDF)).status_code == 401
    alice = await make_user(ctx, "alice")
    response = await client.post("/api/v1/media", data={"description": "x"}, headers=await bearer(ctx, alice))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"
    response = await upload(client, await bearer(ctx, alice), PDF, description="d" * 1001)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "description"
