"""The demo letter: an "all for all" appeal, modelled on the open letter that eleven jailed
Russian dissidents addressed to world leaders in 2025. Our own text, written for the demo and
kept as a letter file (demo.toml, shipped in the package) that `undersigned demo` loads."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from app.letters.files import LetterFile, load_letter, parse_letter_file
from app.letters.models import Letter

DEMO_FILE = Path(__file__).with_name("demo.toml")
DEMO: LetterFile = parse_letter_file(DEMO_FILE.read_text(encoding="utf-8"))

DEMO_SLUG = DEMO.letter.slug
DEMO_TITLE = DEMO.letter.title
DEMO_FIRST_SIGNATORIES = [
    (person["name"], person["description"]) for person in DEMO.items["first_signatories"]
]


def create_demo_letter(session: Session) -> bool:
    """Creates the demo letter unless it exists; returns whether it created it."""
    if session.exec(select(Letter.id).where(Letter.slug == DEMO_SLUG)).first() is not None:
        return False
    load_letter(session, parsed=DEMO)
    session.flush()
    return True
