"""Each web process keeps every counter it has served as ready bytes, and re-reads the counts of
those letters at most five times per freshness interval (so the public count stays within one
interval of the signatures, with the fold job's share), in one query, off the event loop.

Between refreshes a request touches no database and no thread: it finds its bytes in a dict.
The first request after the interval starts the refresh and waits for it (a few milliseconds);
requests arriving meanwhile get the bytes they would have got a moment earlier. A slug never
seen, or seen as missing longer ago than the interval, is looked up once, however many requests
ask for it at the same time. Processes share nothing: each reads the same table, so they agree
within one interval. If the database is unreachable, the last known bytes keep being served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine

from app.config import Settings
from app.counters import render
from app.counters.render import Choice, Policy, Prepared
from app.counters.service import CounterSnapshot, counter_snapshots
from app.db import open_session

log = logging.getLogger(__name__)

# The share of the freshness interval between two reads of the counts (see app/counters/jobs.py).
REREAD_SHARE = 0.2

KINDS = ("count.json", "badge.svg", "embed")


class Overloaded:
    """Too many first lookups at once (or the database failed): the fast path hands the
    request to the framework, whose admission control queues it."""


OVERLOADED = Overloaded()


@dataclass
class _Entry:
    snapshot: CounterSnapshot
    count: Prepared | None = None
    # (kind, raw query string) -> answer, and (kind, locale, theme) -> answer.
    by_query: dict[tuple[str, bytes], Prepared] = field(default_factory=dict)
    by_choice: dict[tuple[str, Choice], Prepared] = field(default_factory=dict)


class CounterCache:
    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        max_letters: int = 1000,
        max_variants: int = 64,
        max_missing: int = 10_000,
        max_loading: int = 8,
    ) -> None:
        self.engine = engine
        self.base_url = settings.base_url
        self.freshness = settings.count_freshness_seconds
        self.reread = self.freshness * REREAD_SHARE
        self.policy = Policy.for_freshness(self.freshness)
        self.clock = clock
        self.max_letters = max_letters
        self.max_variants = max_variants
        self.max_missing = max_missing
        self.max_loading = max_loading
        self.script = render.embed_js(self.policy)
        self.not_found = {kind: render.not_found(kind, self.policy) for kind in KINDS}
        self._letters: dict[str, _Entry] = {}
        self._missing: dict[str, float] = {}
        self._next_refresh = 0.0
        self._loading: dict[str, asyncio.Future[list[CounterSnapshot]]] = {}
        # Database reads never take a thread an admitted request needs.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="counters")

    def forget(self) -> None:
        """Drop everything: the next request reads the database again (tests, and after
        ``recount`` in the same process)."""
        self._letters.clear()
        self._missing.clear()
        self._next_refresh = 0.0

    def close(self) -> None:
        self._executor.shutdown(wait=False)

    # -- finding a letter -----------------------------------------------------------------

    async def lookup(self, slug: str, *, queue: bool = False) -> _Entry | Overloaded | None:
        """The letter's entry; None if no public letter has this slug. ``queue`` waits for a
        first lookup even when many are under way (the framework's routes, already admitted)."""
        now = self.clock()
        if now >= self._next_refresh:
            await self._refresh(now)
        entry = self._letters.get(slug)
        if entry is not None:
            return entry
        until = self._missing.get(slug)
        if until is not None and until > now:
            return None
        return await self._load(slug, queue=queue)

    async def _refresh(self, now: float) -> None:
        # Set first: requests arriving during the query serve what is there.
        self._next_refresh = now + self.reread
        ids = [entry.snapshot.letter_id for entry in self._letters.values()]
        if not ids:
            return
        loop = asyncio.get_running_loop()
        try:
            fresh = await loop.run_in_executor(self._executor, self._read_ids, ids)
        except Exception:
            log.exception("counters: refresh failed; serving the last known counts")
            return
        by_id = {snapshot.letter_id: snapshot for snapshot in fresh}
        for slug, entry in list(self._letters.items()):
            snapshot = by_id.get(entry.snapshot.letter_id)
            if snapshot is None or snapshot.slug != slug:
                del self._letters[slug]  # gone, or renamed: looked up again when asked for
            elif snapshot != entry.snapshot:
                self._letters[slug] = _Entry(snapshot)

    async def _load(self, slug: str, *, queue: bool) -> _Entry | Overloaded | None:
        loop = asyncio.get_running_loop()
        pending = self._loading.get(slug)
        if pending is None or pending.get_loop() is not loop:
            if len(self._loading) >= self.max_loading and not queue:
                return OVERLOADED
            pending = loop.run_in_executor(self._executor, self._read_slug, slug)
            self._loading[slug] = pending
            pending.add_done_callback(lambda done: self._forget_loading(slug, done))
        try:
            found = await pending
        except Exception:
            log.exception("counters: lookup failed")
            return OVERLOADED
        if not found:
            if len(self._missing) >= self.max_missing:
                self._missing.clear()
            self._missing[slug] = self.clock() + self.reread
            return None
        entry = self._letters.get(slug)
        if entry is None:
            if len(self._letters) >= self.max_letters:
                del self._letters[next(iter(self._letters))]
            entry = self._letters[slug] = _Entry(found[0])
            self._missing.pop(slug, None)
        return entry

    def _forget_loading(self, slug: str, done: asyncio.Future[list[CounterSnapshot]]) -> None:
        if self._loading.get(slug) is done:
            del self._loading[slug]

    def _read_ids(self, ids: list[int]) -> list[CounterSnapshot]:
        with open_session(self.engine) as session:
            return counter_snapshots(session, letter_ids=ids)

    def _read_slug(self, slug: str) -> list[CounterSnapshot]:
        with open_session(self.engine) as session:
            return counter_snapshots(session, slug=slug)

    # -- the answer for a request ---------------------------------------------------------

    def prepared(self, entry: _Entry, kind: str, query_string: bytes) -> Prepared:
        if kind == "count.json":  # takes no parameters: ?_=cache-busters share one answer
            if entry.count is None:
                entry.count = render.count_json(entry.snapshot, self.policy)
            return entry.count
        found = entry.by_query.get((kind, query_string))
        if found is not None:
            return found
        snapshot = entry.snapshot
        choice = render.choice_from(query_string, default_locale=snapshot.language)
        found = entry.by_choice.get((kind, choice))
        if found is None:
            if kind == "badge.svg":
                found = render.badge_svg(snapshot, choice, self.policy)
            else:
                found = render.embed_html(snapshot, choice, self.policy, base_url=self.base_url)
            if len(entry.by_choice) < self.max_variants:
                entry.by_choice[(kind, choice)] = found
        if len(entry.by_query) < self.max_variants:
            entry.by_query[(kind, query_string)] = found
        return found
