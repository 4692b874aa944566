"""lead_event_days: the per-lead index is by lead, event name and day, and covers every column

Funnels read the steps' days of the leads that got past step 1 through this index; by name
before day, a lead's probe skips its other events, and covering, it needs no lookup into
the table per row.

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_lead_event_days_app_fp", table_name="lead_event_days")
    op.create_index("ix_lead_event_days_app_fp", "lead_event_days",
                    ["app_id", "fingerprint_id", "event_name", "day", "first_ts", "last_ts",
                     "events"])


def downgrade() -> None:
    op.drop_index("ix_lead_event_days_app_fp", table_name="lead_event_days")
    op.create_index("ix_lead_event_days_app_fp", "lead_event_days",
                    ["app_id", "fingerprint_id", "day"])
