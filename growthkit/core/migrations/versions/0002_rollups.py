"""rollups: rollup_counts (15-minute), daily_rollups, rollup_state, retention_state

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_counts",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("event_name", sa.String(200), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "daily_rollups",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),
        sa.Column("event_name", sa.String(200), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("users", sa.BigInteger, nullable=False),
        sa.Column("sessions", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("pending_seq", sa.BigInteger),
        sa.Column("pending_at", sa.BigInteger),
    )
    op.create_table(
        "retention_state",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("rolled_until", sa.BigInteger, nullable=False),
        sa.Column("ran_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("retention_state", "rollup_state", "daily_rollups", "rollup_counts"):
        op.drop_table(table)
