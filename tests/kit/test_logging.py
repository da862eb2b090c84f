"""Every log record has addresses and tokens redacted, its traceback included, whichever
handler and formatter print it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from app.kit.logging import install_redaction, redact
from app.kit.tokens import Purpose, Tokens

ADDRESS = "victim@example.org"
TOKEN = Tokens(["key"]).make(Purpose.CONFIRM, "abcdefghijkl")


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    install_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_an_exception_holding_an_address_is_logged_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise ValueError(f"no mailbox {ADDRESS} for token {TOKEN}")
    except ValueError:
        logger.exception("sending to %s failed", ADDRESS)
    text = stream.getvalue()

    assert ADDRESS not in text
    assert TOKEN not in text
    assert "sending to <address> failed" in text
    assert "ValueError: no mailbox <address> for token <token>" in text
    assert "Traceback (most recent call last)" in text


def test_the_record_holds_only_the_redacted_traceback(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, _ = captured
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logger.addHandler(keep)
    try:
        try:
            raise RuntimeError(ADDRESS)
        except RuntimeError:
            logger.error("failed", exc_info=True, stack_info=True)
        logger.info("%s@%s", "victim", "example.org")  # an address only once put together
        logger.info("link %(token)s", {"token": TOKEN})
    finally:
        logger.removeHandler(keep)

    failed, joined, mapping = records
    assert failed.exc_info is None  # no formatter can print the original
    assert failed.exc_text is not None and "RuntimeError: <address>" in failed.exc_text
    assert failed.stack_info is not None and ADDRESS not in failed.stack_info
    assert joined.getMessage() == "<address>"
    assert mapping.getMessage() == "link <token>"


def test_installing_twice_redacts_once() -> None:
    install_redaction()
    factory = logging.getLogRecordFactory()
    install_redaction()
    assert logging.getLogRecordFactory() is factory


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (f"to {ADDRESS}.", "to <address>."),
        ("Anna+tag@Sub.Example.CO.UK", "<address>"),
        (f"/confirm/{TOKEN}", "/confirm/<token>"),
        ("POST /letters/{slug}/sign 303 1.2ms", "POST /letters/{slug}/sign 303 1.2ms"),
        ("app.kit.logging", "app.kit.logging"),
    ],
)
def test_redact(text: str, redacted: str) -> None:
    assert redact(text) == redacted
