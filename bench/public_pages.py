"""The cacheable public pages and the public API against a real uvicorn server: a full answer
(200) and a conditional one (304), on SQLite and PostgreSQL, with a few hundred named signers.

    .venv/bin/python bench/public_pages.py [--requests 1000] [--threads 4] [--signers 300]

Prints requests per second and latency percentiles for each. Figures vary with the machine
(and with what else runs on it); compare the lines of one run. Never run as a test.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli import alembic_config
from app.db import open_session
from app.letters.demo import DEMO_SLUG, create_demo_letter
from app.main import create_app
from bench.signing import measure
from tests.helpers import add_signature
from tests.live import serving, throwaway_settings
from tests.pg import bench_databases


@contextmanager
def seeded_server(database_url: str, data_dir: Path, signers: int) -> Iterator[str]:
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")
    app = create_app(throwaway_settings(database_url, data_dir))
    with open_session(app.state.engine, write=True) as session:
        create_demo_letter(session)
        session.commit()
    for n in range(signers):
        add_signature(
            app.state.engine,
            DEMO_SLUG,
            name=f"Bench Signer{n}",
            email=f"b{n}@example.org",
            country=("DE", "FR", "PL", "")[n % 4],
        )
    try:
        with serving(app) as base_url:
            yield base_url
    finally:
        app.state.engine.dispose()


def run(label: str, base: str, args: argparse.Namespace) -> None:
    print(f"{label} ({args.signers} named signers, {args.threads} client threads):")
    local = threading.local()
    opened: list[httpx.Client] = []

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=30)
            opened.append(local.client)
        return local.client  # type: ignore[no-any-return]

    paths = {
        "letter page": f"/letters/{DEMO_SLUG}",
        "letters list": "/",
        "api letter": f"/api/letters/{DEMO_SLUG}",
        "api signers": f"/api/letters/{DEMO_SLUG}/signatures",
    }
    for name, path in paths.items():
        etag = client().get(path).headers["etag"]

        def full(_: int, path: str = path) -> None:
            assert client().get(path).status_code == 200

        def conditional(_: int, path: str = path, etag: str = etag) -> None:
            assert client().get(path, headers={"if-none-match": etag}).status_code == 304

        measure(f"{name} 200", args.requests, args.threads, full)
        measure(f"{name} 304", args.requests, args.threads, conditional)
    for each in opened:
        each.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--signers", type=int, default=300)
    args = parser.parse_args()
    for label, url, workdir in bench_databases("bench_public"):
        if url is None:
            print(f"{label}: not installed, skipped")
            continue
        with seeded_server(url, workdir, args.signers) as base:
            run(label, base, args)


if __name__ == "__main__":
    main()
