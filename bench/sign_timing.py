"""Does a sign request take the same time whether or not the mailbox has signed?

Serves the app (SQLite, then a throwaway PostgreSQL) and sends, interleaved round by round so
drift on a noisy machine hits every kind alike, sign requests for: a new mailbox; a mailbox
whose signature is pending (within its mail limit); one that is confirmed; one past its mail
limit. Prints the median and p90 of each, and each median's ratio to the new mailbox's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import update
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from signing import demo_server

from app.db import make_engine, open_session, utcnow
from app.letters.demo import DEMO_SLUG
from app.signatures.models import Signature, SignatureState
from tests.pg import bench_databases

KINDS = ("new mailbox", "pending", "confirmed", "past limit")


def run(label: str, base: str, database_url: str, rounds: int) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        client.get(f"/letters/{DEMO_SLUG}")

        def post(email: str, name: str = "Timing Test") -> float:
            form = {"name": name, "email": email, "visibility": "public"}
            started = time.perf_counter()
            response = client.post(f"/letters/{DEMO_SLUG}/sign", data=form)
            elapsed = time.perf_counter() - started
            assert response.status_code == 303, response.status_code
            return elapsed

        # Prepare: pending ones (one mail used), confirmed ones, and ones past their limit.
        for n in range(rounds):
            post(f"pending-{n}@example.org")
            post(f"confirmed-{n}@example.org", name="Confirmed Signer")
            for _ in range(3):
                post(f"limited-{n}@example.org")
        engine = make_engine(database_url)
        with open_session(engine, write=True) as session:
            session.execute(
                update(Signature)
                .where(col(Signature.name) == "Confirmed Signer")
                .values(state=SignatureState.CONFIRMED, confirmed_at=utcnow(), mails_in_window=0)
            )
            session.commit()
        engine.dispose()

        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for n in range(rounds):
            times["new mailbox"].append(post(f"new-{n}@example.org"))
            times["pending"].append(post(f"pending-{n}@example.org"))
            times["confirmed"].append(post(f"confirmed-{n}@example.org"))
            times["past limit"].append(post(f"limited-{n}@example.org"))
    baseline = statistics.median(times["new mailbox"])
    print(f"{label}: {rounds} rounds")
    for kind in KINDS:
        median = statistics.median(times[kind])
        p90 = statistics.quantiles(times[kind], n=10)[8]
        print(
            f"  {kind:<12} median {median * 1000:6.2f} ms  p90 {p90 * 1000:6.2f} ms"
            f"  ratio to new {median / baseline:5.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    for label, url, workdir in bench_databases("timing"):
        if url is None:
            print(f"{label}: not installed, skipped")
            continue
        with demo_server(url, workdir) as base:
            run(label, base, url, args.rounds)


if __name__ == "__main__":
    main()
