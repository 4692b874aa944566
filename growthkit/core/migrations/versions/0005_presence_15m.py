"""15-minute presence rollup: rollup_presence_15m (users heatmap in +05:45/+05:30 zones)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_presence_15m",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("fingerprint_id", sa.String(128), primary_key=True),
        sa.Column("session_id", sa.String(128), primary_key=True),
        sqlite_with_rowid=False,
    )
    # Like the other rollups it must hold every event up to the watermark.
    op.execute("INSERT INTO rollup_presence_15m (app_id, bucket, fingerprint_id, session_id) "
               "SELECT app_id, timestamp - timestamp % 900000, fingerprint_id, session_id "
               "FROM activities WHERE seq <= (SELECT COALESCE(MAX(seq), 0) FROM rollup_state "
               "WHERE name = 'counts') GROUP BY app_id, timestamp - timestamp % 900000, "
               "fingerprint_id, session_id")


def downgrade() -> None:
    op.drop_table("rollup_presence_15m")
