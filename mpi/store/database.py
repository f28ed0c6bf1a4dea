"""Connecting to the store: URL defaults, SQLite settings, migrations, and retries.

SQLite is the embedded default (one file, no server). Its writers are serialised by taking the
write lock at the start of each transaction (``BEGIN IMMEDIATE``), so a read-then-write ingest
cannot interleave with another; a busy database is waited for, then retried, never surfaced as
"database is locked". PostgreSQL serves several processes; they coordinate with advisory and row
locks (see mpi.service) and retry serialization failures and deadlocks.
"""
from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ..errors import Conflict, NotFound, StoreError  # noqa: F401 - re-exported for the store's users
from .checkpoint import BACKSTOP_PAGES, Checkpointer

log = logging.getLogger(__name__)

DEFAULT_SQLITE_FILE = "mpi.db"
ENV_URL = "MPI_DATABASE_URL"
MIGRATIONS = Path(__file__).with_name("migrations")
T = TypeVar("T")
_CHECKPOINTERS: "WeakKeyDictionary[Engine, Checkpointer]" = WeakKeyDictionary()


def database_url(url: str | None = None) -> str:
    """The URL to use: the given one, else ``MPI_DATABASE_URL``, else ``mpi.db`` in the working
    directory. ``postgresql://`` is read as psycopg 3 (the driver we install)."""
    url = url or os.environ.get(ENV_URL) or f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"
    if "://" not in url:  # a bare path is a SQLite file
        url = f"sqlite:///{Path(url).resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# Sent in each PostgreSQL connection's startup packet (libpq ``options``; no extra round trip).
# ``plan_cache_mode = force_generic_plan``: the driver prepares a statement once it has run it a
# few times (every match and ingest runs the same dozen), but PostgreSQL still planned some of
# them afresh on each execution, because an array parameter (``unnest(:ids)``) makes the generic
# plan look costlier than a custom one. The survivorship read of a golden record's members, a
# three-table join of index lookups whose best plan does not depend on the values, cost 0.4 ms of
# planning against 0.05 ms of execution on every ingest. Statements run once (an export, a
# migration) are not prepared and are planned with their values as before.
PG_SESSION_OPTIONS = "-c plan_cache_mode=force_generic_plan"


def make_engine(url: str | None = None) -> Engine:
    """An engine for the store at ``url`` (see :func:`database_url`)."""
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # hide_parameters: a database error must never carry a record's values (PHI) into a log
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                               pool_size=10, max_overflow=20, hide_parameters=True)
        _sqlite_settings(engine)
    else:
        # no ping before each use: a dropped connection surfaces as Retry (MasterPatientIndex._tx)
        options = " ".join(filter(None, [parsed.query.get("options"), PG_SESSION_OPTIONS]))  # the URL's own kept
        engine = create_engine(url, pool_size=5, max_overflow=10, hide_parameters=True,
                               connect_args={"options": options})
    return engine


def close_engine(engine: Engine) -> None:
    """Stop the engine's background work (SQLite checkpoints) and close its connections."""
    checkpointer = _CHECKPOINTERS.pop(engine, None)
    if checkpointer is not None:
        checkpointer.stop()
    engine.dispose()


def _sqlite_settings(engine: Engine) -> None:
    path = engine.url.database
    checkpointer = Checkpointer(path) if path and path != ":memory:" and not path.startswith("file:") else None
    if checkpointer is not None:
        _CHECKPOINTERS[engine] = checkpointer

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MB of pages per connection (the default is 2 MB)
        cur.execute("PRAGMA mmap_size=1073741824")  # read through the OS page cache, shared by connections
        if checkpointer is not None:  # checkpoints happen in the background (mpi.store.checkpoint)
            cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # take the write lock up front: a read-then-write transaction cannot be overtaken
        write = conn.info.get("write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        if write and checkpointer is not None:
            checkpointer.writing()


_NAMED_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=256)
def _in_driver_style(sql: str, dialect: str) -> str:
    """``sql`` with ``:name`` parameters as the driver takes them (sqlite3 reads ``:name``
    itself; psycopg wants ``%(name)s``)."""
    return sql if dialect == "sqlite" else _NAMED_PARAMETER.sub(r"%(\1)s", sql)


def pg_int_array(values: Iterable[int]) -> str:
    """Integers as a PostgreSQL array literal, for a ``CAST(:p AS bigint[])`` parameter: built by
    one C-level join, where the driver adapts a Python list element by element in Python (a
    batch passes arrays of thousands of keys and record ids)."""
    return "{" + ",".join(map(str, map(int, values))) + "}"


def driver_rows(conn: Connection, sql: str, params: Mapping[str, object]) -> list[tuple]:
    """Every row of one read, as plain tuples, through the driver's own cursor.

    For the reads every match and ingest makes (candidate blocks and members): SQLAlchemy's
    statement and result layers cost about a fifth of a millisecond per call there, as much as
    the query. Driver errors are raised as SQLAlchemy's, parameters hidden, so retries and
    error handling see what they see for every other statement."""
    with _driver_cursor(conn, sql) as (cursor, statement):
        cursor.execute(statement, params)
        return cursor.fetchall()


def driver_execute(conn: Connection, sql: str, params: Mapping[str, object]) -> None:
    """One write statement through the driver's own cursor (errors as :func:`driver_rows`)."""
    with _driver_cursor(conn, sql) as (cursor, statement):
        cursor.execute(statement, params)


def driver_executemany(conn: Connection, sql: str, rows: Sequence[Sequence[object]]) -> None:
    """One write statement per row through the driver's own loop: SQLAlchemy's per-row parameter
    processing costs more than SQLite's insert itself where an ingest writes thousands of rows
    (blocking keys). Errors as :func:`driver_rows`."""
    with _driver_cursor(conn, sql) as (cursor, statement):
        cursor.executemany(statement, rows)


@contextmanager
def _driver_cursor(conn: Connection, sql: str) -> Iterator[tuple[object, str]]:
    """The connection's driver cursor and ``sql`` in the driver's parameter style; a driver error
    leaves as SQLAlchemy's ``DBAPIError`` without parameters, a lost connection invalidated."""
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.cursor()
    try:
        yield cursor, _in_driver_style(sql, conn.dialect.name)
    except dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
        if lost:
            conn.invalidate(exc)  # not back into the pool: the retry gets a new connection
        raise DBAPIError.instance(sql, None, exc, dbapi.Error, hide_parameters=True, connection_invalidated=lost,
                                  dialect=conn.dialect) from None
    finally:
        cursor.close()


def is_retryable(exc: BaseException) -> bool:
    """Serialization failures, deadlocks, a busy SQLite file and a dropped connection: worth
    trying again."""
    if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:  # the server dropped a pooled connection; the pool renews it
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if code in ("40001", "40P01", "55P03"):
            return True
    if isinstance(exc, IntegrityError):  # only a unique clash can succeed the second time
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code == "23505" or "UNIQUE constraint failed" in str(exc.orig)
    return isinstance(exc, Retry)


class Retry(StoreError):
    """Raised inside a transaction when what it read changed under it; the work is redone (and
    reaches the caller, as a StoreError, only if it keeps changing)."""


def with_retries(work: Callable[[], T], attempts: int = 12) -> T:
    """Run ``work`` (one whole transaction) again on a retryable failure, with jittered backoff.

    A unique-constraint clash (two processes inserting the same source record) is retried too:
    on the second attempt the other writer's row is visible and the work takes the update path.
    """
    for attempt in range(attempts):
        try:
            return work()
        except Exception as exc:  # noqa: BLE001 - filtered just below
            if attempt == attempts - 1 or not is_retryable(exc):
                raise
            log.debug("retrying a transaction after %s (attempt %d)", type(exc).__name__, attempt + 1)
            time.sleep(min(0.5, 0.005 * 2 ** attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic), once per database, safely when several
    processes open a fresh database at the same time."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        conn.info["write"] = False
        current = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    if current == head:
        return
    with engine.connect() as conn:
        if not is_sqlite(engine):
            conn.execute(text("SELECT pg_advisory_lock(7261001)"))  # one migrator at a time
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if not is_sqlite(engine):
                conn.rollback()  # a failed migration leaves the transaction aborted
                conn.execute(text("SELECT pg_advisory_unlock(7261001)"))
                conn.commit()
