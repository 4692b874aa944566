"""Daily and weekly presence: presence_days, presence_steps (exact distinct users and
sessions over long ranges), presence_quarters, presence_hour_steps (users heatmap),
backfilled from the activities already rolled up

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BACKFILL_SEQS = 100_000  # activities per backfill step (bounded memory)


def upgrade() -> None:
    op.create_table(
        "presence_days",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(1), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("event_name", sa.String(200), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "presence_steps",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(1), primary_key=True),
        sa.Column("event_name", sa.String(200), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),
        sa.Column("prev_day", sa.BigInteger, primary_key=True),
        sa.Column("present", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "presence_quarters",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "presence_hour_steps",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("shift", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("prev_bucket", sa.BigInteger, primary_key=True),
        sa.Column("present", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    # Like the other rollups they must hold every activity up to the watermark.
    from growthkit.core.presence import add_presence
    from growthkit.core.schema import activities
    from growthkit.core.weekly_presence import add_weekly_presence

    conn = op.get_bind()
    top = conn.execute(sa.text("SELECT COALESCE(MAX(seq), 0) FROM rollup_state "
                               "WHERE name = 'counts'")).scalar() or 0
    low = conn.execute(sa.text("SELECT COALESCE(MIN(seq), 1) FROM activities")).scalar() or 1
    for lo in range(int(low) - 1, int(top), BACKFILL_SEQS):
        rows = (activities.c.seq > lo, activities.c.seq <= min(lo + BACKFILL_SEQS, int(top)))
        add_presence(conn, *rows)
        add_weekly_presence(conn, *rows)


def downgrade() -> None:
    op.drop_table("presence_hour_steps")
    op.drop_table("presence_quarters")
    op.drop_table("presence_steps")
    op.drop_table("presence_days")
