"""Letters as TOML files: a letter with its translations (``[translations.ru]`` tables of
title, summary and body), recipients, first signatories and supporting statements, loaded
(created, or updated by slug) and dumped. Loading checks the whole file first and reports every
problem with its line; when there is one, nothing changes.

The format leaves room to grow: new top-level keys or tables can be added without changing what
a file means today. Today an unknown key is a problem, so a file written for a later version is
refused rather than half-loaded."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from app.letters import service
from app.letters.forms import LetterInput, parse_letter_form
from app.letters.languages import normal_code
from app.letters.models import Letter, LetterStatus
from app.letters.recipients import (
    DEFAULTS,
    Kind,
    cleaned,
    field_names,
    list_items,
    problems,
    replace_items,
)
from app.letters.translations import (
    TranslationInput,
    delete_translation,
    list_translations,
    parse_translation_form,
    replace_translations,
)

HEADER = "# A letter for Undersigned. `undersigned letters load FILE` creates it, or updates the\n"
HEADER += "# letter with this slug; `undersigned letters dump SLUG` writes it back.\n"
# Top-level keys, in the order a dump writes them, with the type each must have.
TOP_LEVEL: dict[str, type] = {
    "slug": str,
    "title": str,
    "summary": str,
    "language": str,
    "status": str,
    "goal": int,
    "closes": date,
    "publisher_name": str,
    "publisher_contact": str,
    "delivery_plan": str,
    "body": str,
}
REQUIRED = ("slug", "title", "body")
KINDS: tuple[Kind, ...] = ("recipients", "first_signatories", "statements")
TRANSLATIONS = "translations"
# A translation's keys in a file, in the order a dump writes them -> the form's field.
TRANSLATION_KEYS = {"title": "title", "summary": "summary", "body": "body_markdown"}
# Form field -> file key, where they differ.
FORM_KEYS = {"body_markdown": "body", "closes_on": "closes"}
TYPE_NAMES = {str: "text in quotes", int: "a whole number", date: "a date such as 2027-03-31"}


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class LetterFileInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = sorted(problems, key=lambda problem: problem.line)


@dataclass(frozen=True, slots=True)
class LetterFile:
    letter: LetterInput
    status: LetterStatus
    items: dict[Kind, list[dict[str, str]]] = field(default_factory=dict)
    status_line: int = 1
    translations: list[TranslationInput] = field(default_factory=list)
    language_line: int = 1


# --- Where each key is: tomllib reports no lines for values, so the file is scanned. -----------

_ARRAY_HEADER = re.compile(r"\s*\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]")
_TABLE_HEADER = re.compile(r"\s*\[\s*([A-Za-z0-9_.-]+)\s*\]")
_KEY = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=\s*(.*)""")

Place = tuple[str, int, str | None]  # (table, index in its array, key or None for the header)


def _closing(line: str, start: int, delimiter: str) -> int:
    """Where a multi-line string closes on this line, or -1."""
    i = start
    while i < len(line):
        if delimiter == '"""' and line[i] == "\\":
            i += 2
            continue
        if line.startswith(delimiter, i):
            return i
        i += 1
    return -1


def locate(text: str) -> dict[Place, int]:
    """Line numbers of table headers and keys, skipping the inside of multi-line strings."""
    where: dict[Place, int] = {}
    counts: dict[str, int] = {}
    table, index = "", 0
    open_string: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        if open_string is not None:
            if _closing(line, 0, open_string) >= 0:
                open_string = None
            continue
        if match := _ARRAY_HEADER.match(line):
            table = match[1]
            index = counts.get(table, 0)
            counts[table] = index + 1
            where.setdefault((table, index, None), number)
        elif match := _TABLE_HEADER.match(line):
            table, index = match[1], 0
            where.setdefault((table, index, None), number)
        elif match := _KEY.match(line):
            key = match[1][1:-1] if match[1][0] in "\"'" else match[1]
            where.setdefault((table, index, key), number)
            for delimiter in ('"""', "'''"):
                value = match[2]
                if value.startswith(delimiter) and _closing(value, 3, delimiter) < 0:
                    open_string = delimiter
    return where


# --- Reading and checking ----------------------------------------------------------------------


def _type_problem(key: str, value: object, expected: type) -> str | None:
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{key} must be {TYPE_NAMES[int]}"
    if expected is date and (isinstance(value, datetime) or not isinstance(value, date)):
        return f"{key} must be {TYPE_NAMES[date]}, without quotes"
    if not isinstance(value, expected):
        return f"{key} must be {TYPE_NAMES[expected]}"
    return None


class _Checker:
    def __init__(self, text: str) -> None:
        self.where = locate(text)
        self.problems: list[Problem] = []

    def line(self, table: str, index: int, key: str | None) -> int:
        return (
            self.where.get((table, index, key))
            or self.where.get((table, index, None))
            or self.where.get(("", 0, table))  # an inline array: recipients = [{...}]
            or 1
        )

    def top_level_line(self, key: str) -> int:
        """A top-level key, or the first header of its table: [key] or [key.sub]."""
        found = [
            line
            for (table, _, name), line in self.where.items()
            if (table, name) == ("", key) or (name is None and table.split(".")[0] == key)
        ]
        return min(found, default=1)

    def add(self, table: str, index: int, key: str | None, message: str) -> None:
        self.problems.append(Problem(self.line(table, index, key), message))

    def letter(self, data: Mapping[str, Any]) -> tuple[LetterInput | None, LetterStatus]:
        values: dict[str, str] = {}
        for key, expected in TOP_LEVEL.items():
            if key not in data:
                if key in REQUIRED:
                    self.add("", 0, key, f"{key} is missing")
                continue
            if problem := _type_problem(key, data[key], expected):
                self.add("", 0, key, problem)
            elif isinstance(data[key], date):
                values[key] = data[key].isoformat()
            else:
                values[key] = str(data[key])
        status = values.get("status", LetterStatus.DRAFT.value)
        if status not in {s.value for s in LetterStatus}:
            self.add("", 0, "status", "status must be draft, open or closed")
            status = LetterStatus.DRAFT.value
        elif status == LetterStatus.DELIVERED.value:
            # Delivered is recorded with its deliveries, in the workspace.
            self.add("", 0, "status", "status must be draft, open or closed")
            status = LetterStatus.DRAFT.value
        form_values = {form: values.get(FORM_KEYS.get(form, form), "") for form in FORM_KEYS}
        form_values |= {
            key: values.get(key, "")
            for key in (
                "title",
                "slug",
                "summary",
                "publisher_name",
                "publisher_contact",
                "delivery_plan",
            )
        }
        form_values["language"] = values.get("language", "en")
        form_values["goal"] = values.get("goal", "")
        # A file may describe a letter that closed long ago: no date has "passed" here.
        form = parse_letter_form(form_values, today=date.min)
        for name, message in form.errors.items():
            key = FORM_KEYS.get(name, name)
            if key in values:  # a missing or mistyped key is reported already
                self.add("", 0, key, f"{key}: {message}")
        if self.problems:
            return None, LetterStatus(status)
        return form.to_input(), LetterStatus(status)

    def items(self, kind: Kind, value: object) -> list[dict[str, str]]:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.add("", 0, kind, f"{kind} must be tables: [[{kind}]]")
            return []
        names = field_names(kind)
        result = []
        for index, item in enumerate(value):
            for key in item:
                if key not in names:
                    self.add(kind, index, key, f"unknown key {key!r} in [[{kind}]]")
            typed = {}
            for key in names:
                if key in item and (problem := _type_problem(key, item[key], str)):
                    self.add(kind, index, key, problem)
                elif key in item:
                    typed[key] = item[key]
            defaults = {k: v for k, v in DEFAULTS[kind].items() if k not in item}
            values = cleaned(kind, typed | defaults)
            for key, message in problems(kind, values).items():
                if key in typed:
                    self.add(kind, index, key, f"{key}: {message}")
                elif key not in item:
                    self.add(kind, index, None, f"[[{kind}]]: {key} is missing")
            result.append(values)
        return result

    def translations(self, value: object, *, original: str) -> list[TranslationInput]:
        """``[translations.ru]`` tables: each checked as the workspace's form checks it."""
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            self.add("", 0, TRANSLATIONS, "translations must be tables: [translations.ru]")
            return []
        result = []
        seen: set[str] = set()
        for code, table in value.items():
            where = f"{TRANSLATIONS}.{code}"
            for key in table:
                if key not in TRANSLATION_KEYS:
                    self.add(where, 0, key, f"unknown key {key!r} in [{where}]")
            typed = {}
            for key, name in TRANSLATION_KEYS.items():
                if key in table and (problem := _type_problem(key, table[key], str)):
                    self.add(where, 0, key, problem)
                elif key in table:
                    typed[name] = table[key]
            form = parse_translation_form(typed | {"language": code}, original=original, taken=seen)
            seen.add(normal_code(code))
            keys = {name: key for key, name in TRANSLATION_KEYS.items()}
            for name, message in form.errors.items():
                key = keys.get(name)
                if key is None:  # the language: the table's name
                    self.add(where, 0, None, f"[{where}]: {message}")
                elif name in typed:
                    self.add(where, 0, key, f"{key}: {message}")
                elif key not in table:
                    self.add(where, 0, None, f"[{where}]: {key} is missing")
            if form.valid:
                result.append(form.to_input())
        return result


def _syntax_problem(error: tomllib.TOMLDecodeError, text: str) -> Problem:
    message = str(error)
    if match := re.search(r"\s*\(at line (\d+), column \d+\)$", message):
        return Problem(int(match[1]), f"not valid TOML: {message[: match.start()]}")
    match = re.search(r"\s*\(at end of document\)$", message)
    last = len(text.rstrip("\n").split("\n"))
    return Problem(last, f"not valid TOML: {message[: match.start()] if match else message}")


def parse_letter_file(text: str) -> LetterFile:
    """The file's letter, checked as the workspace's forms check it; LetterFileInvalid lists
    every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LetterFileInvalid([_syntax_problem(error, text)]) from None
    checker = _Checker(text)
    for key in data:
        if key not in TOP_LEVEL and key not in KINDS and key != TRANSLATIONS:
            checker.problems.append(Problem(checker.top_level_line(key), f"unknown key {key!r}"))
    letter, status = checker.letter(data)
    items = {kind: checker.items(kind, data.get(kind, [])) for kind in KINDS}
    original = normal_code(str(data.get("language", "en")))
    translations = checker.translations(data.get(TRANSLATIONS, {}), original=original)
    if checker.problems or letter is None:
        raise LetterFileInvalid(checker.problems)
    return LetterFile(
        letter=letter,
        status=status,
        items=items,
        status_line=checker.line("", 0, "status"),
        translations=translations,
        language_line=checker.line("", 0, "language"),
    )


# --- Loading into the database -----------------------------------------------------------------


def _drop_translation(session: Session, letter_id: int, language: str) -> None:
    if service.find_translation(session, letter_id, language) is not None:
        delete_translation(session, letter_id=letter_id, language=language)


def load_letter(session: Session, *, parsed: LetterFile) -> tuple[int, bool]:
    """Create the letter, or update the one with this slug; returns (its id, created?)."""
    letter = session.exec(select(Letter).where(Letter.slug == parsed.letter.slug)).first()
    if (
        letter is not None
        and letter.status is not parsed.status
        and (letter.status, parsed.status) not in service.ALLOWED_MOVES
    ):
        move = f"{letter.status.value} -> {parsed.status.value}"
        raise LetterFileInvalid(
            [Problem(parsed.status_line, f"status: this letter cannot move {move}")]
        )
    created = letter is None
    try:
        if letter is None:
            letter_id = service.create_letter(session, data=parsed.letter)
        else:
            assert letter.id is not None
            letter_id = letter.id
            if parsed.letter.language != letter.language:
                # A translation may become the letter's own language (and the own one a
                # translation, below).
                _drop_translation(session, letter_id, parsed.letter.language)
            service.update_letter(session, letter_id=letter_id, data=parsed.letter)
        # Before publication below, so that publishing puts every language on record.
        replace_translations(session, letter_id=letter_id, items=parsed.translations)
    except service.SlugTaken:  # created by someone else meanwhile
        raise LetterFileInvalid([Problem(1, "slug: another letter took it meanwhile")]) from None
    current = service.get_summary_by_id(session, letter_id=letter_id).status
    # A new letter starts as a draft and lives its life forward: draft -> open -> closed.
    for step in (LetterStatus.OPEN, LetterStatus.CLOSED):
        if current is parsed.status:
            break
        if (current, step) in service.ALLOWED_MOVES and (created or step is parsed.status):
            service.change_status(session, letter_id=letter_id, to=step)
            current = step
    for kind in KINDS:
        replace_items(session, kind=kind, letter_id=letter_id, items=parsed.items[kind])
    return letter_id, created


# --- Writing -----------------------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
_ESCAPES["\r"] = "\\r"


def _escaped(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"\\u{ord(char):04X}"
    return char


def toml_string(value: str, *, multi_line: bool = False) -> str:
    """A TOML basic string; multi-line (\"\"\"...\"\"\") when asked or when it holds a line
    break. Never three quotes in a row, and a quote before the closing ones is escaped."""
    if not multi_line and "\n" not in value:
        return '"' + "".join(_escaped(char) for char in value) + '"'
    trailing = len(value) - len(value.rstrip('"'))
    out = ['"""\n']  # a line break right after the opening quotes is not part of the value
    run = 0
    for position, char in enumerate(value):
        if char == '"':
            run += 1
            if run == 3 or position >= len(value) - trailing:
                out.append('\\"')
                run = 0
            else:
                out.append('"')
            continue
        run = 0
        out.append(char if char in "\n\t" else _escaped(char))
    out.append('"""')
    return "".join(out)


def _toml_value(value: str | int | date, *, multi_line: bool = False) -> str:
    if isinstance(value, str):
        return toml_string(value, multi_line=multi_line)
    if isinstance(value, bool):
        raise TypeError("no booleans in letter files")
    if isinstance(value, int):
        return str(value)
    return value.isoformat()


def dump_letter(session: Session, *, slug: str) -> str:
    letter = session.exec(select(Letter).where(Letter.slug == slug)).first()
    if letter is None or letter.id is None:
        raise service.LetterNotFound(slug)
    values: dict[str, str | int | date | None] = {
        "slug": letter.slug,
        "title": letter.title,
        "summary": letter.summary,
        "language": letter.language,
        "status": letter.status.value,
        "goal": letter.goal,
        "closes": letter.closes_at.date() if letter.closes_at else None,
        # Empty publisher fields are left out: they mean the same as absent ones.
        "publisher_name": letter.publisher_name or None,
        "publisher_contact": letter.publisher_contact or None,
        "delivery_plan": letter.delivery_plan or None,
        "body": letter.body_markdown,
    }
    lines = [HEADER.rstrip("\n")]
    for key, value in values.items():
        if value is not None:
            lines.append(f"{key} = {_toml_value(value, multi_line=key == 'body')}")
    for translation in list_translations(session, letter_id=letter.id):
        lines.append(f"\n[{TRANSLATIONS}.{translation.language}]")
        lines.append(f"title = {_toml_value(translation.title)}")
        if translation.summary:
            lines.append(f"summary = {_toml_value(translation.summary)}")
        lines.append(f"body = {_toml_value(translation.body_markdown, multi_line=True)}")
    for kind in KINDS:
        for item in list_items(session, kind=kind, letter_id=letter.id):
            lines.append(f"\n[[{kind}]]")
            lines.extend(
                f"{key} = {_toml_value(value, multi_line=key == 'body')}"
                for key, value in item.values.items()
            )
    return "\n".join(lines) + "\n"
