"""lead_sessions: per app, lead and session the time of its last event

A lead's details count its sessions from here (growthkit/core/lead_days.py) instead of a
count(DISTINCT session_id) over all its events (one read per event for a busy lead).
Backfilled up to the rollup watermark, like the other rollups; refresh_rollups adds the rest.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_sessions",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("fingerprint_id", sa.String(128), primary_key=True),
        sa.Column("session_id", sa.String(128), primary_key=True),
        sa.Column("last_ts", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO lead_sessions (app_id, fingerprint_id, session_id, last_ts) "
               "SELECT app_id, fingerprint_id, session_id, max(timestamp) FROM activities "
               "WHERE seq <= (SELECT COALESCE(MAX(seq), 0) FROM rollup_state "
               "WHERE name = 'counts') GROUP BY app_id, fingerprint_id, session_id")


def downgrade() -> None:
    op.drop_table("lead_sessions")
