"""Derived counts: per letter, by country, by day; and the deltas triggers append for them.

Triggers on ``signatures`` write what each change does to the counts into ``count_deltas`` (a
new row: no confirmation ever updates a counter row); a recurring job folds them into the count
tables. On PostgreSQL the triggers run once per statement over its transition tables, so a
bulk change writes one row per (letter, country, day, named) it touches. SQLite has row
triggers only. Existing confirmed signatures are queued as deltas here, so the first fold (or
``undersigned recount``) fills the tables.

NOTE for later migrations: SQLite's batch mode rebuilds a table by copying it, which drops its
triggers. A migration that batch-alters ``signatures`` must run ``create_sqlite_triggers()``
again afterwards (tests/counters/test_counts.py fails if the triggers are gone).

Revision ID: c0a7e2d4b913
Revises: b8f4c2d6e013
Create Date: 2026-11-26 00:30:00
"""

# ruff: noqa: S608 - the SQL is built from this file's own constants, never from input

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0a7e2d4b913"
down_revision: str | None = "b8f4c2d6e013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "letter_id, country, day, named, delta"

# What one signature contributes to the counts, when its state is confirmed.
PG_CONTRIBUTION = (
    "letter_id, country, (confirmed_at AT TIME ZONE 'UTC')::date AS day, "
    "(visibility = 'public' AND hidden_at IS NULL) AS named"
)
PG_FUNCTIONS = {
    "count_signature_inserts": f"""
        INSERT INTO count_deltas ({COLUMNS})
        SELECT letter_id, country, day, named, count(*)::int FROM (
            SELECT {PG_CONTRIBUTION} FROM new_rows WHERE state = 'confirmed'
        ) AS added GROUP BY letter_id, country, day, named""",
    "count_signature_deletes": f"""
        INSERT INTO count_deltas ({COLUMNS})
        SELECT letter_id, country, day, named, -count(*)::int FROM (
            SELECT {PG_CONTRIBUTION} FROM old_rows WHERE state = 'confirmed'
        ) AS removed GROUP BY letter_id, country, day, named""",
    "count_signature_updates": f"""
        INSERT INTO count_deltas ({COLUMNS})
        SELECT letter_id, country, day, named, sum(delta)::int FROM (
            SELECT {PG_CONTRIBUTION}, -1 AS delta FROM old_rows WHERE state = 'confirmed'
            UNION ALL
            SELECT {PG_CONTRIBUTION}, 1 AS delta FROM new_rows WHERE state = 'confirmed'
        ) AS changed GROUP BY letter_id, country, day, named HAVING sum(delta) <> 0""",
}
PG_TRIGGERS = {
    "count_signature_inserts": "AFTER INSERT ON signatures REFERENCING NEW TABLE AS new_rows",
    "count_signature_deletes": "AFTER DELETE ON signatures REFERENCING OLD TABLE AS old_rows",
    "count_signature_updates": (
        "AFTER UPDATE ON signatures REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
}


def _sqlite_values(row: str, delta: int) -> str:
    return (
        f"SELECT {row}.letter_id, {row}.country, date({row}.confirmed_at), "
        f"({row}.visibility = 'public' AND {row}.hidden_at IS NULL), {delta} "
        f"WHERE {row}.state = 'confirmed'"
    )


SQLITE_TRIGGERS = {
    "count_signature_inserts": f"""
        AFTER INSERT ON signatures WHEN NEW.state = 'confirmed'
        BEGIN INSERT INTO count_deltas ({COLUMNS}) {_sqlite_values("NEW", 1)}; END""",
    "count_signature_deletes": f"""
        AFTER DELETE ON signatures WHEN OLD.state = 'confirmed'
        BEGIN INSERT INTO count_deltas ({COLUMNS}) {_sqlite_values("OLD", -1)}; END""",
    "count_signature_updates": f"""
        AFTER UPDATE ON signatures
        WHEN (OLD.state = 'confirmed' OR NEW.state = 'confirmed') AND (
            OLD.state IS NOT NEW.state OR OLD.letter_id IS NOT NEW.letter_id
            OR OLD.country IS NOT NEW.country
            OR date(OLD.confirmed_at) IS NOT date(NEW.confirmed_at)
            OR (OLD.visibility = 'public' AND OLD.hidden_at IS NULL)
               IS NOT (NEW.visibility = 'public' AND NEW.hidden_at IS NULL))
        BEGIN
            INSERT INTO count_deltas ({COLUMNS}) {_sqlite_values("OLD", -1)};
            INSERT INTO count_deltas ({COLUMNS}) {_sqlite_values("NEW", 1)};
        END""",
}


def create_sqlite_triggers() -> None:
    for name, body in SQLITE_TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} {body}")


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, body in PG_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {body}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} {PG_TRIGGERS[name]} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    else:
        create_sqlite_triggers()


def _backfill() -> None:
    if op.get_bind().dialect.name == "postgresql":
        day = "(confirmed_at AT TIME ZONE 'UTC')::date"
    else:
        day = "date(confirmed_at)"
    named = "(visibility = 'public' AND hidden_at IS NULL)"
    op.execute(
        f"INSERT INTO count_deltas ({COLUMNS}) "
        f"SELECT letter_id, country, {day}, {named}, count(*) FROM signatures "
        f"WHERE state = 'confirmed' GROUP BY letter_id, country, {day}, {named}"
    )


def _letter_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["letter_id"],
        ["letters.id"],
        name=f"fk_{table}_letter_id_letters",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "letter_counts",
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("named", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        _letter_fk("letter_counts"),
        sa.PrimaryKeyConstraint("letter_id", name="pk_letter_counts"),
    )
    op.create_table(
        "letter_country_counts",
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        _letter_fk("letter_country_counts"),
        sa.PrimaryKeyConstraint("letter_id", "country", name="pk_letter_country_counts"),
    )
    op.create_table(
        "letter_day_counts",
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        _letter_fk("letter_day_counts"),
        sa.PrimaryKeyConstraint("letter_id", "day", name="pk_letter_day_counts"),
    )
    op.create_table(
        "count_deltas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("named", sa.Boolean(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_count_deltas"),
    )
    _create_triggers()
    _backfill()


def downgrade() -> None:
    on_pg = op.get_bind().dialect.name == "postgresql"
    for name in PG_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON signatures" if on_pg else ""))
        if on_pg:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("count_deltas")
    op.drop_table("letter_day_counts")
    op.drop_table("letter_country_counts")
    op.drop_table("letter_counts")
