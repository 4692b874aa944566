"""hourly rollups: rollup_hourly, filled from rollup_counts

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_hourly",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("event_name", sa.String(200), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    # Stores already at 0002 have 15-minute rollups up to the watermark: sum them per hour.
    op.execute("INSERT INTO rollup_hourly (app_id, bucket, event_name, events) "
               "SELECT app_id, bucket - bucket % 3600000, event_name, SUM(events) "
               "FROM rollup_counts GROUP BY app_id, bucket - bucket % 3600000, event_name")


def downgrade() -> None:
    op.drop_table("rollup_hourly")
