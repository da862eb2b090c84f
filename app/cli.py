"""The ``undersigned`` command: migrate, demo, serve, worker, letters load and dump, webhooks."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.config import MIGRATIONS_DIR, ConfigurationError, Settings
from app.db import make_engine, open_session
from app.kit.logging import install_redaction
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


def demo(settings: Settings) -> None:
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


def serve(settings: Settings, *, host: str, port: int, with_worker: bool) -> None:
    import uvicorn

    from app.main import create_app

    if "base_url" not in settings.model_fields_set and settings.is_local_default:
        # Links in mail must reach this server even when it runs on another port. A real
        # deployment must say its public address itself (check_startable refuses otherwise).
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        settings = settings.model_copy(update={"base_url": f"http://{shown_host}:{port}"})
    _print_addresses(settings, host=host, port=port)
    if not settings.smtp_host:
        print("No UNDERSIGNED_SMTP_HOST set: mail is printed here instead of sent.")
    # The worker lives in the app's lifespan, so a SIGTERM stops it cleanly before exit.
    app = create_app(settings, job_worker=with_worker)
    # Our own request log (app.kit.logging) names routes, never tokens or addresses.
    uvicorn.run(app, host=host, port=port, access_log=False, proxy_headers=True)


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="undersigned", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "migrate",
        help="bring the database schema up to date (on PostgreSQL one process at a time, "
        "under an advisory lock, so replicas may all run it)",
    )
    commands.add_parser("demo", help="create the demo letter (running it again changes nothing)")
    serve_parser = commands.add_parser("serve", help="the web app plus an in-process job worker")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve_parser.add_argument(
        "--no-worker", action="store_true", help="run no job worker (run `undersigned worker`)"
    )
    commands.add_parser("worker", help="the job worker alone (mail, purges)")
    rotate_parser = commands.add_parser(
        "rotate-keys",
        help="re-encrypt every stored address with the first of UNDERSIGNED_ENCRYPTION_KEYS",
    )
    rotate_parser.add_argument(
        "--batch-size", type=int, default=500, help="addresses re-encrypted per transaction"
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
        demo(settings)
    elif args.command == "serve":
        serve(settings, host=args.host, port=args.port, with_worker=not args.no_worker)
    elif args.command == "worker":
        run_worker(settings)
    elif args.command == "rotate-keys":
        rotate_keys(settings, batch_size=args.batch_size)
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
