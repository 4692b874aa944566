"""lead_day_totals: per app, UTC day and lead, its events that day and the last one's time

"Power users" rank leads by their events over 30 days from here (growthkit/core/segments.py)
instead of grouping every raw event of the window. Backfilled from lead_event_days, which
holds the same events (those up to the rollup watermark); refresh_rollups adds the rest.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_day_totals",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),
        sa.Column("fingerprint_id", sa.String(128), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("last_ts", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO lead_day_totals (app_id, day, fingerprint_id, events, last_ts) "
               "SELECT app_id, day, fingerprint_id, sum(events), max(last_ts) "
               "FROM lead_event_days GROUP BY app_id, day, fingerprint_id")


def downgrade() -> None:
    op.drop_table("lead_day_totals")
