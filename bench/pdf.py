"""PDF letters at scale: names per second and peak memory, cold and with chunks kept.

    .venv/bin/python bench/pdf.py [--sizes 10000,100000,1000000] [--processes 2]

On a throwaway SQLite database (``--keep DIR`` to keep it) it fills the demo letter with
synthetic signatures (``undersigned demo --signatures``'s generator) and times, in one run:

- a ReportLab canvas writing 100,000 names, three to a line: the floor;
- the naive baseline: 10,000 names as one WeasyPrint document with a three-column list;
- an export for one recipient at each size from an empty chunk cache (names/s, peak memory);
- at 100,000: re-export after 1,000 new signatures, and 10 recipients against one (cold);
- at the largest size: the export again with its chunks kept.

Exports run as ``undersigned export-pdf`` runs them: jobs in the queue, taken by helper
processes (``--processes``). Peak memory is sampled from /proc every 50 ms over this process
and all its descendants: the largest resident set of a single process, and the largest sum of
proportional set sizes (a page shared by several processes counted once over all of them).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import select

from app.cli import migrate
from app.config import Settings
from app.db import make_engine, open_session
from app.exports.pdf.local import run_export_here
from app.exports.pdf.models import PdfExport
from app.exports.pdf.service import files_for, start_export
from app.exports.pdf.synthetic import add_synthetic_signatures, synthetic_rows
from app.letters.demo import DEMO_SLUG, create_demo_letter
from app.letters.models import Letter, Recipient

PAGE = os.sysconf("SC_PAGE_SIZE")
T = TypeVar("T")


class MemorySampler:
    """Memory of this process and its descendants (forkserver children included): the largest
    resident set of one process, and the largest sum of proportional set sizes."""

    def __init__(self) -> None:
        self.peak_process = 0
        self.peak_total = 0
        self.at_peak: list[tuple[str, int]] = []  # each process's share at the largest sum
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.05):
            parents: dict[int, int] = {}
            rss: dict[int, int] = {}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        fields = stat.read().rsplit(")", 1)[1].split()
                    with open(f"/proc/{entry}/statm") as statm:
                        rss[int(entry)] = int(statm.read().split()[1]) * PAGE
                except (OSError, IndexError, ValueError):
                    continue
                parents[int(entry)] = int(fields[1])
            ours = [pid for pid in rss if _descends(pid, me, parents)]
            if ours:
                self.peak_process = max(self.peak_process, max(rss[pid] for pid in ours))
                shares = {pid: _pss(pid) for pid in ours}
                if sum(shares.values()) > self.peak_total:
                    self.peak_total = sum(shares.values())
                    self.at_peak = sorted(
                        (("this" if pid == me else "helper"), share)
                        for pid, share in shares.items()
                    )


def _pss(pid: int) -> int:
    """Proportional set size: each page shared by n processes counted 1/n in each, so a sum
    over processes is the memory they take together (forkserver children share much)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _descends(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    while pid and pid != 1:
        if pid == ancestor:
            return True
        pid = parents.get(pid, 0)
    return False


def mb(value: int) -> str:
    return f"{value / 2**20:,.0f} MB"


def reportlab_floor(names: int) -> float:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    rows = list(synthetic_rows(1, "en", names, seed=1))
    started = time.perf_counter()
    drawing = canvas.Canvas(io.BytesIO(), pagesize=A4)
    y = 800.0
    line: list[str] = []
    for row in rows:
        line.append(f"{row['name']} ({row['city']}, {row['country']})")
        if len(line) == 3:
            drawing.drawString(40, y, " · ".join(line))
            line.clear()
            y -= 10
            if y < 40:
                drawing.showPage()
                y = 800.0
    drawing.save()
    return time.perf_counter() - started


def in_child(function: Callable[..., T], *args: object) -> T:
    """Run in a child process: its memory is its own, and this process stays as lean as
    ``undersigned export-pdf`` is (its memory counts in every export's figures below)."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(function, args)


def naive_baseline(names: int) -> tuple[float, int]:
    return in_child(_naive, names)


def _naive(names: int) -> tuple[float, int]:
    """One WeasyPrint document, the names in a bold-name list flowed into three columns."""
    import resource

    from markupsafe import escape
    from weasyprint import HTML

    items = "".join(
        f"<li><b>{escape(row['name'])}</b><br>{escape(row['city'])}, {row['country']}</li>"
        for row in synthetic_rows(1, "en", names, seed=2)
    )
    html = (
        "<html><style>@page{size:A4;margin:2cm} ul{columns:3;font:8pt 'Noto Serif';"
        "list-style:none;padding:0} li{break-inside:avoid;margin-bottom:2pt}</style>"
        f"<body><h1>Signatories</h1><ul>{items}</ul></body></html>"
    )
    started = time.perf_counter()
    HTML(string=html).write_pdf()
    elapsed = time.perf_counter() - started
    return elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def layout_rate(names: int) -> tuple[float, float]:
    """One chunk laid out in this process: names per CPU-second (what a core does whatever
    else the machine runs) and per wall-clock second."""
    from app.exports.pdf.render import ListEntry, render_list_chunk

    entries = [
        ListEntry(str(row["name"]), str(row["affiliation"]), str(row["city"]), str(row["country"]))
        for row in synthetic_rows(1, "en", names, seed=3)
    ]
    render_list_chunk(entries[:20], language="en", heading=False)  # fonts loaded
    cpu, wall = time.process_time(), time.perf_counter()
    render_list_chunk(entries, language="en", heading=False)
    return names / (time.process_time() - cpu), names / (time.perf_counter() - wall)


def _add(url: str, count: int, seed: int) -> None:
    engine = make_engine(url)
    add_synthetic_signatures(engine, slug=DEMO_SLUG, count=count, seed=seed)
    engine.dispose()


class Bench:
    def __init__(self, folder: Path, processes: int) -> None:
        self.settings = Settings(data_dir=folder)
        self.processes = processes
        migrate(self.settings)
        self.engine = make_engine(self.settings.resolved_database_url())
        with open_session(self.engine, write=True) as session:
            create_demo_letter(session)
            session.commit()
            letter = session.exec(select(Letter).where(Letter.slug == DEMO_SLUG)).one()
            assert letter.id is not None
            self.letter_id = letter.id
            for number in range(5):  # ten recipients in all
                session.add(
                    Recipient(letter_id=letter.id, position=10 + number, name=f"Minister {number}")
                )
            session.commit()
            self.recipients = [
                r
                for r in session.exec(select(Recipient.id).where(Recipient.letter_id == letter.id))
            ]
        self.total = 0
        self.last_breakdown = ""

    def add(self, count: int) -> float:
        started = time.perf_counter()
        in_child(_add, self.settings.resolved_database_url(), count, self.total)
        self.total += count
        return time.perf_counter() - started

    def clear_cache(self) -> None:
        shutil.rmtree(self.settings.pdf_storage_path / "chunks", ignore_errors=True)

    def export(self, recipients: int = 1) -> tuple[float, int, int, int, int]:
        """Seconds, peak process and total memory, named signatories, pages of one file."""
        with MemorySampler() as memory:
            started = time.perf_counter()
            with open_session(self.engine, write=True) as session:
                export_id = start_export(
                    session,
                    letter_id=self.letter_id,
                    recipient_ids=[r for r in self.recipients[:recipients] if r is not None],
                    requested_by=None,
                )
                session.commit()
            progress = run_export_here(
                self.settings, export_id=export_id, processes=self.processes, poll_seconds=0.05
            )
            elapsed = time.perf_counter() - started
        assert progress.state.value == "done", progress.error
        self.last_breakdown = ", ".join(f"{name} {mb(share)}" for name, share in memory.at_peak)
        with open_session(self.engine) as session:
            files = files_for(session, export_id)
            row = session.get(PdfExport, export_id)
            assert row is not None
        return elapsed, memory.peak_process, memory.peak_total, row.named_count, files[0].pages


def report(label: str, result: tuple[float, int, int, int, int], breakdown: str = "") -> None:
    seconds, process, total, named, pages = result
    print(
        f"{label:<44} {seconds:8.1f} s  {named / seconds:8,.0f} names/s  "
        f"peak {mb(process)} (one process), {mb(total)} (all, PSS)  "
        f"{named:,} names, {pages:,} pages",
        flush=True,
    )
    if breakdown:
        print(f"{'':<46}(at the largest sum, PSS: {breakdown})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", help="keep the database and files in this folder")
    parser.add_argument("--skip-baselines", action="store_true", help="no floor, no naive run")
    parser.add_argument("--skip-recipients", action="store_true", help="no 10-recipient run")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    detail = 100_000 if 100_000 in sizes else sizes[0]
    print(f"cores: {os.cpu_count()}, helper processes: {args.processes}, load: {os.getloadavg()}")

    cpu_rate, wall_rate = in_child(layout_rate, 3000)
    label = "list layout, 3,000 names in one process"
    print(f"{label:<44} {cpu_rate:8,.0f} names per CPU-second ({wall_rate:,.0f} per second)")
    if not args.skip_baselines:
        floor = in_child(reportlab_floor, 100_000)
        print(f"{'ReportLab canvas, 100,000 names (floor)':<44} {floor:8.1f} s")
        seconds, peak = naive_baseline(10_000)
        label = "naive: 10,000 names, 3 columns, 1 document"
        print(f"{label:<44} {seconds:8.1f} s  {10_000 / seconds:8,.0f} names/s  peak {mb(peak)}")

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    bench = Bench(folder, args.processes)
    try:
        for size in sizes:
            seconds = bench.add(size - bench.total)
            print(f"  ({size:,} signatures in the database; added in {seconds:.1f} s)", flush=True)
            bench.clear_cache()
            one = bench.export()
            report(f"{size:,} signatures, 1 recipient, cold", one, bench.last_breakdown)
            if size == detail:
                bench.add(1000)
                again = bench.export()
                report("  after 1,000 new signatures (chunks kept)", again, bench.last_breakdown)
                if not args.skip_recipients:
                    bench.clear_cache()
                    many = bench.export(recipients=10)
                    report("  10 recipients, cold", many, bench.last_breakdown)
                    print(f"  10 recipients / 1 recipient: {many[0] / one[0]:.2f}x", flush=True)
        kept = bench.export()
        report(f"{bench.total:,} signatures, chunks kept", kept, bench.last_breakdown)
        print(f"load at the end: {os.getloadavg()}")
    finally:
        bench.engine.dispose()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
