"""Signing and count.json throughput against a real uvicorn server, on SQLite and PostgreSQL.

    .venv/bin/python bench/signing.py [--signs 300] [--counts 2000] [--threads 8]

Prints requests per second and latency percentiles. Figures vary with the machine; compare
engines and endpoints within one run. Never run as a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli import alembic_config
from app.db import open_session
from app.letters.demo import DEMO_SLUG, create_demo_letter
from app.main import create_app
from tests.live import serving, throwaway_settings
from tests.pg import bench_databases


@contextmanager
def demo_server(database_url: str, data_dir: Path) -> Iterator[str]:
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")
    settings = throwaway_settings(database_url, data_dir)
    app = create_app(settings)
    with open_session(app.state.engine, write=True) as session:
        create_demo_letter(session)
        session.commit()
    try:
        with serving(app) as base_url:
            yield base_url
    finally:
        app.state.engine.dispose()


def measure(label: str, total: int, threads: int, call: Callable[[int], None]) -> None:
    latencies: list[float] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        started = time.perf_counter()
        call(n)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(total)))
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"  {label:<12} {total:>6} requests  {total / wall:8.1f} req/s  "
        f"p50 {cuts[49] * 1000:6.1f} ms  p95 {cuts[94] * 1000:6.1f} ms"
    )


def run(engine_name: str, base: str, args: argparse.Namespace) -> None:
    print(f"{engine_name}:")
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=30)
            page = local.client.get(f"/letters/{DEMO_SLUG}")
            assert page.status_code == 200
        return local.client  # type: ignore[no-any-return]

    def sign(n: int) -> None:
        c = client()
        form = {
            "name": f"Bench Signer {n}",
            "email": f"bench-{n}@example.org",
            "visibility": "public",
        }
        response = c.post(f"/letters/{DEMO_SLUG}/sign", data=form)
        assert response.status_code == 303, response.status_code

    def count(_: int) -> None:
        response = client().get(f"/letters/{DEMO_SLUG}/count.json")
        assert response.status_code == 200

    def letter(_: int) -> None:
        assert client().get(f"/letters/{DEMO_SLUG}").status_code == 200

    measure("sign (POST)", args.signs, args.threads, sign)
    measure("count.json", args.counts, args.threads, count)
    measure("letter page", args.counts // 4, args.threads, letter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--signs", type=int, default=300)
    parser.add_argument("--counts", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    for label, url, workdir in bench_databases("bench"):
        if url is None:
            print(f"{label}: not installed, skipped")
            continue
        with demo_server(url, workdir) as base:
            run(label, base, args)


if __name__ == "__main__":
    main()
