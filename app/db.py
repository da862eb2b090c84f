"""Engine, sessions and the one-transaction-per-request dependency."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event, make_url
from sqlalchemy import Enum as SAEnum
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, SQLModel

# Set before any table is defined so every constraint has a predictable name in migrations.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every engine (SQLite forgets the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def string_enum(enum_type: type[StrEnum]) -> SAEnum:
    """Enums stored as their values in a plain string column (portable, easy to migrate)."""
    return SAEnum(
        enum_type,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


# Connections beyond the admitted requests (the in-process mail worker, start-up tasks).
SPARE_CONNECTIONS = 2
# Waiting longer than this for a pooled connection, or for SQLite's writer lock, raises
# sqlalchemy.exc.TimeoutError (answered 503): a shortage is never a silent long stall.
POOL_TIMEOUT_SECONDS = 5.0
WRITER_TIMEOUT_SECONDS = 10.0

# One lock per SQLite engine: this process's writers queue on it, rather than each sleeping in
# SQLite's busy handler and retrying.
_writer_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def make_engine(url: str, *, connections: int = 10) -> Engine:
    """``connections``: how many requests may use the database at once (see AdmissionMiddleware)."""
    pool_size = connections + SPARE_CONNECTIONS
    pooled = {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_timeout": POOL_TIMEOUT_SECONDS,
    }
    # hide_parameters: a database error's message must never carry a signer's address into a log.
    if url.startswith("sqlite"):
        in_memory = make_url(url).database in (None, "", ":memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            **({} if in_memory else pooled),
        )
        _tune_sqlite(engine)
        _writer_locks[engine] = threading.Lock()
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **pooled)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below) so writers can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Erased or deleted rows are overwritten with zeros, not left in free space: a copy of
        # the file must not hold what a signer withdrew.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes fails at once under contention
        # in WAL mode; writers ask for IMMEDIATE and wait for the lock instead.
        mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


def open_session(engine: Engine, *, write: bool = False) -> Session:
    session = Session(engine, expire_on_commit=False)
    if write:
        release = _hold_writer_lock(engine, session)
        try:
            session.connection(execution_options={"write": True})
        except BaseException:
            release()
            raise
    return session


def _hold_writer_lock(engine: Engine, session: Session) -> Callable[[], None]:
    """On SQLite, take this process's writer lock until the session's first transaction ends."""
    lock = _writer_locks.get(engine)
    if lock is None:
        return lambda: None
    if not lock.acquire(timeout=WRITER_TIMEOUT_SECONDS):
        raise sa_exc.TimeoutError("timed out waiting for the SQLite writer lock")
    held = [True]

    def release(*_: object) -> None:
        if held:
            held.clear()
            lock.release()

    def on_transaction_end(_session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            release()

    event.listen(session, "after_transaction_end", on_transaction_end)
    # A session dropped without being closed must not keep every other writer out.
    weakref.finalize(session, release)
    return release


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commit when the handler returns, roll back if it raises."""
    engine: Engine = request.app.state.engine
    session = open_session(engine, write=request.method in WRITE_METHODS)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# "function" scope: commit before the response leaves, so a redirect never outruns its data.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
