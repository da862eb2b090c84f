"""Counters at the speed of a static file? Requests per second against the production setup.

    .venv/bin/python bench/counters.py [--workers N] [--duration 5] [--connections 64]
                                       [--sizes 1000,1000000] [--rate 50]

On a throwaway PostgreSQL: `undersigned serve --workers N` (one web process per core by
default, the job worker in the parent, as in production) is driven by `wrk` on loopback.
Each target right after a bare ASGI app served the same way (the same processes, sockets and
uvicorn settings), answering at the target's path the very bytes the target answers (the
ceiling): count.json, badge.svg, embed, conditional requests answered 304,
the letter page and /api/letters/{slug}, each as a ratio to the ceiling. All the while a
thread confirms pending signatures (--rate a second) and another reads count.json four times a
second to see how far the public count is behind the signatures. At 1,000 signatures, then
at 1,000,000 (bulk-inserted). wrk, the server and the database share the machine: compare the
ratios, not the absolute figures. Prints figures; never a test.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cli import alembic_config  # noqa: E402
from app.counters.service import fold_pending  # noqa: E402
from app.db import make_engine, open_session  # noqa: E402
from app.letters.demo import DEMO_SLUG, create_demo_letter  # noqa: E402
from app.privacy.keys import new_encryption_key_entry, new_hash_key, new_secret_key  # noqa: E402
from tests.pg import bench_databases, free_port  # noqa: E402

WRK = "/usr/bin/wrk"
FRESHNESS = 5.0

# Confirmed signatures spread over 60 days; pending ones made just now (older ones would be
# deleted by the hourly purge of unconfirmed signatures before they could be confirmed).
FILL = """
INSERT INTO signatures (public_id, letter_id, name, affiliation, city, country, language,
    visibility, may_contact, state, mails_in_window, created_at, confirmed_at,
    invalidated_reason)
SELECT :tag || g, :letter, 'Bench Signer', '', '',
    (ARRAY['DE','FR','IT','PL','ES',''])[1 + g % 6], 'en',
    CASE WHEN g % 3 = 0 THEN 'public' ELSE 'counted_only' END, false, CAST(:state AS varchar), 0,
    CASE WHEN CAST(:state AS varchar) = 'confirmed' THEN now() - (g % 60) * interval '1 day'
         ELSE now() END,
    CASE WHEN CAST(:state AS varchar) = 'confirmed' THEN now() - (g % 60) * interval '1 day' END, ''
FROM generate_series(1, :n) AS g
"""

# Follows the ETag it was last given, as a browser revalidating its copy does.
REVALIDATE_LUA = """
local etag = nil
request = function()
  if etag then return wrk.format(nil, nil, {["If-None-Match"] = etag}) end
  return wrk.format()
end
response = function(status, headers, body)
  if status == 200 then etag = headers["ETag"] or headers["etag"] end
end
"""

CEILING_APP = """
ROUTES = {{
    path: (
        {{"type": "http.response.start", "status": 200, "headers": headers}},
        {{"type": "http.response.body", "body": body}},
    )
    for path, (headers, body) in {routes!r}.items()
}}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    start, done = ROUTES.get(scope["path"], ROUTES["/"])
    await send(start)
    await send(done)
"""


@dataclass
class Truth:
    """What the signatures say: (monotonic time of commit, confirmed count after it)."""

    steps: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, moment: float, total: int) -> None:
        with self.lock:
            self.steps.append((moment, total))

    def behind(self, moment: float, served: int) -> float:
        """How long ago the first confirmation the served count lacks was committed."""
        with self.lock:
            for at, total in self.steps:
                if total > served and at <= moment:
                    return moment - at
        return 0.0


def confirm_in_background(
    engine: Engine, letter_id: int, base: int, rate: float, truth: Truth, stop: threading.Event
) -> None:
    total = base
    truth.add(time.monotonic(), total)
    batch = max(1, round(rate / 10))
    while not stop.wait(0.1):
        with open_session(engine, write=True) as session:
            done = session.execute(
                text(
                    "UPDATE signatures SET state = 'confirmed', confirmed_at = now() WHERE id IN"
                    " (SELECT id FROM signatures WHERE letter_id = :l AND state = 'pending'"
                    " LIMIT :n)"
                ),
                {"l": letter_id, "n": batch},
            ).rowcount
            session.commit()
        total += done
        truth.add(time.monotonic(), total)


def sample_lag(base_url: str, truth: Truth, lags: list[float], stop: threading.Event) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while not stop.wait(0.25):
            moment = time.monotonic()
            served = client.get(f"/letters/{DEMO_SLUG}/count.json").json()["signatures"]
            lags.append(truth.behind(moment, served))


def wrk(url: str, *, duration: int, connections: int, extra: list[str] | None = None) -> float:
    out = subprocess.run(
        [WRK, "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", *(extra or []), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for problem in re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: .*)", out):
        print(f"    ({problem})")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def process(command: list[str], env: dict[str, str], check_url: str) -> Iterator[None]:
    started = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        wait_until_up(check_url, started)
        yield
    finally:
        started.send_signal(signal.SIGTERM)
        try:
            started.wait(timeout=30)
        except subprocess.TimeoutExpired:
            started.kill()
            started.wait()


def fill(engine: Engine, letter_id: int, *, n: int, state: str, tag: str) -> None:
    with open_session(engine, write=True) as session:
        session.execute(text(FILL), {"tag": tag, "letter": letter_id, "n": n, "state": state})
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE signatures"))


def measure(
    base: str, ceiling_url: str, args: argparse.Namespace, workdir: Path
) -> dict[str, float | None]:
    """Each target right after a run of the ceiling, ``--repeat`` times: the machine is shared
    and its load moves, so the ratio of two neighbouring runs is what can be compared; the
    median of those ratios is shown with the rates of its pair."""
    slug = DEMO_SLUG
    lua = workdir / "revalidate.lua"
    lua.write_text(REVALIDATE_LUA)
    future = "Fri, 01 Jan 2100 00:00:00 GMT"
    targets: list[tuple[str, str, list[str]]] = [
        ("count.json", f"/letters/{slug}/count.json", []),
        ("badge.svg", f"/letters/{slug}/badge.svg", []),
        ("embed", f"/letters/{slug}/embed", []),
        ("304 If-None-Match", f"/letters/{slug}/count.json", ["-s", str(lua)]),
        (
            "304 If-Modified-Since",
            f"/letters/{slug}/count.json",
            ["-H", f"If-Modified-Since: {future}"],
        ),
        ("letter page", f"/letters/{slug}", []),
        ("api letter", f"/api/letters/{slug}", []),
    ]
    ratios: dict[str, float | None] = {}
    ceilings = []
    for label, path, extra in targets:
        if httpx.get(base + path).status_code == 404:
            print(f"  {label:<22} not built")
            ratios[label] = None
            continue
        pairs = []
        for _ in range(args.repeat):
            # The ceiling gets the same wrk options (a Lua script costs wrk time too).
            ceiling = wrk(  # the same path, so the same bytes as the target
                ceiling_url.rstrip("/") + path,
                duration=args.duration,
                connections=args.connections,
                extra=extra,
            )
            rate = wrk(
                base + path, duration=args.duration, connections=args.connections, extra=extra
            )
            ceilings.append(ceiling)
            pairs.append((rate / ceiling, rate, ceiling))
        ratio, rate, ceiling = sorted(pairs)[len(pairs) // 2]
        ratios[label] = ratio
        print(
            f"  {label:<22} {rate:7.0f} req/s   ceiling just before {ceiling:7.0f} req/s"
            f"   {ratio:5.2f}x   (all ratios: {', '.join(f'{p[0]:.2f}' for p in pairs)})"
        )
    print(f"  bare ASGI ceiling: median {statistics.median(ceilings):.0f} req/s")
    return ratios


def in_process_costs(url: str, workdir: Path, env: dict[str, str]) -> None:
    """CPU per request inside one process, without a network or a server: the whole app (fast
    path first) against a bare ASGI app sending the same bytes. Independent of the machine's
    load, unlike the rates: what the fast path adds to what uvicorn itself costs."""
    import asyncio

    from app.config import Settings
    from app.main import create_app

    settings = Settings(
        database_url=url,
        data_dir=workdir,
        base_url=env["UNDERSIGNED_BASE_URL"],
        secret_keys=[env["UNDERSIGNED_SECRET_KEYS"]],
        encryption_keys=[env["UNDERSIGNED_ENCRYPTION_KEYS"]],
        hash_key=env["UNDERSIGNED_HASH_KEY"],
        smtp_host="127.0.0.1",
    )
    app = create_app(settings)
    path = f"/letters/{DEMO_SLUG}/count.json"

    def scope(target: str, headers: list[tuple[bytes, bytes]]) -> dict[str, object]:
        return {
            "type": "http", "method": "GET", "path": target, "raw_path": target.encode(),
            "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
            "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "asgi": {"version": "3.0"},
            "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), *headers],
        }  # fmt: skip

    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def keep(message: dict[str, object]) -> None:
        sent.append(message)

    async def discard(message: dict[str, object]) -> None:
        pass

    async def bare(scope: object, receive: object, send: object) -> None:
        await discard(start)
        await discard(body)

    async def per_request(target: object, template: dict[str, object], n: int = 20_000) -> float:
        began = time.perf_counter()
        for _ in range(n):
            await target(dict(template), receive, discard)  # type: ignore[operator]
        return (time.perf_counter() - began) / n * 1e6

    async def main() -> None:
        await app(scope(path, []), receive, keep)
        etag = dict(sent[0]["headers"])[b"etag"]  # type: ignore[call-overload]
        figures = {
            "bare ASGI": await per_request(bare, scope("/", [])),
            "count.json": await per_request(app, scope(path, [])),
            "304": await per_request(app, scope(path, [(b"if-none-match", etag)])),
            "badge.svg": await per_request(app, scope(path.replace("count.json", "badge.svg"), [])),
        }  # fmt: skip
        print(
            "  in-process CPU per request: "
            + ", ".join(f"{k} {v:.1f} µs" for k, v in figures.items())
        )

    start: dict[str, object] = {"type": "http.response.start", "status": 200, "headers": []}
    body: dict[str, object] = {"type": "http.response.body", "body": b"x" * 100}
    asyncio.run(main())
    app.state.engine.dispose()


def run_size(
    size: int, *, engine: Engine, letter_id: int, base: str, args: argparse.Namespace,
    serve: list[str], env: dict[str, str], workdir: Path,
) -> None:  # fmt: skip
    count_url = f"{base}/letters/{DEMO_SLUG}/count.json"
    with process(serve, env, f"{base}/embed.js"):
        sample = httpx.get(count_url)
        samples = {
            path: httpx.get(base + path)
            for path in (
                f"/letters/{DEMO_SLUG}/count.json",
                f"/letters/{DEMO_SLUG}/badge.svg",
                f"/letters/{DEMO_SLUG}/embed",
                f"/letters/{DEMO_SLUG}",
                f"/api/letters/{DEMO_SLUG}",
            )
        }
        with ceiling_server(samples, str(args.workers), workdir) as ceiling_url:
            base_count = int(sample.json()["signatures"])
            print(f"\n{base_count:,} confirmed signatures, {args.rate:g} more confirmed a second:")
            truth, lags, stop = Truth(), [], threading.Event()
            threads = [
                threading.Thread(
                    target=confirm_in_background,
                    args=(engine, letter_id, base_count, args.rate, truth, stop),
                ),
                threading.Thread(target=sample_lag, args=(base, truth, lags, stop)),
            ]
            for thread in threads:
                thread.start()
            try:
                measure(base, ceiling_url, args, workdir)
            finally:
                stop.set()
                for thread in threads:
                    thread.join()
    confirmed = truth.steps[-1][1] - base_count
    print(
        f"  confirmed meanwhile: {confirmed:,}; count.json behind the signatures: "
        f"max {max(lags):.1f} s, median {statistics.median(lags):.1f} s "
        f"({len(lags)} samples, freshness interval {FRESHNESS:g} s)"
    )


def run(args: argparse.Namespace) -> None:
    for label, url, workdir in bench_databases("counters"):
        if label != "PostgreSQL":
            continue
        if url is None:
            print("PostgreSQL is not installed: nothing measured.")
            return
        from alembic import command

        command.upgrade(alembic_config(url), "head")
        engine = make_engine(url)
        with open_session(engine, write=True) as session:
            create_demo_letter(session)
            session.commit()
            query = text("SELECT id FROM letters WHERE slug = :s")
            letter_id = int(session.execute(query, {"s": DEMO_SLUG}).scalar_one())
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "UNDERSIGNED_DATABASE_URL": url,
            "UNDERSIGNED_DATA_DIR": str(workdir),
            "UNDERSIGNED_BASE_URL": base,
            "UNDERSIGNED_SECRET_KEYS": new_secret_key(),
            "UNDERSIGNED_ENCRYPTION_KEYS": new_encryption_key_entry(),
            "UNDERSIGNED_HASH_KEY": new_hash_key(),
            "UNDERSIGNED_SMTP_HOST": "127.0.0.1",
            "UNDERSIGNED_COUNT_FRESHNESS_SECONDS": str(FRESHNESS),
        }
        serve = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
        serve += ["--workers", str(args.workers)]
        wrk_args = f"wrk -t2 -c{args.connections} -d{args.duration}s"
        print(f"PostgreSQL; undersigned serve --workers {args.workers}; {wrk_args}")
        print(f"load average before: {os.getloadavg()}")
        filled = 0
        for size in args.sizes:
            started = time.monotonic()
            fill(engine, letter_id, n=size - filled, state="confirmed", tag=f"c{size}-")
            fill(engine, letter_id, n=20_000, state="pending", tag=f"p{size}-")
            folded = fold_pending(engine)
            print(
                f"\nfilled to {size:,} in {time.monotonic() - started:.1f} s"
                f" ({folded} delta rows folded)"
            )
            filled = size
            run_size(
                size, engine=engine, letter_id=letter_id, base=base, args=args, serve=serve,
                env=env, workdir=workdir,
            )  # fmt: skip
            in_process_costs(url, workdir, env)
        print(f"\nload average after: {os.getloadavg()}")
        engine.dispose()


@contextmanager
def ceiling_server(
    samples: dict[str, httpx.Response], workers: str, workdir: Path
) -> Iterator[str]:
    """The same server (app/kit/serving.py's processes, uvicorn settings and sockets) and, at
    each target's path, the same bytes (headers too) as that target, with nothing in front;
    ``/`` answers with the first sample's."""
    routes = {
        path: (
            [
                (name.encode(), value.encode())
                for name, value in sample.headers.items()
                if name not in ("date", "server")
            ],
            sample.content,
        )
        for path, sample in samples.items()
    }
    routes["/"] = routes[next(iter(samples))]
    (workdir / "ceiling.py").write_text(textwrap.dedent(CEILING_APP.format(routes=routes)))
    port = free_port()
    serve = (
        f"import sys; sys.path.insert(0, {str(workdir)!r}); "
        "from app.kit.serving import serve_processes; "
        f"sys.exit(serve_processes('ceiling:app', host='127.0.0.1', port={port}, "
        f"workers={workers}, factory=False))"
    )
    command = [sys.executable, "-c", serve]  # as `serve --workers N` serves the app
    with process(command, {**os.environ, "PYTHONPATH": str(ROOT)}, f"http://127.0.0.1:{port}/"):
        yield f"http://127.0.0.1:{port}/"


def main() -> None:
    from app.cli import default_workers

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=float, default=50.0, help="confirmations per second")
    parser.add_argument("--repeat", type=int, default=3, help="runs per target (median shown)")
    parser.add_argument(
        "--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[1000, 1_000_000]
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
