"""The footer and page numbers stamped at merge time: in the recipient's language, extractable
text in an embedded font, on pages of any size, with the page's own drawing left intact."""

from __future__ import annotations

import io

import pikepdf
import pytest
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4, A5  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from app.exports.pdf import merge


def pdf_with_pages(*sizes: tuple[float, float], text: str = "") -> bytes:
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer)
    for number, size in enumerate(sizes, start=1):
        drawing.setPageSize(size)
        drawing.translate(30, 30)  # left unbalanced on purpose: the stamp must not move
        drawing.drawString(50, 400, f"{text} body {number}")
        drawing.showPage()
    drawing.save()
    return buffer.getvalue()


def stamp_and_read(out: pikepdf.Pdf, language: str) -> PdfReader:
    """Stamp every page of ``out`` (footer "Footer line", numbers), then read it back."""
    with pikepdf.open(io.BytesIO(pdf_with_pages(A4, text="Footer line"))) as footer:
        form = out.copy_foreign(footer.pages[0].as_form_xobject())
    merge.stamp_pages(out, form, language)
    buffer = io.BytesIO()
    out.save(buffer)
    return PdfReader(buffer)


def stamped(language: str, *sizes: tuple[float, float]) -> list[str]:
    reader = stamp_and_read(pikepdf.open(io.BytesIO(pdf_with_pages(*sizes))), language)
    for page in reader.pages:  # every font on the page is embedded, the stamp's included
        fonts = page["/Resources"]["/Font"]
        for name in fonts:
            descriptor = fonts[name].get_object()
            if descriptor.get("/Subtype") == "/Type0":
                descriptor = descriptor["/DescendantFonts"][0].get_object()
            if name.startswith("/UndersignedStamp"):
                assert "/FontFile2" in descriptor["/FontDescriptor"]
    return [page.extract_text() for page in reader.pages]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Page {page} of {pages}"),
        ("ru", "Страница {page} из {pages}"),
        ("el", "Σελίδα {page} από {pages}"),
        ("ar", "{page} / {pages}"),
        ("xx", "Page {page} of {pages}"),
    ],
)
def test_every_page_is_numbered_in_the_recipient_s_language(language: str, expected: str) -> None:
    pages = stamped(language, A4, A4, A4)
    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert expected.format(page=number, pages=3) in text
        assert f"body {number}" in text and "Footer line" in text


def blank_pages_stamped(count: int, language: str) -> PdfReader:
    out = pikepdf.new()
    for _ in range(count):
        out.add_blank_page(page_size=A4)
    return stamp_and_read(out, language)


def test_numbers_past_a_thousand_keep_their_separators() -> None:
    assert merge.page_label(1204, 1204, "en") == "Page 1,204 of 1,204"
    reader = blank_pages_stamped(1002, "en")
    assert "Page 1,001 of 1,002" in reader.pages[1000].extract_text()
    assert "Page 7 of 1,002" in reader.pages[6].extract_text()


def test_a_page_of_another_size_gets_the_footer_fitted_and_its_number() -> None:
    pages = stamped("en", A4, A5, A4)
    assert "Page 2 of 3" in pages[1] and "Footer line" in pages[1] and "body 2" in pages[1]


def test_the_stamp_sits_at_the_same_place_whatever_the_page_left_in_its_state() -> None:
    """The page's content translates and never restores; the stamp is drawn after it is
    closed off, so the number lands where it would on a clean page."""
    out = pikepdf.open(io.BytesIO(pdf_with_pages(A4)))
    with pikepdf.open(io.BytesIO(pdf_with_pages(A4, text="Footer"))) as footer:
        form = out.copy_foreign(footer.pages[0].as_form_xobject())
    merge.stamp_pages(out, form, "en")
    page = out.pages[0]
    operators = [str(item.operator) for item in pikepdf.parse_content_stream(page)]
    first_q = operators.index("q")
    assert first_q == 0 and "Q" in operators[operators.index("cm") :]
    restore = operators.index("Q", operators.index("Tj"))  # the page's content, closed off
    assert operators[restore + 1 :][:1] == ["q"] and operators[-1] == "ET"


def test_a_sign_the_font_lacks_falls_back_to_plain_digits() -> None:
    """Kashmiri groups digits with the Arabic comma (U+060C), which the stamp's font lacks."""
    assert "\u060c" in merge.page_label(1234, 1500, "ks")
    text = blank_pages_stamped(1001, "ks").pages[999].extract_text()
    assert "1000 / 1001" in text and "\x00" not in text
