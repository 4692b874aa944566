"""Stored-event count per lead (leads.events), kept by ingest and retention

Sorting leads by events no longer groups every event of the app.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("events", sa.BigInteger(), nullable=False,
                                   server_default="0"))
    op.execute("UPDATE leads SET events = (SELECT count(*) FROM activities a "
               "WHERE a.app_id = leads.app_id AND a.fingerprint_id = leads.fingerprint)")
    op.create_index("ix_leads_app_events", "leads", ["app_id", "events", "id"])


def downgrade() -> None:
    op.drop_index("ix_leads_app_events", table_name="leads")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("events")
