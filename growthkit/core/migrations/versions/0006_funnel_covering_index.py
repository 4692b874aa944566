"""Covering (app, event name, time, fingerprint) index for funnels and segments

Replaces ix_activities_app_name_ts (same leading columns, so every plan that used it can
use this one; ingest still maintains the same number of indexes). Funnel steps and
"did event X" segments read fingerprints by event name and time from the index alone
(index-only scans on PostgreSQL, where seq is included; SQLite's rowid is seq).

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_activities_app_name_ts_fp", "activities",
                    ["app_id", "event_name", "timestamp", "fingerprint_id"],
                    postgresql_include=["seq"])
    op.drop_index("ix_activities_app_name_ts", table_name="activities")


def downgrade() -> None:
    op.create_index("ix_activities_app_name_ts", "activities",
                    ["app_id", "event_name", "timestamp"])
    op.drop_index("ix_activities_app_name_ts_fp", table_name="activities")
