"""Keeping the search index in step with content, and reading the text out of attached documents.

Whoever writes content calls the matching `index_*` function in the same transaction (a post when
it is created, edited, deleted, moved or arrives from a peer; a community when it is created or
edited; a profile when it changes). Permissions are never copied into the index: the search query
joins live rows, so a stale document can only be stale text, never a leak. `reindex_all` rebuilds
everything (`cercle search reindex`).

Documents: PDF through `pypdf`; OOXML (docx, xlsx, pptx) and OpenDocument (odt, ods, odp) are zip
files of XML, read here with the standard library. Their text is taken by dropping the markup with a
regular expression rather than parsing the XML: nothing is expanded (no entities beyond the five
predefined ones, so no "billion laughs"), nothing is fetched, and text in an odd or broken file is
still found. Every archive member and the text are capped, so a zip bomb costs at most the caps.
"""

from __future__ import annotations

import asyncio
import html
import io
import logging
import re
import zipfile
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy.ext.asyncio import AsyncSession

from server.services.profiles import profile_view
from server.storage import posts as post_store
from server.storage import search as store
from server.storage.social import Actor, Attachment, Community, Post, Profile

log = logging.getLogger(__name__)

MAX_TEXT = 200_000  # characters of one document's text kept in the index
MAX_MEMBER = 20 * 1024 * 1024  # bytes read from one member of an office archive
MAX_PDF_PAGES = 500
BATCH = 1000

_PARAGRAPH_END = re.compile(
    r"</(?:w:p|a:p|text:p|text:h|si|row|table:table-row)>|<(?:w:br|w:tab|text:tab)\b[^>]*/>"
)
_CELL_END = re.compile(r"</(?:c|table:table-cell)>")
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\n\s*\n+")
_AROUND_LINES = re.compile(r" *\n *")
_OOXML_PARTS = re.compile(
    r"^(?:word/(?:document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml"
    r"|xl/sharedStrings\.xml|xl/worksheets/sheet\d+\.xml"
    r"|ppt/slides/slide\d+\.xml|ppt/notesSlides/notesSlide\d+\.xml)$"
)
_OPENDOCUMENT_PARTS = ("content.xml",)
OFFICE_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)


def _tidy(text: str) -> str:
    text = _AROUND_LINES.sub("\n", _SPACES.sub(" ", text))
    return _LINES.sub("\n", text).strip()[:MAX_TEXT]


def markup_text(markup: str, *, glue: str = " ") -> str:
    """The text of HTML or office XML: paragraph ends become new lines, tags become `glue` (nothing
    for office XML, where a word may be split across runs), entities are decoded."""
    return _tidy(html.unescape(_TAG.sub(glue, _CELL_END.sub(" ", _PARAGRAPH_END.sub("\n", markup)))))


def _natural(name: str) -> tuple[str, int]:
    digits = re.search(r"(\d+)\.xml$", name)
    return (re.sub(r"\d+\.xml$", "", name), int(digits.group(1)) if digits else 0)


def office_text(data: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        return ""
    with archive:
        names = archive.namelist()
        parts = sorted((n for n in names if _OOXML_PARTS.match(n)), key=_natural)
        parts += [n for n in _OPENDOCUMENT_PARTS if n in names]
        chunks: list[str] = []
        total = 0
        for name in parts:
            try:
                with archive.open(name) as member:
                    raw = member.read(MAX_MEMBER)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
                continue
            chunk = markup_text(raw.decode("utf-8", errors="replace"), glue="")
            chunks.append(chunk)
            total += len(chunk)
            if total >= MAX_TEXT:
                break
    return _tidy("\n".join(chunks))


def pdf_text(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        chunks: list[str] = []
        total = 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            chunk = page.extract_text() or ""
            chunks.append(chunk)
            total += len(chunk)
            if total >= MAX_TEXT:
                break
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError) as exc:
        log.info("no text from a PDF: %s", type(exc).__name__)
        return ""
    return _tidy("\n".join(chunks))


def document_text(media_type: str, data: bytes) -> str:
    """The text of an attached file; empty for images, videos and anything unreadable."""
    if media_type == "application/pdf":
        return pdf_text(data)
    if media_type in OFFICE_TYPES:
        return office_text(data)
    if media_type == "text/plain":
        return _tidy(data[: MAX_TEXT * 4].decode("utf-8", errors="replace"))
    return ""


def _read_file(media_dir: Path, relative: str) -> bytes | None:
    root = media_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path.read_bytes()


async def attachment_text(media_dir: Path, attachment: Attachment) -> str:
    if attachment.path is None or attachment.media_type.startswith(("image/", "video/")):
        return ""
    relative = attachment.path

    def read() -> str:
        data = _read_file(media_dir, relative)
        return document_text(attachment.media_type, data) if data is not None else ""

    return await asyncio.to_thread(read)


# --- documents -----------------------------------------------------------------------------------------


def post_document(post: Post, *, has_attachment: bool) -> store.SearchDocument:
    body = markup_text(post.content_html) if post.content_html else _tidy(post.source)
    if post.poll_options:
        body = "\n".join([body, *post.poll_options])
    return store.SearchDocument(
        ref=f"post:{post.id}",
        kind="comment" if post.parent_id is not None else "post",
        title=post.title,
        body=body,
        created_at=post.created_at,
        config=store.config_for(post.language, f"{post.title}\n{body}"),
        post_id=post.id,
        root_id=post.root_id or post.id,
        actor_id=post.author_id,
        has_attachment=has_attachment,
    )


def attachment_document(attachment: Attachment, post: Post, text: str) -> store.SearchDocument:
    body = "\n".join(part for part in (attachment.description, text) if part)
    return store.SearchDocument(
        ref=f"attachment:{attachment.id}",
        kind="document",
        title=attachment.filename,
        body=body,
        created_at=attachment.created_at,
        config=store.config_for(post.language, body),
        post_id=post.id,
        root_id=post.root_id or post.id,
        actor_id=post.author_id,
        attachment_id=attachment.id,
        has_attachment=True,
    )


def community_document(community: Community) -> store.SearchDocument:
    body = "\n".join(
        part for part in (community.description, " ".join(community.tags or []), community.rules) if part
    )
    return store.SearchDocument(
        ref=f"community:{community.id}",
        kind="community",
        title=community.name,
        body=body,
        created_at=community.created_at,
        config=store.config_for(None, f"{community.name}\n{body}"),
        community_id=community.id,
    )


def profile_documents(actor: Actor, profile: Profile) -> list[store.SearchDocument]:
    """A person as a signed-in colleague sees them (fields they hid are never indexed), and their
    declared expertise alone, which the "who knows about X" ranking matches on."""
    view = profile_view(profile, actor, "instance" if actor.local else "network")
    expertise = list(view.get("expertise", []))
    fields = [
        view.get("job_title", ""),
        view.get("department", ""),
        view.get("site", ""),
        ", ".join(expertise),
        ", ".join(view.get("interests", [])),
        view.get("bio", ""),
    ]
    body = "\n".join(part for part in fields if part)
    config = store.config_for(None, body)
    person = store.SearchDocument(
        ref=f"person:{actor.id}",
        kind="person",
        title=f"{actor.display_name} {actor.username}",
        body=body,
        created_at=actor.created_at,
        config=config,
        actor_id=actor.id,
    )
    skills = store.SearchDocument(
        ref=f"expertise:{actor.id}",
        kind="expertise",
        title="",
        body=". ".join(expertise),
        created_at=actor.created_at,
        config=config,
        actor_id=actor.id,
    )
    return [person, skills] if expertise else [person]


# --- what writers call ---------------------------------------------------------------------------------


async def index_post(session: AsyncSession, post: Post, *, media_dir: Path | None = None) -> None:
    """(Re)index a post, comment or poll; a deleted one leaves the index. With `media_dir`, its
    attachments' text is (re)read too."""
    await session.flush()
    if post.deleted_at is not None:
        await store.delete_post_documents(session, post.id)
        return
    files = (await post_store.attachments_of(session, [post.id]))[post.id]
    await store.upsert_documents(session, [post_document(post, has_attachment=bool(files))])
    if media_dir is not None:
        for attachment in files:
            await index_attachment(session, media_dir, attachment, post=post)


async def index_attachment(
    session: AsyncSession, media_dir: Path, attachment: Attachment, *, post: Post | None = None
) -> None:
    """Index the text of a file on a post (its description, and the document's own text)."""
    if attachment.post_id is None:
        return
    if post is None:
        post = await session.get(Post, attachment.post_id)
    if post is None or post.deleted_at is not None:
        return
    text = await attachment_text(media_dir, attachment)
    await store.upsert_documents(session, [attachment_document(attachment, post, text)])


async def index_community(session: AsyncSession, community: Community) -> None:
    await session.flush()
    await store.upsert_documents(session, [community_document(community)])


async def index_profile(session: AsyncSession, actor: Actor, profile: Profile) -> None:
    """(Re)index a person after any profile change (visibility included)."""
    await store.delete_documents(session, [f"person:{actor.id}", f"expertise:{actor.id}"])
    if actor.deleted_at is None:
        await store.upsert_documents(session, profile_documents(actor, profile))


async def reindex_all(session: AsyncSession, media_dir: Path | None = None) -> dict[str, int]:
    """Rebuild the whole index; returns the number of documents of each kind."""
    await store.delete_all_documents(session)
    last = 0
    while True:
        posts = await store.live_posts_after(session, last, BATCH)
        if not posts:
            break
        last = posts[-1].id
        files = await post_store.attachments_of(session, [p.id for p in posts])
        batch = [post_document(p, has_attachment=bool(files[p.id])) for p in posts]
        for post in posts:
            for attachment in files.get(post.id, []):
                text = await attachment_text(media_dir, attachment) if media_dir is not None else ""
                batch.append(attachment_document(attachment, post, text))
        await store.upsert_documents(session, batch)
        session.expunge_all()
    communities = await store.all_communities(session)
    await store.upsert_documents(session, [community_document(c) for c in communities])
    batch = []
    for actor, profile in await store.people_with_profiles(session):
        batch.extend(profile_documents(actor, profile))
        if len(batch) >= BATCH:
            await store.upsert_documents(session, batch)
            batch = []
    await store.upsert_documents(session, batch)
    return await store.count_documents(session)
