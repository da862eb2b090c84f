"""Alembic environment. The URL comes from the caller (``undersigned migrate`` or tests)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from app.counters import models as _counters  # noqa: F401
from app.db import make_engine
from app.exports.pdf import models as _pdf  # noqa: F401
from app.jobs import models as _jobs  # noqa: F401
from app.letters import models as _letters  # noqa: F401 - tables for autogenerate
from app.organisers import models as _organisers  # noqa: F401
from app.signatures import models as _signatures  # noqa: F401
from app.updates import models as _updates  # noqa: F401
from app.webhooks import models as _webhooks  # noqa: F401

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
