"""initial schema: apps, leads, activities, credit_operations

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("public_key", sa.String(80), nullable=False, unique=True),
        sa.Column("secret_key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("settings", Json, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id"), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("first_seen", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("name", sa.String(200)),
        sa.Column("traits", Json),
        sa.Column("last_session_id", sa.String(128)),
        sa.Column("last_event_at", sa.BigInteger),
        sa.UniqueConstraint("app_id", "fingerprint", name="uq_leads_app_fingerprint"),
    )
    op.create_index("ix_leads_app_last_seen", "leads", ["app_id", "last_seen"])
    op.create_index("ix_leads_app_email", "leads", ["app_id", "email"])
    op.create_table(
        "activities",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id"), nullable=False),
        sa.Column("fingerprint_id", sa.String(128), nullable=False),
        sa.Column("event_name", sa.String(200), nullable=False),
        sa.Column("properties", Json),
        sa.Column("context", Json, nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("app_id", "id", name="uq_activities_app_event_id"),
    )
    op.create_index("ix_activities_app_ts", "activities", ["app_id", "timestamp"])
    op.create_index("ix_activities_app_fp_ts", "activities",
                    ["app_id", "fingerprint_id", "timestamp"])
    op.create_index("ix_activities_app_name_ts", "activities",
                    ["app_id", "event_name", "timestamp"])
    op.create_table(
        "credit_operations",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id"), nullable=False),
        sa.Column("fingerprint_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("balance_after", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("app_id", "id", name="uq_credit_ops_app_op_id"),
    )
    op.create_index("ix_credit_ops_app_fp_ts", "credit_operations",
                    ["app_id", "fingerprint_id", "timestamp"])


def downgrade() -> None:
    for table in ("credit_operations", "activities", "leads", "apps"):
        op.drop_table(table)
