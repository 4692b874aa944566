"""PostgreSQL: activities partitioned by week of timestamp; event ids in activity_ids

Converts the populated table in one transaction (an interrupted run changes nothing): the
old table is renamed, a partitioned one with the same columns (and the same seq sequence)
takes its name, a partition is made for every week of the last two years that has rows
(older and far-future rows go to the default partition), and every row is copied with its
seq. The unique (app_id, id) constraint becomes the primary key of activity_ids, which
ingest claims ids in (see growthkit/core/partitions.py); the primary key becomes
(seq, timestamp); foreign keys and every other index of the old table are rebuilt after
the copy, under their names. Cost: the table is written about twice (rows, then indexes)
and locked for writes throughout; docs/operations.md has measured times. SQLite: nothing.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

from growthkit.core import partitions
from growthkit.core.clock import now_ms

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD = "activities_unpartitioned"


def _carried(run) -> tuple[str, list[str]]:  # noqa: ANN001
    """The seq sequence, and the DDL of the foreign keys and plain indexes to rebuild."""
    sequence = run("SELECT pg_get_serial_sequence('activities', 'seq')").scalar()
    fks = run("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
              "WHERE conrelid = 'activities'::regclass AND contype = 'f'").all()
    indexes = run("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND "
                  "tablename = 'activities' AND indexname NOT IN "
                  "('activities_pkey', 'uq_activities_app_event_id')").scalars().all()
    ddl = [f"ALTER TABLE activities ADD CONSTRAINT {name} {definition}"
           for name, definition in fks]
    # Definitions name the table schema-qualified; after the swap that is the new table.
    return sequence, ddl + [d.replace(" ON ONLY ", " ON ") for d in indexes]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or partitions.is_partitioned(bind):
        return
    run = bind.exec_driver_sql
    run("SET LOCAL maintenance_work_mem = '256MB'")
    run("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
    sequence, rebuild = _carried(run)
    run(f"ALTER TABLE activities RENAME TO {OLD}")
    run(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    run(f'CREATE TABLE activities (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE '
        '("timestamp")')
    run(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF activities DEFAULT")
    now = now_ms()
    partitions.ensure_partitions(bind, now, weeks=partitions.weeks_with_rows(bind, OLD, now))
    run(f"INSERT INTO activities SELECT * FROM {OLD}")
    run("CREATE TABLE activity_ids (app_id varchar(40) NOT NULL, id varchar(64) NOT NULL)")
    run(f"INSERT INTO activity_ids SELECT app_id, id FROM {OLD}")
    run(f"DROP TABLE {OLD}")
    run("ALTER TABLE activity_ids ADD CONSTRAINT activity_ids_pkey PRIMARY KEY (app_id, id)")
    run('ALTER TABLE activities ADD CONSTRAINT activities_pkey PRIMARY KEY (seq, "timestamp")')
    for statement in rebuild:
        run(statement)
    run(f"ALTER SEQUENCE {sequence} OWNED BY activities.seq")
    run("ANALYZE activities")
    run("ANALYZE activity_ids")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not partitions.is_partitioned(bind):
        return
    run = bind.exec_driver_sql
    run("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
    sequence, rebuild = _carried(run)
    run("ALTER TABLE activities RENAME TO activities_partitioned")
    run(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    run("CREATE TABLE activities (LIKE activities_partitioned INCLUDING DEFAULTS)")
    run("INSERT INTO activities SELECT * FROM activities_partitioned")
    run("DROP TABLE activities_partitioned")
    run("DROP TABLE activity_ids")
    run("ALTER TABLE activities ADD CONSTRAINT activities_pkey PRIMARY KEY (seq)")
    run("ALTER TABLE activities ADD CONSTRAINT uq_activities_app_event_id UNIQUE (app_id, id)")
    for statement in rebuild:
        run(statement)
    run(f"ALTER SEQUENCE {sequence} OWNED BY activities.seq")
