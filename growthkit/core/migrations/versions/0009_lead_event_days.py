"""lead_event_days: per app, event name, UTC day and lead the events, first and last time

Funnels and "did X" segment rules read these rows (one per lead and day) instead of every
event over long ranges (growthkit/core/lead_days.py). Backfilled here up to the rollup
watermark, like the other rollups; refresh_rollups adds the rest.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_event_days",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("event_name", sa.String(200), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),
        sa.Column("fingerprint_id", sa.String(128), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("first_ts", sa.BigInteger, nullable=False),
        sa.Column("last_ts", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO lead_event_days (app_id, event_name, day, fingerprint_id, events, "
               "first_ts, last_ts) "
               "SELECT app_id, event_name, timestamp - timestamp % 86400000, fingerprint_id, "
               "count(*), min(timestamp), max(timestamp) FROM activities "
               "WHERE seq <= (SELECT COALESCE(MAX(seq), 0) FROM rollup_state "
               "WHERE name = 'counts') GROUP BY app_id, event_name, "
               "timestamp - timestamp % 86400000, fingerprint_id")
    op.create_index("ix_lead_event_days_app_fp", "lead_event_days",
                    ["app_id", "fingerprint_id", "day"])


def downgrade() -> None:
    op.drop_table("lead_event_days")
