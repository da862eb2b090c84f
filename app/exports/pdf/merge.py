"""Assembling the parts with pikepdf: the list (chunks, once per export), then each file (front,
list, closing page), with the running footer and continuous page numbers stamped on every page.

Stamping at merge time keeps chunks free of anything that depends on the recipient or on their
place in the document, so the same chunk serves every file and every later export.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import pikepdf
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from app.exports.pdf.documents import is_rtl
from app.exports.pdf.render import number

STAMP_FONT = "UndersignedStamp"
# Where the page number sits: right-aligned to the text block, on the footer's line.
RIGHT_MARGIN_PT = 22 * 72 / 25.4
BASELINE_PT = 12 * 72 / 25.4 + 2.3
STAMP_SIZE = 7.5
STAMP_GRAY = 0.27
FOOTER_FORM = "/UndersignedFooter"
_TF = pikepdf.Operator("Tf")
_TJ = pikepdf.Operator("Tj")


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    title: str
    author: str
    subject: str
    language: str
    created_at: datetime
    creator: str
    list_heading: str = "Signatories"
    closing_heading: str = "Verification"


def assemble_list(chunk_paths: Sequence[Path], target: Path) -> int:
    """Concatenate the chunks (unnumbered) into one file; its page count."""
    out = pikepdf.new()
    for path in chunk_paths:
        with pikepdf.open(path) as chunk:
            out.pages.extend(chunk.pages)
    pages = len(out.pages)
    tmp = target.with_suffix(".part")
    out.save(tmp)
    out.close()
    tmp.replace(target)
    return pages


# The numbers' font, embedded like every font of the file (Debian paths; see the README).
STAMP_FONT_FILES = (
    Path("/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
)


@lru_cache(maxsize=1)
def _stamp_font() -> str:
    for path in STAMP_FONT_FILES:
        if path.exists():
            pdfmetrics.registerFont(TTFont(STAMP_FONT, str(path)))
            return STAMP_FONT
    raise FileNotFoundError(
        "no font for page numbers: install fonts-noto-core or fonts-dejavu-core"
    )


PAGE_LABELS = {
    "en": "Page {page} of {pages}",
    "de": "Seite {page} von {pages}",
    "fr": "Page {page} sur {pages}",
    "es": "Página {page} de {pages}",
    "it": "Pagina {page} di {pages}",
    "pt": "Página {page} de {pages}",
    "nl": "Pagina {page} van {pages}",
    "pl": "Strona {page} z {pages}",
    "ru": "Страница {page} из {pages}",
    "uk": "Сторінка {page} з {pages}",
    "be": "Старонка {page} з {pages}",
    "el": "Σελίδα {page} από {pages}",
}


def page_label(page: int, pages: int, language: str) -> str:
    """ "Page 3 of 1,204" in the recipient's language where we know the words; digits alone
    for the others (a right-to-left label would need shaping the stamp does not do)."""
    base = language.split("-")[0].split("_")[0].lower()
    if is_rtl(language) or base not in PAGE_LABELS:
        template = "{page} / {pages}" if is_rtl(language) else PAGE_LABELS["en"]
    else:
        template = PAGE_LABELS[base]
    return template.format(page=number(page, language), pages=number(pages, language))


@dataclass(frozen=True, slots=True)
class _Glyphs:
    """The stamp's characters as one embedded font writes them: each character's font (a
    resource name; more than one when the font needs several subsets) and its code."""

    fonts: dict[str, pikepdf.Object]
    codes: dict[str, tuple[str, bytes]]
    widths: dict[str, float]


def _glyphs(out: pikepdf.Pdf, characters: str) -> _Glyphs:
    """ReportLab embeds the font (a subset, with widths and a ToUnicode map, so the numbers
    can be searched and extracted); its page tells us each character's code, read back from
    the content it wrote rather than assumed."""
    font = _stamp_font()
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer, pagesize=A4, pageCompression=0, invariant=1)
    for character in characters:
        drawing.setFont(font, STAMP_SIZE)
        drawing.drawString(0, 0, character)
    drawing.showPage()
    drawing.save()
    codes: dict[str, tuple[str, bytes]] = {}
    fonts: dict[str, pikepdf.Object] = {}
    ours: dict[str, str] = {}  # ReportLab's resource name -> ours
    with pikepdf.open(io.BytesIO(buffer.getvalue())) as source:
        page = source.pages[0]
        shown = iter(characters)
        current = ""
        for instruction in pikepdf.parse_content_stream(page):
            if instruction.operator == _TF:
                current = str(instruction.operands[0])
            elif instruction.operator == _TJ:
                if current not in ours:
                    ours[current] = f"/UndersignedStamp{len(ours)}"
                    fonts[ours[current]] = out.copy_foreign(page.Resources.Font[current])
                codes[next(shown)] = (ours[current], bytes(instruction.operands[0]))
    return _Glyphs(
        fonts=fonts,
        codes=codes,
        widths={ch: pdfmetrics.stringWidth(ch, font, STAMP_SIZE) for ch in characters},
    )


def _number_content(label: str, glyphs: _Glyphs, right: float) -> bytes:
    """Text operators writing ``label`` right-aligned at ``right`` on the footer's line."""
    x = right - sum(glyphs.widths[character] for character in label)
    parts = [f"{STAMP_GRAY} g BT {x:.2f} {BASELINE_PT:.2f} Td".encode()]
    font = ""
    for character in label:
        name, code = glyphs.codes[character]
        if name != font:
            parts.append(f"{name} {STAMP_SIZE} Tf".encode())
            font = name
        parts.append(b"<" + code.hex().encode() + b"> Tj")
    parts.append(b"ET")
    return b" ".join(parts)


def stamp_pages(out: pikepdf.Pdf, footer_form: pikepdf.Object, language: str) -> None:
    """On every page: the footer (one form shared by all) and "Page N of M". Written as a
    few operators per page with one shared font, not as a page of another PDF laid over each
    page: at a million signatures (some 3,800 pages) this is most of a re-export's merge."""
    pages = len(out.pages)
    labels = [page_label(number, pages, language) for number in range(1, pages + 1)]
    characters = set("".join(labels))
    covered = pdfmetrics.getFont(_stamp_font()).face.charToGlyph
    if any(ord(character) not in covered for character in characters):
        # A language whose numbers use a sign the font lacks (the Arabic comma, say): plain
        # digits rather than an invisible gap in "1،234".
        labels = [f"{number} / {pages}" for number in range(1, pages + 1)]
        characters = set("".join(labels))
    glyphs = _glyphs(out, "".join(sorted(characters)))
    footer_box = [float(value) for value in footer_form.BBox]
    for page, label in zip(out.pages, labels, strict=True):
        area = [float(value) for value in page.mediabox]
        for name, font in glyphs.fonts.items():
            page.add_resource(font, pikepdf.Name.Font, pikepdf.Name(name))
        page.contents_add(b"q\n", prepend=True)
        if area == footer_box:
            page.add_resource(footer_form, pikepdf.Name.XObject, pikepdf.Name(FOOTER_FORM))
            drawn = b"Q\nq " + FOOTER_FORM.encode() + b" Do Q\n"
        else:  # a page of another size: fitted to it by pikepdf
            page.contents_add(b"Q\n")
            page.add_overlay(footer_form, pikepdf.Rectangle(*area), push_stack=False)
            drawn = b""
        text = _number_content(label, glyphs, area[2] - RIGHT_MARGIN_PT)
        page.contents_add(pikepdf.Stream(out, drawn + text + b"\n"))


def build_file(
    *, front: bytes, list_path: Path | None, back: bytes, footer: bytes, info: DocumentInfo
) -> tuple[bytes, int]:
    """The recipient's file: front, list, closing page; footer and numbers on every page."""
    out = pikepdf.open(list_path) if list_path is not None else pikepdf.new()
    list_pages = len(out.pages)
    with pikepdf.open(io.BytesIO(front)) as front_pdf, pikepdf.open(io.BytesIO(back)) as back_pdf:
        for index, page in enumerate(front_pdf.pages):
            out.pages.insert(index, page)
        out.pages.extend(back_pdf.pages)
        front_pages = len(front_pdf.pages)
    total = len(out.pages)
    with out.open_outline() as outline:  # bookmarks: the letter, the list, the closing page
        outline.root.append(pikepdf.OutlineItem(info.title, 0))
        if list_pages:
            outline.root.append(pikepdf.OutlineItem(info.list_heading, front_pages))
        outline.root.append(pikepdf.OutlineItem(info.closing_heading, front_pages + list_pages))
    with pikepdf.open(io.BytesIO(footer)) as footer_pdf:
        # One footer object shared by every page (a copy per page would bloat the file).
        footer_form = out.copy_foreign(footer_pdf.pages[0].as_form_xobject())
    stamp_pages(out, footer_form, info.language)
    _describe(out, info)
    buffer = io.BytesIO()
    out.save(buffer, deterministic_id=False)
    out.close()
    return buffer.getvalue(), total


def _describe(out: pikepdf.Pdf, info: DocumentInfo) -> None:
    when = info.created_at.strftime("D:%Y%m%d%H%M%SZ")
    out.docinfo[pikepdf.Name.Title] = info.title
    out.docinfo[pikepdf.Name.Author] = info.author
    out.docinfo[pikepdf.Name.Subject] = info.subject
    out.docinfo[pikepdf.Name.Creator] = info.creator
    out.docinfo[pikepdf.Name.Producer] = "WeasyPrint, pikepdf"
    out.docinfo[pikepdf.Name.CreationDate] = when
    out.docinfo[pikepdf.Name.ModDate] = when
    out.Root.Lang = pikepdf.String(info.language)
    out.Root.ViewerPreferences = pikepdf.Dictionary(DisplayDocTitle=True)
