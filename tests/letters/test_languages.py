"""A letter in several languages as a reader meets it: plain links to each language, the page
and its own text in the chosen one, signing in it (recorded, and the mails written in it), and
the pages a mailed link opens in the signer's language. Unknown or forged languages fall back to
the letter's own."""

# ruff: noqa: RUF001 - Russian and Ukrainian text, Cyrillic letters meant

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.db import open_session
from app.jobs.worker import JobWorker
from app.kit.tokens import Purpose, Tokens
from app.letters import translations
from app.letters.models import LetterStatus
from app.letters.translations import TranslationInput
from tests.conftest import TEST_SECRET_KEY
from tests.helpers import (
    SAME_ORIGIN,
    add_letter,
    html_part,
    links,
    new_mail,
    press_button,
    signatures,
    text_part,
)
from tests.html import form_values, parse
from tests.smtp import SMTPServer
from tests.updates.helpers import signer

RUSSIAN_TITLE = "Всех на всех: освободить политзаключённых и гражданских заложников"


def _html_tag(page: str) -> dict[str, str]:
    element = parse(page).find("html")
    assert element is not None
    return element.attrs


def test_each_language_is_a_plain_link_named_in_itself(
    client: TestClient, letter_slug: str
) -> None:
    page = client.get(f"/letters/{letter_slug}")
    assert _html_tag(page.text) == {"lang": "en", "dir": "ltr"}
    nav = parse(page.text).find("nav", **{"class": "languages"})
    assert nav is not None
    found = {a.attrs["hreflang"]: (a.attrs["href"], a.text()) for a in nav.find_all("a")}
    assert found == {
        "ru": (f"/letters/{letter_slug}?lang=ru", "Русский"),
        "uk": (f"/letters/{letter_slug}?lang=uk", "Українська"),
    }
    [current] = [e for e in nav.iter() if e.attrs.get("aria-current") == "page"]
    assert current.text() == "English"

    # Following a link is a plain GET: no script, no cookie, no form.
    russian = client.get(found["ru"][0])
    assert russian.status_code == 200
    assert _html_tag(russian.text) == {"lang": "ru", "dir": "ltr"}
    doc = parse(russian.text)
    article = doc.find("article")
    assert article is not None and article.attrs["lang"] == "ru"
    assert RUSSIAN_TITLE in russian.text
    assert "Мы пишем вам из российских тюрем" in russian.text
    assert "Подписать письмо" in russian.text  # the page's own text is Russian too
    assert "We are writing to you" not in russian.text
    back = doc.find("a", hreflang="en")
    assert back is not None and back.attrs["href"] == f"/letters/{letter_slug}"
    ukrainian = client.get(f"/letters/{letter_slug}?lang=uk").text
    assert "Підписати лист" in ukrainian and "Всіх на всіх" in ukrainian


def test_an_unknown_language_falls_back_to_the_letters_own(
    client: TestClient, letter_slug: str
) -> None:
    for query in (
        "?lang=xx",
        "?lang=de",
        "?lang=",
        "?lang=%00",
        "?lang=" + "r" * 500,
        "?lang=ru&lang=uk",
    ):
        page = client.get(f"/letters/{letter_slug}{query}")
        assert page.status_code == 200, query
        if query == "?lang=ru&lang=uk":
            assert _html_tag(page.text)["lang"] in ("ru", "uk")  # one of them, never a mix
            continue
        assert _html_tag(page.text)["lang"] == "en", query
        assert "We are writing to you from Russian prisons" in page.text
        [hidden] = parse(page.text).find_all("input", name="language")
        assert hidden.attrs["value"] == "en"


def test_a_right_to_left_translation_is_marked_so(engine: Engine, client: TestClient) -> None:
    letter_id = add_letter(engine, "rtl-letter")
    with open_session(engine, write=True) as session:
        translations.add_translation(
            session,
            letter_id=letter_id,
            data=TranslationInput("ar", "رسالة مفتوحة", "", "نص الرسالة.\n"),
        )
        session.commit()
    page = client.get("/letters/rtl-letter?lang=ar").text
    article = parse(page).find("article")
    assert article is not None
    assert (article.attrs["lang"], article.attrs["dir"]) == ("ar", "rtl")
    assert _html_tag(page) == {"lang": "en", "dir": "ltr"}  # no Arabic catalogue: English chrome
    assert "العربية" in page
    assert "رسالة مفتوحة" in page


def test_signing_in_russian_is_recorded_and_answered_in_russian(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    page = client.get(f"/letters/{letter_slug}?lang=ru")
    [form] = [f for f in parse(page.text).find_all("form") if f.attrs.get("method") == "post"]
    data = form_values(form) | {"name": "Анна Иванова", "email": "anna@example.org"}
    assert data["language"] == "ru"
    sent = client.post(
        f"/letters/{letter_slug}/sign", data=data, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/letters/{letter_slug}/check-email?lang=ru"
    check = client.get(sent.headers["location"]).text
    assert "Проверьте почту" in check and RUSSIAN_TITLE in check

    [stored] = signatures(engine)
    assert stored.language == "ru"
    [mail] = new_mail(worker, smtp)
    assert mail["Subject"] == "Ссылка для подтверждения подписи от Undersigned"
    body = text_part(mail)
    assert "Пожалуйста, подтвердите свою подпись под открытым письмом «Всех на всех" in body
    assert f"/letters/{letter_slug}" not in body or "?lang=ru" in body
    html = html_part(mail)
    assert '<html lang="ru">' in html and "Подтвердить подпись" in html

    # The mailed link's pages speak Russian, and say what will be published.
    confirm = client.get(links(mail)["confirm"])
    assert _html_tag(confirm.text)["lang"] == "ru"
    assert "Подтвердите подпись" in confirm.text and RUSSIAN_TITLE in confirm.text
    thanks = press_button(client, links(mail)["confirm"])
    assert "Спасибо! Ваша подпись учтена." in thanks.text
    assert f"/letters/{letter_slug}?lang=ru" in thanks.text  # the address to share

    # Signing again from the same mailbox: the "already signed" mail, in Russian too.
    client.post(f"/letters/{letter_slug}/sign", data=data, headers=SAME_ORIGIN)
    [reminder] = new_mail(worker, smtp)
    assert reminder["Subject"] == "О вашей подписи на Undersigned"
    assert "Ваша подпись подтверждена и учтена один раз" in text_part(reminder)

    withdraw = client.get(links(reminder)["withdraw"])
    assert "Отозвать мою подпись" in withdraw.text
    done = press_button(client, links(reminder)["withdraw"])
    assert done.url.path == f"/letters/{letter_slug}/withdrawn"
    assert done.url.query == b"lang=ru"
    assert "Подпись отозвана" in done.text


def test_a_forged_language_is_not_recorded(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    base = {"name": "Anna Example", "visibility": "public"}
    for number, forged in enumerate(["de", "xx", "<script>", "ru\x00", "r" * 5000, "RU"]):
        sent = client.post(
            f"/letters/{letter_slug}/sign",
            data=base | {"email": f"signer{number}@example.org", "language": forged},
            headers=SAME_ORIGIN,
            follow_redirects=False,
        )
        assert sent.status_code == 303, forged
    recorded = [signature.language for signature in signatures(engine)]
    assert recorded == ["en", "en", "en", "en", "en", "ru"]  # "RU" is Russian, written right
    mails = new_mail(worker, smtp)
    assert [m["Subject"].startswith("Your confirmation") for m in mails] == [True] * 5 + [False]


def test_a_form_with_a_mistake_comes_back_in_its_language(
    client: TestClient, letter_slug: str
) -> None:
    refused = client.post(
        f"/letters/{letter_slug}/sign",
        data={"name": "Ганна", "email": "not-an-address", "language": "uk"},
        headers=SAME_ORIGIN,
    )
    assert refused.status_code == 400
    assert _html_tag(refused.text)["lang"] == "uk"
    assert "Будь ласка, вкажіть чинну адресу" in refused.text
    assert 'value="Ганна"' in refused.text


def test_signer_pages_from_the_letter_keep_its_language(
    client: TestClient, letter_slug: str
) -> None:
    for path in ("manage", "check-email", "thank-you", "withdrawn", "signatures"):
        page = client.get(f"/letters/{letter_slug}/{path}?lang=uk")
        assert page.status_code == 200, path
        assert _html_tag(page.text)["lang"] == "uk", path
        assert f'href="/letters/{letter_slug}?lang=uk"' in page.text, path
        assert _html_tag(client.get(f"/letters/{letter_slug}/{path}").text)["lang"] == "en"
    sent = client.post(
        f"/letters/{letter_slug}/manage?lang=ru",
        data={"email": "nobody@example.org"},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert sent.headers["location"] == f"/letters/{letter_slug}/check-email?lang=ru"


def test_a_draft_translation_is_as_private_as_its_letter(
    client: TestClient, engine: Engine
) -> None:
    letter_id = add_letter(engine, "draft-letter", status=LetterStatus.DRAFT)
    with open_session(engine, write=True) as session:
        translations.add_translation(
            session, letter_id=letter_id, data=TranslationInput("ru", "Черновик", "", "Текст.\n")
        )
        session.commit()
    assert client.get("/letters/draft-letter?lang=ru").status_code == 404


def test_the_unsubscribe_page_speaks_the_signers_language(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    reader = signer(engine, letter_slug, "reader@example.org", language="uk")
    token = Tokens([TEST_SECRET_KEY]).make(Purpose.UNSUBSCRIBE, reader.public_id)
    page = client.get(f"/letters/{letter_slug}/unsubscribe/{token}")
    assert page.status_code == 200
    assert _html_tag(page.text)["lang"] == "uk"
    assert "Відписатися від новин" in page.text and "Всіх на всіх" in page.text
    assert f'href="/letters/{letter_slug}?lang=uk"' in page.text


def test_each_language_is_its_own_canonical_page_with_alternates(
    client: TestClient, letter_slug: str
) -> None:
    doc = parse(client.get(f"/letters/{letter_slug}?lang=uk").text)
    [canonical] = doc.find_all("link", rel="canonical")
    assert canonical.attrs["href"].endswith(f"/letters/{letter_slug}?lang=uk")
    alternates = {
        link.attrs["hreflang"]: link.attrs["href"] for link in doc.find_all("link", rel="alternate")
    }
    assert set(alternates) == {"en", "ru", "uk"}
    assert alternates["en"].endswith(f"/letters/{letter_slug}")
    [description] = doc.find_all("meta", property="og:description")
    assert description.attrs["content"].startswith("Одинадцять російських політв’язнів")
