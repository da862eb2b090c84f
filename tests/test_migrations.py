"""The models and the migrations describe the same schema: autogenerate finds nothing to do."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

import app.counters.models
import app.exports.pdf.models
import app.jobs.models
import app.letters.models
import app.organisers.models
import app.signatures.models
import app.updates.models
import app.webhooks.models  # noqa: F401 - every table is registered


def test_models_match_the_migrations(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
