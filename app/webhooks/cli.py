"""``undersigned webhooks add SLUG URL | list SLUG | remove SLUG ID``: webhooks from the
command line, for a server without the workspace (or scripts). Each change is audit-logged."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlmodel import select

from app.config import Settings
from app.db import make_engine, open_session


def add_commands(commands: Any) -> None:
    hooks = commands.add_parser("webhooks", help="a letter's webhooks (see the README)")
    actions = hooks.add_subparsers(dest="webhooks_command", required=True)
    add = actions.add_parser(
        "add", help="register an https endpoint for a letter; prints its secret, once"
    )
    add.add_argument("slug", help="the letter's address, as in /letters/SLUG")
    add.add_argument("url", help="the endpoint, https://...")
    listed = actions.add_parser("list", help="a letter's endpoints")
    listed.add_argument("slug", help="the letter's address, as in /letters/SLUG")
    remove = actions.add_parser("remove", help="remove an endpoint (by the id `list` shows)")
    remove.add_argument("slug", help="the letter's address, as in /letters/SLUG")
    remove.add_argument("id", type=int, help="the endpoint's id")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from app.letters.models import Letter
    from app.organisers.service import record
    from app.webhooks import service
    from app.webhooks.http import WebhookUrlRefused

    engine = make_engine(settings.resolved_database_url())
    try:
        with open_session(engine, write=args.webhooks_command != "list") as session:
            letter = session.exec(select(Letter).where(Letter.slug == args.slug)).first()
            if letter is None or letter.id is None:
                print(f"undersigned: no letter has the slug {args.slug!r}", file=sys.stderr)
                return 1
            if args.webhooks_command == "list":
                for hook in service.list_webhooks(session, letter_id=letter.id):
                    print(f"{hook.id}\t{hook.created_at:%Y-%m-%d}\t{hook.url}")
                return 0
            if args.webhooks_command == "remove":
                url = service.remove_webhook(session, letter_id=letter.id, webhook_id=args.id)
                if url is None:
                    print(f"undersigned: {args.slug!r} has no webhook {args.id}", file=sys.stderr)
                    return 1
                detail, action, message = (
                    f"{args.id}: {service.host_of(url)}",
                    "webhook.removed",
                    "",
                )
            else:
                try:
                    webhook_id, secret = service.add_webhook(
                        session,
                        letter_id=letter.id,
                        url=args.url,
                        keyring=settings.keyring(),
                        allow_private=settings.webhook_allow_private,
                    )
                except WebhookUrlRefused as refused:
                    print(f"undersigned: {args.url}: {refused}", file=sys.stderr)
                    return 1
                except service.TooManyWebhooks:
                    print("undersigned: this letter has 10 webhooks already", file=sys.stderr)
                    return 1
                detail, action = f"{webhook_id}: {service.host_of(args.url)}", "webhook.added"
                message = f"Webhook {webhook_id} added. Its secret (shown only now):\n{secret}"
            record(session, organiser_id=None, letter_id=letter.id, action=action, detail=detail)
            session.commit()
    finally:
        engine.dispose()
    print(message or f"Webhook {args.id} removed.")
    return 0
