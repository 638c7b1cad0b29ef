"""The text of attached documents is found: a real PDF, a docx and an odt built here, plain text."""

from __future__ import annotations

import io
import zipfile

from server.context import Context
from server.services import indexing, media
from server.services import search as service
from server.storage.social import Actor
from tests.search.helpers import community, person, write


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with `text` in Helvetica, offsets computed so any reader accepts it."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def docx(paragraphs: list[str]) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
            f'2006/main"><w:body>{body}</w:body></w:document>',
        )
    return out.getvalue()


def odt(text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr(
            "content.xml",
            '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
            f"<text:h>Titre</text:h><text:p>{text}</text:p></office:text></office:body></office:document-content>",
        )
    return out.getvalue()


def test_text_is_read_from_each_format() -> None:
    assert "Quarterly turbine inspection" in indexing.pdf_text(minimal_pdf("Quarterly turbine inspection"))
    assert indexing.office_text(docx(["Alpha &amp; beta", "gamma"])) == "Alpha & beta\ngamma"
    assert "Procédure d'astreinte" in indexing.office_text(odt("Procédure d'astreinte"))
    assert indexing.document_text("text/plain", b"plain notes\n") == "plain notes"
    assert indexing.pdf_text(b"%PDF-1.4 broken") == ""
    assert indexing.office_text(b"PK not a zip") == ""


async def test_attachment_text_is_found_with_its_post_and_filters(ctx: Context) -> None:
    ada, eve = await person(ctx, "ada"), await person(ctx, "eve")
    await community(ctx, ada, "plant")
    await community(ctx, ada, "board", visibility="secret")
    files = {
        "inspection.pdf": minimal_pdf("Quarterly turbine inspection checklist"),
        "minutes.docx": docx(["Minutes of the steering committee", "Decision: replace the gearbox"]),
        "secret.docx": docx(["Gearbox supplier shortlist"]),
    }
    ids = {}
    async with ctx.transaction() as session:
        actor = await session.get(Actor, ada.actor_id)
        assert actor is not None
        for name, data in files.items():
            stored = await media.store_upload(session, ctx, ctx.clock.now(), actor, name, "", data, "")
            ids[name] = stored.id
    post = await write(
        ctx,
        ada,
        "Files for the plant",
        places=["plant"],
        attachment_ids=[ids["inspection.pdf"], ids["minutes.docx"]],
    )
    await write(ctx, ada, "Board files", places=["board"], attachment_ids=[ids["secret.docx"]])

    async with ctx.sessions() as session:
        turbine = await service.search(session, ctx.settings, eve, q="turbine")
        gearbox = await service.search(session, ctx.settings, eve, q="gearbox", kind="document")
        with_files = await service.search(session, ctx.settings, eve, q="files", has_attachment="true")
    (hit,) = turbine["items"]
    assert hit["kind"] == "document" and hit["attachment"]["filename"] == "inspection.pdf"
    assert hit["thread"]["root_id"] == post.id and "<mark>turbine</mark>" in hit["snippet_html"]
    assert [i["attachment"]["filename"] for i in gearbox["items"]] == ["minutes.docx"]  # not the secret one
    assert [i["post_id"] for i in with_files["items"]] == [post.id]
