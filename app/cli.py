"""The ``undersigned`` command: migrate, demo, serve, worker."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from alembic import command
from alembic.config import Config

from app.config import MIGRATIONS_DIR, ConfigurationError, Settings
from app.db import make_engine, open_session
from app.kit.logging import install_redaction
from app.privacy.keys import KeyMaterialError

log = logging.getLogger("undersigned")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is an INI file underneath: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(settings: Settings) -> None:
    command.upgrade(alembic_config(settings.resolved_database_url()), "head")


def demo(settings: Settings) -> None:
    from app.letters.demo import DEMO_SLUG, create_demo_letter

    engine = make_engine(settings.resolved_database_url())
    with open_session(engine, write=True) as session:
        created = create_demo_letter(session)
        session.commit()
    engine.dispose()
    where = f"{settings.base_url}/letters/{DEMO_SLUG}"
    print(f"Demo letter {'created' if created else 'already there'}: {where}")


def serve(settings: Settings, *, host: str, port: int, with_worker: bool) -> None:
    import uvicorn

    from app.main import create_app

    if "base_url" not in settings.model_fields_set and settings.is_local_default:
        # Links in mail must reach this server even when it runs on another port. A real
        # deployment must say its public address itself (check_startable refuses otherwise).
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        settings = settings.model_copy(update={"base_url": f"http://{shown_host}:{port}"})
    if not settings.smtp_host:
        print("No UNDERSIGNED_SMTP_HOST set: mail is printed here instead of sent.")
    # The worker lives in the app's lifespan, so a SIGTERM stops it cleanly before exit.
    app = create_app(settings, job_worker=with_worker)
    # Our own request log (app.kit.logging) names routes, never tokens or addresses.
    uvicorn.run(app, host=host, port=port, access_log=False, proxy_headers=True)


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
    from app.privacy.rotation import reencrypt_addresses

    settings.check_startable()
    engine = make_engine(settings.resolved_database_url())
    changed = reencrypt_addresses(engine, keyring=settings.keyring(), batch_size=batch_size)
    engine.dispose()
    print(f"Re-encrypted {changed} address(es) with key {settings.keyring().current_key_id!r}.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="undersigned", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("demo", help="create the demo letter (running it again changes nothing)")
    serve_parser = commands.add_parser("serve", help="the web app plus an in-process mail worker")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument(
        "--no-worker", action="store_true", help="run no mail worker (run `undersigned worker`)"
    )
    commands.add_parser("worker", help="the job worker alone (mail, purges)")
    rotate_parser = commands.add_parser(
        "rotate-keys",
        help="re-encrypt every stored address with the first of UNDERSIGNED_ENCRYPTION_KEYS",
    )
    rotate_parser.add_argument("--batch-size", type=int, default=500)
    return parser


def _run(args: argparse.Namespace) -> None:
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_redaction()
    try:
        _run(args)
    except (ConfigurationError, KeyMaterialError) as exc:
        print(f"undersigned: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
