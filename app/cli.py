"""The ``undersigned`` command: migrate, demo, serve, worker, recount, letters load and dump,
webhooks."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.config import MIGRATIONS_DIR, ConfigurationError, Settings
from app.db import make_engine, open_session
from app.kit.logging import install_redaction
from app.kit.serving import HTTP_PROTOCOL
from app.privacy.keys import KeyMaterialError
from app.webhooks import cli as webhooks_cli

log = logging.getLogger("undersigned")

# Every `undersigned migrate` on PostgreSQL takes this advisory lock (any fixed number would do),
# so replicas that start together migrate one at a time and the later ones find nothing to do.
MIGRATION_LOCK_KEY = 0x756E6465  # "unde"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is an INI file underneath: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(settings: Settings) -> None:
    url = settings.resolved_database_url()
    engine = make_engine(url)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        command.upgrade(alembic_config(url), "head")  # SQLite: one file, one host
        return
    # The lock is held by a connection of its own (migrations/env.py opens the one Alembic
    # uses), in autocommit: an idle open transaction here would stall CREATE INDEX
    # CONCURRENTLY in a migration. A session lock dies with its connection, so a killed
    # migrator never leaves the others waiting.
    key = {"key": MIGRATION_LOCK_KEY}
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
            if not lock.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
                log.info("another process is migrating this database: waiting for it")
                lock.execute(text("SELECT pg_advisory_lock(:key)"), key)
            try:
                command.upgrade(alembic_config(url), "head")
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), key)
    finally:
        engine.dispose()


def demo(settings: Settings, *, signatures: int = 0) -> None:
    from app.letters.demo import DEMO_SLUG, create_demo_letter

    engine = make_engine(settings.resolved_database_url())
    with open_session(engine, write=True) as session:
        created = create_demo_letter(session)
        session.commit()
    engine.dispose()
    path = f"/letters/{DEMO_SLUG}"
    if "base_url" in settings.model_fields_set:
        where = f"{settings.base_url}{path}"
    else:  # only `serve` knows its port: it prints the full address when it starts
        where = f"{path} on the address `undersigned serve` prints"
    print(f"Demo letter {'created' if created else 'already there'}: {where}")
    if signatures:
        from app.exports.pdf.cli import fill_demo

        fill_demo(settings, count=signatures)


def default_workers() -> int:
    """One web process per core this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def serve(settings: Settings, *, host: str, port: int, with_worker: bool, workers: int = 1) -> None:
    import uvicorn

    from app.kit.serving import reserve_port
    from app.main import create_app

    holder = None
    if workers > 1:  # held first: refused at once if taken, and port 0 becomes the port used
        holder = reserve_port(host, port)
        port = holder.getsockname()[1]
    if "base_url" not in settings.model_fields_set and settings.is_local_default:
        # Links in mail must reach this server even when it runs on another port. A real
        # deployment must say its public address itself (check_startable refuses otherwise).
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        settings = settings.model_copy(update={"base_url": f"http://{shown_host}:{port}"})
    _print_addresses(settings, host=host, port=port)
    if not settings.smtp_host:
        print("No UNDERSIGNED_SMTP_HOST set: mail is printed here instead of sent.")
    if holder is not None:
        _serve_processes(
            settings, holder=holder, host=host, with_worker=with_worker, workers=workers
        )
        return
    # The worker lives in the app's lifespan, so a SIGTERM stops it cleanly before exit.
    app = create_app(settings, job_worker=with_worker)
    # Our own request log (app.kit.logging) names routes, never tokens or addresses.
    uvicorn.run(app, host=host, port=port, access_log=False, proxy_headers=True, http=HTTP_PROTOCOL)


def _serve_processes(
    settings: Settings, *, holder: socket.socket, host: str, with_worker: bool, workers: int
) -> None:
    """``workers`` web processes on one port (app/kit/serving.py), each with its own app and
    counter cache built from the environment; the job worker runs here, once. Nothing in
    the web processes migrates or creates data, so nothing runs N times at once."""
    from app.jobs.worker import JobWorker, start_in_thread
    from app.kit.serving import run_web_processes
    from app.mail.sender import make_sender

    settings.check_startable()  # here, once: key files are created before the processes start
    # The web processes read their settings from the environment: hand on what serve decided.
    os.environ["UNDERSIGNED_BASE_URL"] = settings.base_url
    engine = make_engine(settings.resolved_database_url())
    running = None
    if with_worker:
        worker = JobWorker(engine=engine, settings=settings, sender=make_sender(settings))
        running = start_in_thread(worker)
    try:
        run_web_processes(
            "app.main:app_from_environment",
            holder=holder,
            host=host,
            workers=workers,
            factory=True,
            heartbeat_seconds=settings.web_heartbeat_seconds,
        )
    finally:
        holder.close()
        if running is not None:
            thread, stop = running
            stop.set()
            thread.join(timeout=30)
        engine.dispose()


def _print_addresses(settings: Settings, *, host: str, port: int) -> None:
    """Where this server listens, and where readers find it (links in mail use the latter)."""
    from app.letters.demo import DEMO_SLUG
    from app.letters.service import LetterNotFound, get_public_summary

    shown_host = f"[{host}]" if ":" in host else host
    print(f"Listening on http://{shown_host}:{port}", flush=True)
    print(f"Letters: {settings.base_url}/", flush=True)
    engine = make_engine(settings.resolved_database_url())
    try:
        with open_session(engine) as session:
            get_public_summary(session, slug=DEMO_SLUG)
        print(f"Demo letter: {settings.base_url}/letters/{DEMO_SLUG}", flush=True)
    except (LetterNotFound, SQLAlchemyError):
        pass  # no demo letter, or no schema yet: the first request will say so
    finally:
        engine.dispose()


def recount(settings: Settings, *, slug: str | None) -> int:
    """Rebuild the counts from the signatures: all letters, or the one with ``slug``."""
    from app.counters.service import recount as rebuild

    engine = make_engine(settings.resolved_database_url())
    try:
        results = rebuild(engine, slug=slug)
    except LookupError:
        print(f"undersigned: no letter has the slug {slug!r}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    repaired = 0
    for result in results:
        if result.before != result.after:
            repaired += 1
            print(f"{result.slug}: {result.before} -> {result.after}")
        else:
            print(f"{result.slug}: {result.after} (was right)")
    print(f"Recounted {len(results)} letter(s); {repaired} count(s) corrected.")
    return 0


def run_worker(settings: Settings) -> None:
    from app.jobs.worker import JobWorker
    from app.mail.sender import make_sender

    settings.check_startable()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    engine = make_engine(settings.resolved_database_url())
    JobWorker(engine=engine, settings=settings, sender=make_sender(settings)).run(stop)
    engine.dispose()


def supervise_workers(settings: Settings, *, processes: int | None) -> int:
    """N worker processes under one supervisor (app/jobs/supervisor.py)."""
    from app.exports.pdf.signing import check_signing
    from app.jobs.supervisor import LOG_FORMAT, Supervisor, default_process_count

    settings.check_startable()  # once, here, rather than N times in a restart loop
    if check_signing(settings):
        log.info("PDF letters will be digitally signed")
    settings.resolved_database_url()  # the local default's data folder exists before they start
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return Supervisor(processes or default_process_count()).run()


def make_signing_cert(settings: Settings, *, out: str, name: str | None) -> int:
    from app.exports.pdf.certificates import CertificateRefused, make_signing_certificate

    try:
        made = make_signing_certificate(Path(out), name=name or f"{settings.site_name} (test)")
    except (CertificateRefused, OSError) as exc:
        print(f"undersigned: {exc}", file=sys.stderr)
        return 1
    print(
        "A self-signed certificate, FOR TRYING ONLY: PDF readers show letters signed with it\n"
        "as signed by an unknown signer. Use a certificate from a trusted provider for real\n"
        f"letters.\n\n  key and certificate: {made.pkcs12_file}\n"
        f"  its passphrase:      {made.passphrase_file}\n"
        f"  certificate alone:   {made.certificate_file} (to trust it in a reader)\n"
        f"  SHA-256 fingerprint: {made.fingerprint_sha256}\n\n"
        "Sign PDF letters with it by setting, for the workers:\n\n"
        f"  UNDERSIGNED_SIGNING_PKCS12_FILE={made.pkcs12_file}\n"
        f'  UNDERSIGNED_SIGNING_PKCS12_PASSPHRASE="$(cat {made.passphrase_file})"'
    )
    return 0


def rotate_keys(settings: Settings, *, batch_size: int) -> None:
    from app.privacy.rotation import reencrypt_everything

    settings.check_startable()
    engine = make_engine(settings.resolved_database_url())
    changed = reencrypt_everything(engine, keyring=settings.keyring(), batch_size=batch_size)
    engine.dispose()
    print(f"Re-encrypted {changed} value(s) with key {settings.keyring().current_key_id!r}.")


class _Parser(argparse.ArgumentParser):
    """Every ``--help`` (subcommands inherit this class) shows each option's default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)


def create_organiser(settings: Settings, *, email: str, admin: bool) -> int:
    from app.organisers.service import create_organiser as create
    from app.signatures.addresses import normalise_email

    address = normalise_email(email)
    if address is None:
        print(f"undersigned: not a usable email address: {email!r}", file=sys.stderr)
        return 2
    settings.check_startable()
    engine = make_engine(settings.resolved_database_url())
    with open_session(engine, write=True) as session:
        created = create(session, email=address, is_admin=admin, keyring=settings.keyring())
        session.commit()
    engine.dispose()
    role = "admin" if admin else "organiser"
    print(
        f"{'Created' if created else 'Already there'}: {role} account. Sign in at "
        f"{settings.base_url}/organise/sign-in"
    )
    return 0


def load_letter_file(settings: Settings, *, path: str) -> int:
    """Check the whole file, then create or update the letter; every problem is printed."""
    from app.letters.files import LetterFileInvalid, load_letter, parse_letter_file
    from app.organisers.service import record

    try:
        with open(path, "rb") as file:
            text = file.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"undersigned: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings.resolved_database_url())
    try:
        parsed = parse_letter_file(text)
        with open_session(engine, write=True) as session:
            letter_id, created = load_letter(session, parsed=parsed)
            action = "letter.created_from_file" if created else "letter.loaded_from_file"
            record(session, organiser_id=None, letter_id=letter_id, action=action)
            session.commit()
    except LetterFileInvalid as exc:
        for problem in exc.problems:
            print(f"{path}:{problem.line}: {problem.message}", file=sys.stderr)
        print(f"undersigned: {path}: nothing changed", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    counts = ", ".join(f"{len(items)} {kind}" for kind, items in parsed.items.items())
    print(f"{'Created' if created else 'Updated'} {parsed.letter.slug!r} ({counts}).")
    return 0


def dump_letter_file(settings: Settings, *, slug: str) -> int:
    from app.letters.files import dump_letter
    from app.letters.service import LetterNotFound

    engine = make_engine(settings.resolved_database_url())
    try:
        with open_session(engine) as session:
            text = dump_letter(session, slug=slug)
    except LetterNotFound:
        print(f"undersigned: no letter has the slug {slug!r}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    # UTF-8 whatever the locale says: the file is read back as UTF-8.
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()
    return 0


def _add_letters_commands(commands: Any) -> None:
    letters = commands.add_parser("letters", help="letters as TOML files (see the README)")
    actions = letters.add_subparsers(dest="letters_command", required=True)
    load = actions.add_parser(
        "load",
        help="create the letter in FILE, or update the letter with its slug, with its "
        "recipients and first signatories; every problem is reported and nothing changes",
    )
    load.add_argument("file", help="the letter file (TOML, UTF-8)")
    dump = actions.add_parser("dump", help="write a letter as a TOML file to standard output")
    dump.add_argument("slug", help="the letter's address, as in /letters/SLUG")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _add_pdf_command(commands: Any) -> None:
    pdf = commands.add_parser(
        "export-pdf",
        help="the letter as a PDF for its recipients, with a progress bar; works with or "
        "without a running worker (does the work itself on every core)",
    )
    pdf.add_argument("slug", help="the letter's address, as in /letters/SLUG")
    which = pdf.add_mutually_exclusive_group()
    which.add_argument(
        "--recipient", type=int, action="append", metavar="ID", help="this recipient (repeatable)"
    )
    which.add_argument("--all", action="store_true", help="every recipient, one file each")
    pdf.add_argument(
        "--out", required=True, help="the file to write (a folder for --all or several)"
    )
    pdf.add_argument(
        "--processes", type=int, default=None, help="helper processes (default: one per core)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="undersigned", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "migrate",
        help="bring the database schema up to date (on PostgreSQL one process at a time, "
        "under an advisory lock, so replicas may all run it)",
    )
    demo_parser = commands.add_parser(
        "demo", help="create the demo letter (running it again changes nothing)"
    )
    demo_parser.add_argument(
        "--signatures",
        type=int,
        default=0,
        metavar="N",
        help="also add N synthetic confirmed signatures (no addresses), for demos and benchmarks",
    )
    _add_pdf_command(commands)
    serve_parser = commands.add_parser("serve", help="the web app plus an in-process job worker")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve_parser.add_argument(
        "--no-worker", action="store_true", help="run no job worker (run `undersigned worker`)"
    )
    serve_parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="web processes on the port (one per core by default); the job worker runs once",
    )
    recount_parser = commands.add_parser(
        "recount", help="rebuild the signature counts from the signatures (all letters, or one)"
    )
    recount_parser.add_argument("slug", nargs="?", help="only the letter with this slug")
    worker_parser = commands.add_parser(
        "worker", help="job worker processes alone (mail, purges, PDF letters)"
    )
    worker_parser.add_argument(
        "--processes",
        type=_positive,
        default=None,
        help="worker processes to run under one supervisor (default: one per core)",
    )
    rotate_parser = commands.add_parser(
        "rotate-keys",
        help="re-encrypt every stored address with the first of UNDERSIGNED_ENCRYPTION_KEYS",
    )
    rotate_parser.add_argument(
        "--batch-size", type=int, default=500, help="addresses re-encrypted per transaction"
    )
    cert_parser = commands.add_parser(
        "make-signing-cert",
        help="write a self-signed certificate for trying signed PDF letters (not for real use)",
    )
    cert_parser.add_argument("--out", required=True, help="folder to write the files into")
    cert_parser.add_argument(
        "--name", default=None, help="the signer's name (default: SITE_NAME (test))"
    )
    organiser_parser = commands.add_parser(
        "create-organiser", help="create an organiser account (sign in at /organise)"
    )
    organiser_parser.add_argument("email", help="the organiser's email address")
    organiser_parser.add_argument(
        "--admin", action="store_true", help="may see every letter and invite organisers"
    )
    _add_letters_commands(commands)
    webhooks_cli.add_commands(commands)
    return parser


def _run(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "demo":
        demo(settings, signatures=args.signatures)
    elif args.command == "export-pdf":
        from app.exports.pdf.cli import export_pdf

        return export_pdf(
            settings,
            slug=args.slug,
            recipient_ids=args.recipient,
            everyone=args.all,
            out=args.out,
            processes=args.processes,
        )
    elif args.command == "serve":
        serve(
            settings,
            host=args.host,
            port=args.port,
            with_worker=not args.no_worker,
            workers=args.workers,
        )
    elif args.command == "recount":
        return recount(settings, slug=args.slug)
    elif args.command == "worker":
        return supervise_workers(settings, processes=args.processes)
    elif args.command == "rotate-keys":
        rotate_keys(settings, batch_size=args.batch_size)
    elif args.command == "make-signing-cert":
        return make_signing_cert(settings, out=args.out, name=args.name)
    elif args.command == "create-organiser":
        return create_organiser(settings, email=args.email, admin=args.admin)
    elif args.command == "letters" and args.letters_command == "load":
        return load_letter_file(settings, path=args.file)
    elif args.command == "letters":
        return dump_letter_file(settings, slug=args.slug)
    elif args.command == "webhooks":
        return webhooks_cli.run(settings, args)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_redaction()
    try:
        return _run(args)
    except (ConfigurationError, KeyMaterialError) as exc:
        print(f"undersigned: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
