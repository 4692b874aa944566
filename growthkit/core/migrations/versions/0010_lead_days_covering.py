"""lead_event_days: the per-lead index covers every column

Funnels read all days of the leads that got past step 1 through this index; covering, it
answers them without a lookup into the table per row.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_lead_event_days_app_fp", table_name="lead_event_days")
    op.create_index("ix_lead_event_days_app_fp", "lead_event_days",
                    ["app_id", "fingerprint_id", "day", "event_name", "first_ts", "last_ts",
                     "events"])


def downgrade() -> None:
    op.drop_index("ix_lead_event_days_app_fp", table_name="lead_event_days")
    op.create_index("ix_lead_event_days_app_fp", "lead_event_days",
                    ["app_id", "fingerprint_id", "day"])
