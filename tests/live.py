"""The app served on loopback by a real uvicorn, and Debian's Chromium: shared by the tests,
bench/ and scripts/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.types import ASGIApp

from app.config import Settings
from app.privacy.keys import new_encryption_key_entry, new_hash_key, new_secret_key
from tests.pg import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home, which a closed network
# (or a careful user) refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def serving(app: ASGIApp, *, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` in a thread until the block ends; yields its base URL."""
    port = port or free_port()
    # log_config=None: uvicorn's loggers propagate to the root logger (and the tests' log check)
    # instead of getting handlers of their own.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def throwaway_settings(
    database_url: str, data_dir: Path, base_url: str = "http://127.0.0.1:8000", **changes: object
) -> Settings:
    """Settings for a database that lives as long as a benchmark or a screenshot run: fresh
    keys, and an SMTP host that is never contacted (no worker runs)."""
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "base_url": base_url,
        "secret_keys": [new_secret_key()],
        "encryption_keys": [new_encryption_key_entry()],
        "hash_key": new_hash_key(),
        "smtp_host": "127.0.0.1",
    }
    return Settings(**(values | changes))  # type: ignore[arg-type]


@contextmanager
def chromium_page(base_url: str, **context_options: Any) -> Iterator[Page]:
    """A page in a fresh headless Debian Chromium; relative URLs go to ``base_url``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(base_url=base_url, **context_options)
        context.set_default_timeout(10_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
