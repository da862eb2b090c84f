"""Bursts of simultaneous signers against uvicorn in its own process, on SQLite and PostgreSQL.

    .venv/bin/python bench/burst.py [--bursts 100 300] [--max-active N]

Each burst releases its signers together (a barrier), each with its own connection and address,
while one reader asks for count.json in a loop. Prints status counts and p50/p95/max latency of
the signs, and the slowest count.json seen during the burst. Never run as a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli import alembic_config
from app.db import make_engine, open_session
from app.letters.demo import DEMO_SLUG, create_demo_letter
from app.privacy.keys import new_encryption_key_entry, new_hash_key, new_secret_key
from tests.pg import bench_databases, free_port

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def server_process(database_url: str, data_dir: Path, max_active: int | None) -> Iterator[str]:
    """Migrate, add the demo letter, and serve the app with uvicorn in a child process."""
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")
    engine = make_engine(database_url)
    with open_session(engine, write=True) as session:
        create_demo_letter(session)
        session.commit()
    engine.dispose()
    port = free_port()
    env = dict(
        os.environ,
        UNDERSIGNED_DATABASE_URL=database_url,
        UNDERSIGNED_DATA_DIR=str(data_dir),
        UNDERSIGNED_SECRET_KEYS=new_secret_key(),
        UNDERSIGNED_ENCRYPTION_KEYS=new_encryption_key_entry(),
        UNDERSIGNED_HASH_KEY=new_hash_key(),
        UNDERSIGNED_SMTP_HOST="127.0.0.1",  # never contacted: no job worker runs here
        UNDERSIGNED_BASE_URL=f"http://127.0.0.1:{port}",
    )
    if max_active is not None:
        env["UNDERSIGNED_MAX_ACTIVE_REQUESTS"] = str(max_active)
    command_line = [
        sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    child = subprocess.Popen(command_line, cwd=ROOT, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/letters/{DEMO_SLUG}/count.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.1)
        yield base_url
    finally:
        child.terminate()
        child.wait(timeout=30)


def burst(base_url: str, size: int, label: str) -> None:
    with httpx.Client(base_url=base_url, timeout=120) as first:
        assert first.get(f"/letters/{DEMO_SLUG}").status_code == 200
    barrier = threading.Barrier(size + 1)
    done = threading.Event()

    def sign(n: int) -> tuple[int, float]:
        form = {
            "name": f"Burst Signer {n}",
            "email": f"{label}-{n}@example.org",
            "visibility": "public",
        }
        with httpx.Client(base_url=base_url, timeout=120) as c:
            barrier.wait(timeout=60)
            started = time.perf_counter()
            try:
                status = c.post(f"/letters/{DEMO_SLUG}/sign", data=form).status_code
            except httpx.TransportError:
                status = 0  # no answer at all
            return status, time.perf_counter() - started

    def read_counts() -> list[float]:
        latencies = []
        with httpx.Client(base_url=base_url, timeout=120) as c:
            barrier.wait(timeout=60)
            while not done.is_set():
                started = time.perf_counter()
                # A request that failed still counts by its time: the reader waited for nothing.
                with suppress(httpx.TransportError):
                    c.get(f"/letters/{DEMO_SLUG}/count.json")
                latencies.append(time.perf_counter() - started)
        return latencies

    with ThreadPoolExecutor(size + 1) as pool:
        reader = pool.submit(read_counts)
        results = list(pool.map(sign, range(size)))
        done.set()
        reads = reader.result()
    statuses = Counter(status for status, _ in results)
    latencies = sorted(elapsed for _, elapsed in results)
    cuts = statistics.quantiles(latencies, n=100)
    shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    print(
        f"  burst {size:>4}  [{shown}]  p50 {cuts[49]:6.2f} s  p95 {cuts[94]:6.2f} s  "
        f"max {latencies[-1]:6.2f} s   count.json during it: {len(reads)} answers, "
        f"slowest {max(reads, default=0):5.2f} s"
    )


def run(engine_name: str, database_url: str, workdir: Path, args: argparse.Namespace) -> None:
    print(f"{engine_name}:")
    with server_process(database_url, workdir, args.max_active) as base_url:
        for n, size in enumerate(args.bursts):
            burst(base_url, size, f"b{n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bursts", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--max-active", type=int, default=None, help="UNDERSIGNED_MAX_ACTIVE_…")
    args = parser.parse_args()
    for label, url, workdir in bench_databases("burst"):
        if url is None:
            print(f"{label}: not installed, skipped")
            continue
        run(label, url, workdir, args)


if __name__ == "__main__":
    main()
