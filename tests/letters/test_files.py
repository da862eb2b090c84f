"""Letters as TOML files: dumped and loaded without loss, every problem reported with its line
and nothing changed, updates by slug, and the demo letter shipped as one."""

# ruff: noqa: RUF001 - Russian and Ukrainian text, Cyrillic letters meant

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.cli import main
from app.config import Settings
from app.letters.demo import DEMO_FILE
from app.letters.files import toml_string

LETTER = '''\
slug = "free-them-all"
title = "Free them all"
summary = "A letter with \\"quotes\\" and a backslash \\\\ in it."
language = "en"
status = "open"
goal = 5000
closes = 2031-12-31
publisher_name = "Friends of the Prisoners"
publisher_contact = "letters@friends.example"
delivery_plan = "Handed over in Vilnius."
body = """
A body with ""\\"three quotes\\""" and a trailing quote\\"
"""

[[recipients]]
name = "Jane Doe"
title = "Minister"
organisation = ""
country = "DE"
postal_address = """
Mohrenstraße 37
10117 Berlin"""
language = "de"

[[first_signatories]]
name = "Ada Lovelace"
description = "programmer"
'''


def run(settings: Settings, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setenv("UNDERSIGNED_DATABASE_URL", settings.resolved_database_url())
    return main(list(argv))


def dump(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys, slug: str) -> str:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    assert run(settings, monkeypatch, "letters", "dump", slug) == 0
    return str(capsys.readouterr().out)


def load(settings: Settings, monkeypatch: pytest.MonkeyPatch, path: Path, content: str) -> int:
    path.write_text(content, encoding="utf-8")
    return run(settings, monkeypatch, "letters", "load", str(path))


def snapshot(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return [
            connection.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
            for table in ("letters", "recipients", "first_signatories", "audit_entries")
        ]


@pytest.mark.parametrize(
    "value",
    [
        "",
        'one "quote"',
        'a""""""b',
        'ends with "',
        'ends with ""',
        "back\\slash\\",
        "line\\\nbreak after a backslash",
        "tab\tand\rreturn\x00\x1f\x7f",
        "\nleading newline",
        'multi\nline with """ and \\""" and "',
        "ünïcødé — “quotes” 𝄞",
    ],
)
def test_strings_survive_the_emitter(value: str) -> None:
    for multi_line in (False, True):
        written = f"v = {toml_string(value, multi_line=multi_line)}"
        assert tomllib.loads(written) == {"v": value}, written


def test_round_trip_without_loss(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert load(settings, monkeypatch, tmp_path / "letter.toml", LETTER) == 0
    assert "Created 'free-them-all'" in capsys.readouterr().out
    first = dump(settings, monkeypatch, capsys, "free-them-all")
    data = tomllib.loads(first)
    assert data["body"] == 'A body with """three quotes""" and a trailing quote"\n'
    assert data["recipients"][0]["postal_address"] == "Mohrenstraße 37\n10117 Berlin"
    assert str(data["closes"]) == "2031-12-31" and data["goal"] == 5000
    assert data["publisher_name"] == "Friends of the Prisoners"
    assert data["delivery_plan"] == "Handed over in Vilnius."
    assert load(settings, monkeypatch, tmp_path / "again.toml", first) == 0
    assert dump(settings, monkeypatch, capsys, "free-them-all") == first
    with engine.connect() as connection:
        actions = connection.execute(text("SELECT action FROM audit_entries")).scalars().all()
    assert actions == ["letter.created_from_file", "letter.loaded_from_file"]


def test_an_update_by_slug_replaces_fields_and_lists(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert load(settings, monkeypatch, tmp_path / "a.toml", LETTER) == 0
    changed = LETTER.replace('title = "Free them all"', 'title = "Free them, all of them"')
    changed = changed.replace('status = "open"', 'status = "closed"')
    changed = changed.replace('name = "Jane Doe"', 'name = "John Roe"')
    changed += '\n[[first_signatories]]\nname = "Grace Hopper"\n'
    assert load(settings, monkeypatch, tmp_path / "b.toml", changed) == 0
    assert "Updated 'free-them-all'" in capsys.readouterr().out
    data = tomllib.loads(dump(settings, monkeypatch, capsys, "free-them-all"))
    assert data["title"] == "Free them, all of them" and data["status"] == "closed"
    assert [r["name"] for r in data["recipients"]] == ["John Roe"]
    assert [f["name"] for f in data["first_signatories"]] == ["Ada Lovelace", "Grace Hopper"]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM letters")).scalar() == 1
        published = connection.execute(text("SELECT published_at FROM letters")).scalar()
    assert published is not None
    # A closed letter cannot become a draft again; said on the status line, nothing changes.
    before = snapshot(engine)
    draft = changed.replace('status = "closed"', 'status = "draft"')
    assert load(settings, monkeypatch, tmp_path / "c.toml", draft) == 1
    assert "c.toml:5: status: this letter cannot move closed -> draft" in capsys.readouterr().err
    assert snapshot(engine) == before


BROKEN = '''\
slug = "Not A Slug"
title = ""
language = "en"
status = "published"
goal = "many"
closes = "2031-12-31"
colour = "red"
body = """
title = "this line is inside the body, not a key"
"""

[[recipients]]
name = "Jane Doe"
country = "XX"
language = "en"

[[recipients]]
title = "No name"
fax = "+1 555"

[[first_signatories]]
name = 42

[translations.ru]
title = "Освободите всех"

[translations.en]
title = "The letter's own language"
body = "Not a translation."

[translations.klingon]
title = "Not a language code"
body = "tlhIngan Hol"
colour = "red"

[[statements]]
name = "No message"
'''


def test_every_problem_with_its_line_and_nothing_changed(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert load(settings, monkeypatch, tmp_path / "a.toml", LETTER) == 0
    before = snapshot(engine)
    capsys.readouterr()
    assert load(settings, monkeypatch, tmp_path / "broken.toml", BROKEN) == 1
    lines = capsys.readouterr().err.splitlines()
    reported = {(int(line.split(":")[1]), line.split(": ", 1)[1]) for line in lines[:-1]}
    expected_lines = {
        1: "slug:",
        2: "title:",
        4: "status must be",
        5: "goal must be a whole number",
        6: "closes must be a date",
        7: "unknown key 'colour'",
        14: "country:",
        17: "name is missing",
        19: "unknown key 'fax'",
        22: "name must be text",
        24: "[translations.ru]: body is missing",
        27: "[translations.en]: This is the letter's own language",
        31: "[translations.klingon]: Use a language code",
        34: "unknown key 'colour' in [translations.klingon]",
        36: "body is missing",
    }
    assert {line for line, _ in reported} == set(expected_lines), lines
    for line, message in reported:
        assert message.startswith(expected_lines[line]) or expected_lines[line] in message, (
            line,
            message,
        )
    assert lines[-1].endswith("nothing changed")
    assert snapshot(engine) == before


def test_a_syntax_error_names_its_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    broken = LETTER.replace('name = "Ada Lovelace"', 'name = "Ada Lovelace')
    assert load(settings, monkeypatch, tmp_path / "a.toml", broken) == 1
    line = LETTER.splitlines().index('name = "Ada Lovelace"') + 1
    assert f"a.toml:{line}: not valid TOML" in capsys.readouterr().err
    assert run(settings, monkeypatch, "letters", "dump", "free-them-all") == 1


def test_the_demo_is_a_letter_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys, letter_slug: str
) -> None:  # type: ignore[no-untyped-def]
    shipped = DEMO_FILE.read_text(encoding="utf-8")
    dumped = dump(settings, monkeypatch, capsys, letter_slug)
    assert tomllib.loads(dumped) == tomllib.loads(shipped)
    assert dumped in shipped  # the same text, under the demo's own opening comment
    data = tomllib.loads(dumped)
    assert len(data["recipients"]) == 5 and len(data["first_signatories"]) == 11
    assert [s["name"] for s in data["statements"]] == ["Dmitry Muratov"]
    assert run(settings, monkeypatch, "demo") == 0
    assert "already there" in capsys.readouterr().out


TRANSLATED = LETTER.replace(
    "\n[[recipients]]",
    '''
[translations.ru]
title = "Освободите всех"
summary = "Письмо с «кавычками» и \\\\ обратной чертой."
body = """
Текст с ""\\"тремя кавычками\\""" и эмодзи 🕊️
"""

[translations.PT_br]
title = "Libertem todos"
body = "Texto."

[[recipients]]''',
    1,
)


def test_translations_round_trip_and_update_by_slug(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert load(settings, monkeypatch, tmp_path / "a.toml", TRANSLATED) == 0, capsys.readouterr()
    first = dump(settings, monkeypatch, capsys, "free-them-all")
    data = tomllib.loads(first)
    assert list(data["translations"]) == ["pt-BR", "ru"]  # codes as usually written, in order
    assert data["translations"]["ru"]["body"] == 'Текст с """тремя кавычками""" и эмодзи 🕊️\n'
    assert data["translations"]["ru"]["summary"] == "Письмо с «кавычками» и \\ обратной чертой."
    assert "summary" not in data["translations"]["pt-BR"]
    assert load(settings, monkeypatch, tmp_path / "b.toml", first) == 0
    assert dump(settings, monkeypatch, capsys, "free-them-all") == first

    def versions() -> list[tuple[int, str]]:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT number, language FROM letter_versions ORDER BY number")
            ).all()
        return [(number, language) for number, language in rows]

    # Published by the load: every language on record; loading the same file adds nothing.
    assert versions() == [(1, "en"), (2, "pt-BR"), (3, "ru")]
    # A changed translation is a new version of that language; one left out is removed.
    changed = first.replace('title = "Освободите всех"', 'title = "Освободите всех!"')
    start = changed.index("[translations.pt-BR]")
    changed = changed[:start] + changed[changed.index("[translations.ru]") :]
    assert load(settings, monkeypatch, tmp_path / "c.toml", changed) == 0
    assert versions() == [(1, "en"), (2, "pt-BR"), (3, "ru"), (4, "ru")]
    assert list(
        tomllib.loads(dump(settings, monkeypatch, capsys, "free-them-all"))["translations"]
    ) == ["ru"]

    # The letter's own language may swap with a translation's.
    swapped = changed.replace('language = "en"', 'language = "ru"', 1)
    swapped = swapped.replace("[translations.ru]", "[translations.en]")
    assert load(settings, monkeypatch, tmp_path / "d.toml", swapped) == 0, capsys.readouterr()
    data = tomllib.loads(dump(settings, monkeypatch, capsys, "free-them-all"))
    assert data["language"] == "ru" and list(data["translations"]) == ["en"]


def test_the_demo_letter_is_in_english_russian_and_ukrainian() -> None:
    data = tomllib.loads(DEMO_FILE.read_text(encoding="utf-8"))
    assert data["language"] == "en"
    assert sorted(data["translations"]) == ["ru", "uk"]
    for table in data["translations"].values():
        assert set(table) == {"title", "summary", "body"}
        # The same paragraphs and the same three demands in bold, in every language.
        assert table["body"].count("\n\n") == data["body"].count("\n\n")
        assert table["body"].count("**") == data["body"].count("**")
