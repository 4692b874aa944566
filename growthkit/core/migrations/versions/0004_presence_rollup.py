"""presence rollup: rollup_presence (active fingerprints and sessions per app and UTC hour)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_presence",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("fingerprint_id", sa.String(128), primary_key=True),
        sa.Column("session_id", sa.String(128), primary_key=True),
        sqlite_with_rowid=False,
    )
    # The other rollups already hold every event up to the watermark: so must this one.
    op.execute("INSERT INTO rollup_presence (app_id, bucket, fingerprint_id, session_id) "
               "SELECT app_id, timestamp - timestamp % 3600000, fingerprint_id, session_id "
               "FROM activities WHERE seq <= (SELECT COALESCE(MAX(seq), 0) FROM rollup_state "
               "WHERE name = 'counts') GROUP BY app_id, timestamp - timestamp % 3600000, "
               "fingerprint_id, session_id")


def downgrade() -> None:
    op.drop_table("rollup_presence")
