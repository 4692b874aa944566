"""The store's tables (SQLAlchemy Core). Times are integer milliseconds since the epoch, UTC.

Integer epoch-ms keeps time arithmetic (buckets, time zones, skew) identical on SQLite and
PostgreSQL; the API turns them into ISO-8601 strings.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

apps = Table(
    "apps",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("public_key", String(80), nullable=False, unique=True),
    Column("secret_key_hash", String(64), nullable=False, unique=True),
    Column("settings", Json, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

leads = Table(
    "leads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("app_id", String(40), ForeignKey("apps.id"), nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("first_seen", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("email", String(320)),
    Column("name", String(200)),
    Column("traits", Json),
    # The server-assigned session: reused while events arrive less than 30 min apart.
    Column("last_session_id", String(128)),
    Column("last_event_at", BigInteger),
    UniqueConstraint("app_id", "fingerprint", name="uq_leads_app_fingerprint"),
)
Index("ix_leads_app_last_seen", leads.c.app_id, leads.c.last_seen)
Index("ix_leads_app_email", leads.c.app_id, leads.c.email)

activities = Table(
    "activities",
    metadata,
    # Monotonic row number: the keyset for cursors and the live stream's Last-Event-ID.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("id", String(64), nullable=False),
    Column("app_id", String(40), ForeignKey("apps.id"), nullable=False),
    Column("fingerprint_id", String(128), nullable=False),
    Column("event_name", String(200), nullable=False),
    Column("properties", Json),
    Column("context", Json, nullable=False),
    Column("session_id", String(128), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    UniqueConstraint("app_id", "id", name="uq_activities_app_event_id"),
)
Index("ix_activities_app_ts", activities.c.app_id, activities.c.timestamp)
Index("ix_activities_app_fp_ts", activities.c.app_id, activities.c.fingerprint_id,
      activities.c.timestamp)
Index("ix_activities_app_name_ts", activities.c.app_id, activities.c.event_name,
      activities.c.timestamp)

credit_operations = Table(
    "credit_operations",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("id", String(64), nullable=False),
    Column("app_id", String(40), ForeignKey("apps.id"), nullable=False),
    Column("fingerprint_id", String(128), nullable=False),
    Column("action", String(200), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("balance_after", Integer, nullable=False),
    Column("reason", Text),
    Column("timestamp", BigInteger, nullable=False),
    UniqueConstraint("app_id", "id", name="uq_credit_ops_app_op_id"),
)
Index("ix_credit_ops_app_fp_ts", credit_operations.c.app_id, credit_operations.c.fingerprint_id,
      credit_operations.c.timestamp)
