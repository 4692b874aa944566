"""Alembic environment: runs on the engine handed in by growthkit.core.store.migrate."""

from alembic import context

from growthkit.core.schema import metadata

# Several server processes may start together on one store: each migrates at start. On
# PostgreSQL they take turns on a lock per schema (the first migrates, the others then find
# the schema at head). On SQLite a write transaction (BEGIN IMMEDIATE) waits for the file's
# write lock from the start, so they queue on the busy timeout in the same way — which needs
# the whole upgrade in that one transaction: Alembic assumes SQLite's DDL is not
# transactional and would commit after each migration, letting another process in between.
PG_MIGRATION_LOCK = ("SELECT pg_advisory_xact_lock("
                     "hashtext('growthkit-migrate:' || current_schema()))")

engine = context.config.attributes["engine"]
with engine.connect().execution_options(write=True) as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      transactional_ddl=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(PG_MIGRATION_LOCK)
        context.run_migrations()
    connection.commit()
