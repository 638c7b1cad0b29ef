"""Attachments: uploads checked by content, cleaned, stored by hash, and served behind a permission check.

An upload is never trusted for what it says it is. Its type is read from its bytes: Pillow opens
the image formats we accept, and magic numbers recognise PDF, MP4/QuickTime, WebM, office documents
(OOXML and OpenDocument are zip files, told apart by their members) and plain UTF-8 text. Anything
else is refused with its detected type named. (The magic numbers are a short hand-written table
rather than libmagic or a sniffing package: the allow-list is short, each entry needs a decision a
general sniffer does not make, such as a macro-enabled document versus a plain one, and the answer
must not change with the version of a system library.) Each kind has a size limit (`SIZE_LIMITS`, the one
place to change them). Images are decoded and re-encoded, which drops EXIF (GPS included), XMP,
ICC profiles and comments after the EXIF orientation has been applied to the pixels, and get a
WebP thumbnail of at most 640 px.

Files are stored under `settings.media_dir` at `<aa>/<bb>/<sha256>.<ext>`, named by the hash of
the stored bytes, so identical uploads share one file and no part of a path ever comes from the
client. Files are written before the row is committed: a rolled-back upload leaves an orphan
file (harmless, and found by comparing the directory with the table), never a row without a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import inspect
import io
import os
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.context import Context
from server.errors import NotFound, ValidationFailed
from server.storage import media as store
from server.storage.models import User
from server.storage.social import Actor, Attachment

MiB = 1024 * 1024
SIZE_LIMITS: dict[str, int] = {"image": 20 * MiB, "video": 200 * MiB, "document": 50 * MiB}
MAX_IMAGE_PIXELS = 50_000_000
THUMBNAIL_SIZE = 640
MAX_ATTACHMENTS_PER_POST = 20
MAX_DESCRIPTION = 1000

# media type -> (kind, extension of the stored file)
ALLOWED: dict[str, tuple[str, str]] = {
    "image/jpeg": ("image", "jpg"),
    "image/png": ("image", "png"),
    "image/gif": ("image", "gif"),
    "image/webp": ("image", "webp"),
    "video/mp4": ("video", "mp4"),
    "video/webm": ("video", "webm"),
    "video/quicktime": ("video", "mov"),
    "application/pdf": ("document", "pdf"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("document", "docx"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", "xlsx"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("document", "pptx"),
    "application/vnd.oasis.opendocument.text": ("document", "odt"),
    "application/vnd.oasis.opendocument.spreadsheet": ("document", "ods"),
    "application/vnd.oasis.opendocument.presentation": ("document", "odp"),
    "text/plain": ("document", "txt"),
}
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x7fELF", "application/x-executable"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xca\xfe\xba\xbe", "application/x-mach-binary"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"8BPS", "image/vnd.adobe.photoshop"),
    (b"\x1f\x8b", "application/gzip"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"OggS", "application/ogg"),
    (b"ID3", "audio/mpeg"),
)
_FTYP_BRANDS = {
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
}
_OOXML = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_UNSAFE_NAME_CHARS = str.maketrans(dict.fromkeys('/\\:*?"<>|', "_"))


def _text_type(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text):
        return None
    head = text.lstrip("\ufeff \t\r\n")[:1024].lower()
    if head.startswith("#!"):
        return "text/x-script"
    if head.startswith("<") and "<svg" in head:
        return "image/svg+xml"
    if head.startswith(("<!doctype html", "<html")):
        return "text/html"
    return "text/plain"


def _zip_type(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if any(name.lower().endswith("vbaproject.bin") for name in names):
                return "application/vnd.ms-office.vbaproject"
            if "mimetype" in names and archive.getinfo("mimetype").file_size <= 100:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                if declared in ALLOWED:
                    return declared
            if "[Content_Types].xml" in names:
                for member, media_type in _OOXML.items():
                    if member in names:
                        return media_type
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, RuntimeError, NotImplementedError):
        pass
    return "application/zip"


def _image_type(data: bytes) -> str | None:
    try:
        with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS)) as image:
            return IMAGE_FORMATS[str(image.format)]
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def sniff(data: bytes) -> str:
    """The media type these bytes really are, whether or not we accept it."""
    found = _image_type(data)
    if found:
        return found
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(data[8:12], "video/mp4")
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in data[:64] else "video/x-matroska"
    if data.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    if data.startswith(b"RIFF") and data[8:12] in {b"AVI ", b"WAVE"}:
        return "video/x-msvideo" if data[8:12] == b"AVI " else "audio/wav"
    text = _text_type(data)
    if data.startswith(b"MZ") and text is None:
        return "application/x-msdownload"
    return text or "application/octet-stream"


@dataclass(frozen=True)
class Prepared:
    """An accepted upload, ready to store: the bytes to keep (re-encoded for images)."""

    media_type: str
    kind: str
    extension: str
    data: bytes
    sha256: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None

    @property
    def path(self) -> str:
        return f"{self.sha256[:2]}/{self.sha256[2:4]}/{self.sha256}.{self.extension}"

    @property
    def thumbnail_path(self) -> str | None:
        if self.thumbnail is None:
            return None
        return f"{self.sha256[:2]}/{self.sha256[2:4]}/{self.sha256}-thumb.webp"


def _without_metadata(image: Image.Image) -> Image.Image:
    image.info = {k: v for k, v in image.info.items() if k in {"transparency", "duration", "loop"}}
    return image


def _thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    has_alpha = thumb.mode in {"RGBA", "LA", "PA"} or "transparency" in thumb.info
    thumb = thumb.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80)
    return out.getvalue()


def _encode(image: Image.Image, image_format: str, frames: list[Image.Image]) -> bytes:
    out = io.BytesIO()
    options: dict[str, Any] = {}
    if image_format == "JPEG":
        if image.mode not in {"RGB", "L", "CMYK"}:
            image = image.convert("RGB")
        options = {"quality": 90, "optimize": True}
    elif image_format == "WEBP":
        options = {"quality": 90}
    if len(frames) > 1:
        options |= {
            "save_all": True,
            "append_images": frames[1:],
            "duration": [frame.info.get("duration", 100) for frame in frames],
            "loop": image.info.get("loop", 0),
        }
    image.save(out, format=image_format, **options)
    return out.getvalue()


def _clean_image(data: bytes, media_type: str) -> Prepared:
    try:
        with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS)) as source:
            if source.width * source.height > MAX_IMAGE_PIXELS:
                raise ValidationFailed(
                    f"the image is too large ({source.width}×{source.height} pixels)", field="file"
                )
            image_format = str(source.format)
            if getattr(source, "is_animated", False):
                frames = [_without_metadata(frame.copy()) for frame in ImageSequence.Iterator(source)]
            else:
                frames = [_without_metadata(ImageOps.exif_transpose(source))]
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ValidationFailed("is not a valid image (it could not be decoded)", field="file") from exc
    first = frames[0]
    cleaned = _encode(first, image_format, frames)
    kind, extension = ALLOWED[media_type]
    return Prepared(
        media_type=media_type,
        kind=kind,
        extension=extension,
        data=cleaned,
        sha256=hashlib.sha256(cleaned).hexdigest(),
        width=first.width,
        height=first.height,
        thumbnail=_thumbnail(first),
    )


def _mib(size: int) -> str:
    return f"{size / MiB:g} MiB"


def prepare(data: bytes) -> Prepared:
    """Check an upload by content and size, and clean it (CPU-bound: run it in a thread)."""
    if not data:
        raise ValidationFailed("is empty", field="file")
    largest = max(SIZE_LIMITS.values())
    if len(data) > largest:
        raise ValidationFailed(f"is larger than {_mib(largest)}", field="file")
    media_type = sniff(data)
    if media_type not in ALLOWED:
        raise ValidationFailed(
            f"files of type {media_type} are not accepted; send an image (JPEG, PNG, GIF, WebP), "
            "a video (MP4, WebM, QuickTime), a PDF, an office document or plain text",
            field="file",
        )
    kind, extension = ALLOWED[media_type]
    if len(data) > SIZE_LIMITS[kind]:
        raise ValidationFailed(
            f"is larger than the {_mib(SIZE_LIMITS[kind])} allowed for a {kind}", field="file"
        )
    if kind == "image":
        return _clean_image(data, media_type)
    return Prepared(
        media_type=media_type,
        kind=kind,
        extension=extension,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def safe_filename(name: str, extension: str) -> str:
    """A display name for the file: the client's base name, cleaned, with the extension of its real type."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in {"C", "Z"} or ch == " ")
    base = base.translate(_UNSAFE_NAME_CHARS).strip(" .")
    stem = base.rsplit(".", 1)[0].strip(" .") if "." in base else base
    return f"{stem[:200] or 'file'}.{extension}"


def _write(root: Path, relative: str, data: bytes) -> None:
    target = root / relative
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write_files(root: Path, prepared: Prepared) -> None:
    _write(root, prepared.path, prepared.data)
    if prepared.thumbnail is not None and prepared.thumbnail_path is not None:
        _write(root, prepared.thumbnail_path, prepared.thumbnail)


async def store_upload(
    session: AsyncSession,
    ctx: Context,
    now: datetime,
    owner_actor: Actor,
    filename: str,
    media_type_claimed: str,
    data: bytes,
    description: str,
) -> Attachment:
    """Check, clean and store an upload for `owner_actor`; the `Attachment` is not on any post yet.

    `media_type_claimed` (what the client said) is never used to decide anything.
    """
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise ValidationFailed(f"must be at most {MAX_DESCRIPTION} characters", field="description")
    prepared = await asyncio.to_thread(prepare, data)
    await asyncio.to_thread(_write_files, ctx.settings.media_dir, prepared)
    return await store.add_attachment(
        session,
        Attachment(
            owner_id=owner_actor.id,
            media_type=prepared.media_type,
            filename=safe_filename(filename, prepared.extension),
            size=len(prepared.data),
            sha256=prepared.sha256,
            path=prepared.path,
            thumbnail_path=prepared.thumbnail_path,
            width=prepared.width,
            height=prepared.height,
            description=description,
            created_at=now,
        ),
    )


async def attach_to_post(
    session: AsyncSession, owner_actor_id: int, attachment_ids: list[int], post_id: int
) -> list[Attachment]:
    """Put the owner's own uploads on their post. Each must be theirs and not already on another post
    (attaching again to the same post is harmless). Refuses the whole list if one does not qualify."""
    wanted = list(dict.fromkeys(attachment_ids))
    if len(wanted) > MAX_ATTACHMENTS_PER_POST:
        raise ValidationFailed(f"at most {MAX_ATTACHMENTS_PER_POST} files on a post", field="attachments")
    found = {attachment.id: attachment for attachment in await store.get_attachments(session, wanted)}
    for attachment_id in wanted:
        attachment = found.get(attachment_id)
        if (
            attachment is None
            or attachment.owner_id != owner_actor_id
            or attachment.post_id not in {None, post_id}
        ):
            raise ValidationFailed(
                f"{attachment_id} is not one of your unattached uploads", field="attachments"
            )
    attached = [found[attachment_id] for attachment_id in wanted]
    for attachment in attached:
        attachment.post_id = post_id
    await session.flush()
    return attached


PERMISSIONS_MODULE = "server.services.permissions"


def _permissions_module() -> object | None:
    try:
        return importlib.import_module(PERMISSIONS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != PERMISSIONS_MODULE:
            raise
        return None


def _is_owner(viewer: User, attachment: Attachment) -> bool:
    return viewer.actor_id is not None and viewer.actor_id == attachment.owner_id


async def can_view_attachment(session: AsyncSession, viewer: User | None, attachment: Attachment) -> bool:
    """Whether `viewer` (None: not signed in) may see this attachment.

    - Not on a post: only its owner, except a profile avatar, which every signed-in person may see
      (the profile shows it beside the display name, which is never hidden).
    - On a post: exactly when the post is visible. That rule belongs to the posts service, which
      provides `server.services.permissions.can_view_post(session, viewer_user, post) -> bool` (it may
      be a coroutine function). It is looked up when called, not imported at module level, so this
      module does not depend on posts; while that function does not exist, only the owner may see it.
    """
    if viewer is None:
        return False
    if attachment.post_id is None:
        return _is_owner(viewer, attachment) or await store.is_profile_avatar(session, attachment)
    can_view_post = getattr(_permissions_module(), "can_view_post", None)
    if can_view_post is None:
        return _is_owner(viewer, attachment)
    post = await store.get_post(session, attachment.post_id)
    if post is None:
        return False
    answer = can_view_post(session, viewer, post)
    if inspect.isawaitable(answer):
        answer = await answer
    return bool(answer)


async def viewable_attachment(session: AsyncSession, viewer: User | None, attachment_id: int) -> Attachment:
    """The attachment, or NotFound when it does not exist or the viewer may not see it (same answer)."""
    attachment = await store.get_attachment(session, attachment_id)
    if attachment is None or not await can_view_attachment(session, viewer, attachment):
        raise NotFound("no such file")
    return attachment


@dataclass(frozen=True)
class ServedFile:
    path: Path
    media_type: str
    filename: str
    disposition: str  # inline | attachment


def disposition_of(media_type: str) -> str:
    return "inline" if media_type.startswith(("image/", "video/")) else "attachment"


def _local_file(settings: Settings, relative: str | None) -> Path:
    root = settings.media_dir.resolve()
    if relative is None:
        raise NotFound("this file is not stored on this instance")
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound("the file is missing from the media directory")
    return path


async def file_to_serve(
    session: AsyncSession, settings: Settings, viewer: User | None, attachment_id: int, *, thumbnail: bool
) -> ServedFile:
    attachment = await viewable_attachment(session, viewer, attachment_id)
    if thumbnail:
        if attachment.thumbnail_path is None:
            raise NotFound("this file has no thumbnail")
        stem = attachment.filename.rsplit(".", 1)[0]
        return ServedFile(
            path=_local_file(settings, attachment.thumbnail_path),
            media_type="image/webp",
            filename=f"{stem}-thumbnail.webp",
            disposition="inline",
        )
    return ServedFile(
        path=_local_file(settings, attachment.path),
        media_type=attachment.media_type,
        filename=attachment.filename,
        disposition=disposition_of(attachment.media_type),
    )


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "media_type": attachment.media_type,
        "filename": attachment.filename,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "width": attachment.width,
        "height": attachment.height,
        "description": attachment.description,
        "post_id": attachment.post_id,
        "url": f"/media/{attachment.id}/{quote(attachment.filename)}",
        "thumbnail_url": f"/media/{attachment.id}/thumbnail" if attachment.thumbnail_path else None,
        "created_at": attachment.created_at.isoformat(),
    }
