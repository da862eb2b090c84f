"""The suite-wide log check: every log line written during the whole run is kept, and the run
fails if any of them holds an email address or a token. The redaction in app.kit.logging
should make this impossible; this catches whatever gets past it."""

from __future__ import annotations

import logging

from app.kit.logging import EMAIL_PATTERN, TOKEN_PATTERN

# The app's loggers and uvicorn's, at DEBUG for the whole run (caplog.set_level still works:
# it changes a level for one test and puts it back).
LOGGERS = ("app", "undersigned", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class KeepEveryLine(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a broken record must not break the test that logged it
            self.handleError(record)


def start() -> KeepEveryLine:
    handler = KeepEveryLine()
    logging.getLogger().addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    return handler


def offending(lines: list[str]) -> list[str]:
    """Lines holding an address or a token, cut short just after where it starts."""
    found = []
    for line in lines:
        for pattern in (EMAIL_PATTERN, TOKEN_PATTERN):
            if match := pattern.search(line):
                found.append(line[: match.start() + 3].replace("\n", " ") + "…")
                break
    return found
