"""Opening a store (SQLite file or PostgreSQL), migrating it, and dialect-aware statements."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")
# Alembic keeps the running migration's context in module globals: two threads migrating at
# once (the console's cache and a snapshot, say) would run each other's migrations.
_MIGRATING = threading.Lock()


def _dumps(value) -> str:  # noqa: ANN001
    return orjson.dumps(value).decode()


# orjson for JSON columns: several times faster than the json module on the ingest path.
JSON_CODEC = {"json_serializer": _dumps, "json_deserializer": orjson.loads}


def normalize_url(url: str) -> str:
    """A SQLAlchemy URL for a store: `postgresql://` and `postgres://` get the psycopg 3
    driver; a plain file path (`/var/lib/growthkit.db`, `~/gk.db`, `gk.db`) is a SQLite file.

    SQLite URLs keep SQLAlchemy's meaning (`sqlite:///x.db` is relative to the current
    folder, `sqlite:////abs/x.db` absolute); `describe_store` says which file that is.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if "://" not in url and url.strip() and url != "sqlite:":
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def describe_store(url_or_engine: str | Engine) -> str:
    """What a person needs to know about a store: the SQLite file's absolute path, or the
    PostgreSQL database without its password."""
    url = make_url(normalize_url(url_or_engine) if isinstance(url_or_engine, str)
                   else url_or_engine.url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return "SQLite in memory"
        return f"SQLite file {Path(url.database).expanduser().resolve()}"
    return f"PostgreSQL {url.set(drivername='postgresql').render_as_string(hide_password=True)}"


def open_engine(url: str, *, busy_timeout_ms: int = 5000, pool_size: int = 10,
                wal_autocheckpoint: int = 1000) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and foreign keys.

    `wal_autocheckpoint` (pages): a process that checkpoints in the background (the server,
    see `checkpoint`) raises it, so commits seldom pay for a checkpoint themselves.
    """
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": busy_timeout_ms / 1000},
                               **JSON_CODEC)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # Autocommit off in the driver; SQLAlchemy issues BEGIN itself (see below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            # Writers take the lock up front (BEGIN IMMEDIATE), so concurrent writers queue on
            # busy_timeout instead of failing when a read transaction tries to upgrade.
            immediate = conn.get_execution_options().get("write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database URL {parsed.render_as_string()!r}: use "
                         "sqlite:///path.db or postgresql://user@host/db")
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                         **JSON_CODEC)


def write_connection(engine: Engine):
    """A connection whose transactions are writes (BEGIN IMMEDIATE on SQLite)."""
    return engine.connect().execution_options(write=True)


def checkpoint(engine: Engine) -> None:
    """SQLite: copy the write-ahead log into the database without blocking writers."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the store to the latest schema (idempotent)."""
    from growthkit.core.clock import now_ms
    from growthkit.core.partitions import ensure_partitions

    before = current_revision(engine)
    with _MIGRATING:
        command.upgrade(alembic_config(engine), "head")
    if engine.dialect.name == "postgresql":  # this week's and the next weeks' partitions
        with engine.begin() as conn:
            ensure_partitions(conn, now_ms())
    if before is not None and current_revision(engine) != before and \
            engine.dialect.name == "sqlite":
        # SQLite plans with the statistics ANALYZE left; an index added since then has
        # none, and the planner may then prefer it everywhere. (PostgreSQL's autovacuum
        # analyzes by itself.)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def insert(engine_or_conn, table: Table):  # noqa: ANN001
    """The dialect's INSERT, which knows ON CONFLICT (same syntax on SQLite and PostgreSQL)."""
    name = engine_or_conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database dialect {name!r}: use SQLite or PostgreSQL")


def plain_rows(conn: Connection, stmt, batch: int = 20_000) -> Iterator[tuple]:  # noqa: ANN001
    """The rows of `stmt` as the driver's plain tuples, streamed in batches (PostgreSQL
    through a server-side cursor, inside the connection's transaction). Skipping a Row per
    result row saves about a third of a large fetch's CPU time; only for statements whose
    parameters are strings and integers (nothing for SQLAlchemy to process)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    if compiled.positiontup is not None:
        params = [params[name] for name in compiled.positiontup]
    driver = conn.connection.driver_connection
    cursor = (driver.cursor(name=f"rows_{uuid.uuid4().hex}")
              if conn.dialect.name == "postgresql" else driver.cursor())
    try:
        cursor.execute(str(compiled), params)
        while part := cursor.fetchmany(batch):
            yield from part
    finally:
        cursor.close()
