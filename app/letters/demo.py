"""The demo letter: an "all for all" appeal, modelled on the open letter that eleven jailed
Russian dissidents addressed to world leaders in 2025. Our own text, written for the demo."""

from __future__ import annotations

from sqlmodel import Session, select

from app.db import utcnow
from app.letters.models import FirstSignatory, Letter, LetterStatus, Recipient
from app.letters.service import record_version

DEMO_SLUG = "all-for-all"
DEMO_GOAL = 10_000

DEMO_TITLE = "All for all: free the political prisoners and civilian hostages in any peace deal"

DEMO_SUMMARY = (
    "Eleven Russian political prisoners ask the leaders negotiating an end to the war to "
    "exchange all prisoners of war and civilians, and to free the sick and dying now."
)

DEMO_BODY = """\
We are writing to you from Russian prisons and penal colonies. There are at least ten
thousand of us: Russian political prisoners and Ukrainian civilians held by Russia, most of
them taken in the occupied regions of Ukraine. We were all punished for the same thing: for
taking a civic stance.

In Russia today there is no justice and no fairness. Anyone who thinks critically can end up
behind bars. In political cases nobody is acquitted and nobody gets a fair hearing. Once in
prison, our lives are in danger, and a denunciation by another inmate can add years to a
sentence.

Prisoners of war and the bodies of the dead have already been exchanged. We ask for more.

**We call on both sides of the negotiations between Russia and Ukraine** to exchange
prisoners of war and civilians at once, on the principle of *all for all*, including the
Ukrainian civilians held hostage.

**We call for the immediate and unconditional release of sick political prisoners** who are
dying in Russian prisons.

**We call on the leaders of Russia, Ukraine, the European Union and the United States** to
make the release of political prisoners and detained civilians part of any peace agreement,
whether through amnesty, exchange or any other means.

If a peace agreement is signed without us, the window will close for a long time. These
talks may be our last chance to be free.
"""

DEMO_RECIPIENTS: list[dict[str, str]] = [
    {
        "name": "Vladimir Putin",
        "title": "President of the Russian Federation",
        "organisation": "Presidential Executive Office",
        "country": "RU",
        "postal_address": "Kremlin\n103132 Moscow\nRussian Federation",
        "language": "ru",
    },
    {
        "name": "Volodymyr Zelensky",
        "title": "President of Ukraine",
        "organisation": "Office of the President of Ukraine",
        "country": "UA",
        "postal_address": "11 Bankova Street\n01220 Kyiv\nUkraine",
        "language": "uk",
    },
    {
        "name": "António Costa",
        "title": "President of the European Council",
        "organisation": "European Council",
        "country": "BE",
        "postal_address": "Rue de la Loi 175\n1048 Brussels\nBelgium",
        "language": "en",
    },
    {
        "name": "Ursula von der Leyen",
        "title": "President of the European Commission",
        "organisation": "European Commission",
        "country": "BE",
        "postal_address": "Rue de la Loi 200\n1049 Brussels\nBelgium",
        "language": "en",
    },
    {
        "name": "Donald Trump",
        "title": "President of the United States",
        "organisation": "The White House",
        "country": "US",
        "postal_address": "1600 Pennsylvania Avenue NW\nWashington, DC 20500\nUnited States",
        "language": "en",
    },
]

DEMO_FIRST_SIGNATORIES = [
    (
        "Alexei Gorinov",
        "municipal deputy, 63, the first person jailed under the 2022 wartime "
        "\u201cfalse information\u201d law",
    ),
    ("Darya Kozyreva", "student, 19, jailed for graffiti and 19th-century poetry against the war"),
    ("Boris Kagarlitsky", "sociologist"),
    ("Azat Miftakhov", "mathematician and anarchist"),
    ("Artem Kamardin", "poet"),
    ("Anna Arkhipova", "activist"),
    ("Vladimir Domnin", "activist"),
    ("Dmitry Pchelintsev", "activist"),
    ("Andrei Trofimov", "activist"),
    ("Ilya Shakursky", "activist"),
    ("Alexander Shestun", "activist"),
]


def create_demo_letter(session: Session) -> bool:
    """Creates the demo letter unless it exists; returns whether it created it."""
    if session.exec(select(Letter.id).where(Letter.slug == DEMO_SLUG)).first() is not None:
        return False
    now = utcnow()
    letter = Letter(
        slug=DEMO_SLUG,
        title=DEMO_TITLE,
        summary=DEMO_SUMMARY,
        body_markdown=DEMO_BODY,
        language="en",
        status=LetterStatus.OPEN,
        goal=DEMO_GOAL,
        created_at=now,
        published_at=now,
    )
    session.add(letter)
    session.flush()
    assert letter.id is not None
    record_version(session, letter=letter)  # published: its text is version 1
    for position, recipient in enumerate(DEMO_RECIPIENTS):
        session.add(
            Recipient.model_validate(recipient | {"letter_id": letter.id, "position": position})
        )
    for position, (name, description) in enumerate(DEMO_FIRST_SIGNATORIES):
        session.add(
            FirstSignatory(
                letter_id=letter.id, position=position, name=name, description=description
            )
        )
    session.flush()
    return True
