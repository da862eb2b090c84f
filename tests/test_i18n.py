"""Every user-facing string goes through gettext, so translations need no template changes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.config import PROJECT_ROOT, TEMPLATES_DIR

# Proper names that stay the same in every language.
UNTRANSLATED = {"Telegram", "WhatsApp", "Bluesky", "X", "Facebook"}
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
TAG = re.compile(r"<[^>]*>", re.DOTALL)
ENTITY = re.compile(r"&[a-z]+;|&#\d+;")
WORD = re.compile(r"[^\W\d_]{2,}|\b[A-Za-z]\b")


def visible_words(source: str, *, html: bool) -> list[str]:
    text = JINJA.sub(" ", source)
    if html:
        text = re.sub(r"<style.*?</style>", " ", text, flags=re.DOTALL)
        text = ENTITY.sub(" ", TAG.sub(" ", text))
    return [word for word in WORD.findall(text) if word not in UNTRANSLATED]


@pytest.mark.parametrize(
    "template",
    sorted(
        p.relative_to(TEMPLATES_DIR).as_posix()
        for p in TEMPLATES_DIR.rglob("*.*")
        if p.suffix != ".css"  # style sheets (the PDF's) hold no words a reader sees
    ),
)
def test_no_text_outside_gettext(template: str) -> None:
    source = (TEMPLATES_DIR / template).read_text()
    assert visible_words(source, html=template.endswith(".html")) == []


def test_the_checker_sees_bare_text() -> None:
    assert visible_words("<p>Sign here</p>{{ _('Fine') }}", html=True) == ["Sign", "here"]


def test_extraction_finds_template_and_python_strings(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "--ignore-dirs",
            ".* .venv data",  # the default also skips _partials/
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-o",
            str(pot),
            ".",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        ids = {
            message.id if isinstance(message.id, str) else message.id[0]
            for message in read_po(handle)
        }
    assert "Check your email" in ids  # a page
    assert "Confirm my signature" in ids  # a page and an email
    assert "Please enter your name." in ids  # a form error raised in Python
    assert "signature" in ids  # ngettext
