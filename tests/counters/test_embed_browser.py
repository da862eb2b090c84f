"""The counter on someone else's site, in Chromium: a page on another origin frames the embed
page and uses embed.js; after a new confirmation (and the counts' job), the number changes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from app.config import Settings
from app.counters.service import fold_pending
from app.main import create_app
from tests.helpers import add_letter, add_signature
from tests.live import chromium_page, serving

pytestmark = pytest.mark.browser


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def other_site(folder: Path) -> Iterator[str]:
    """A plain static server: another origin (another port) than the app's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_embed_and_the_script_work_on_another_site(
    chromium: Path, settings: Settings, tmp_path: Path
) -> None:
    # Counts re-read every second, so the browser sees the change soon; nothing here waits
    # for a fixed time: the assertions poll for the state.
    app = create_app(settings.model_copy(update={"count_freshness_seconds": 1}))
    engine = app.state.engine
    add_letter(engine, "embedded", goal=100)
    for n in range(3):
        add_signature(engine, "embedded", name="A B", email=f"{n}@ex.org")
    fold_pending(engine)
    site = tmp_path / "site"
    site.mkdir()
    (site / "favicon.ico").write_bytes(b"")  # so the only errors would be ours
    try:
        with serving(app) as ours:
            (site / "article.html").write_text(
                "<!doctype html><html lang='en'><title>News</title><h1>An article</h1>"
                f"<iframe id='frame' src='{ours}/letters/embedded/embed?theme=dark'"
                " title='Signatures' width='320' height='160'></iframe>"
                "<div id='live' data-letter='embedded'></div>"
                f"<script src='{ours}/embed.js' async></script>",
                encoding="utf-8",
            )
            with other_site(site) as theirs, chromium_page(theirs) as page:
                problems: list[str] = []
                page.on(
                    "console",
                    lambda message: (
                        problems.append(message.text) if message.type == "error" else None
                    ),
                )
                page.goto("/article.html")
                frame = page.frame_locator("#frame")
                expect(frame.locator(".count strong")).to_have_text("3")
                expect(frame.locator("progress")).to_have_attribute("value", "3")
                expect(frame.get_by_role("link", name="Sign")).to_have_attribute("target", "_top")
                live = page.locator("#live .undersigned-number")
                expect(live).to_have_text("3")
                assert page.evaluate("document.cookie") == ""

                add_signature(engine, "embedded", name="C D", email="new@ex.org")
                fold_pending(engine)  # what the recurring job does within the interval
                expect(live).to_have_text("4", timeout=15_000)
                page.reload()
                expect(frame.locator(".count strong")).to_have_text("4", timeout=15_000)
                assert problems == []
                context_cookies = page.context.cookies()
                assert context_cookies == []
    finally:
        engine.dispose()
