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
    # Stored events of the lead: + at ingest, - when retention deletes (sorting by it is cheap).
    Column("events", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("app_id", "fingerprint", name="uq_leads_app_fingerprint"),
)
Index("ix_leads_app_last_seen", leads.c.app_id, leads.c.last_seen)
Index("ix_leads_app_email", leads.c.app_id, leads.c.email)
Index("ix_leads_app_events", leads.c.app_id, leads.c.events, leads.c.id)

# On PostgreSQL (migration 0010, core/partitions.py) this table is partitioned by week of
# timestamp: its primary key is (seq, timestamp) and the unique (app_id, id) pairs live in
# `activity_ids`, a table of that store only. SQLite keeps the table as declared here.
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
# Covering for funnels and "did X" segments (migration 0006; seq is SQLite's rowid).
Index("ix_activities_app_name_ts_fp", activities.c.app_id, activities.c.event_name,
      activities.c.timestamp, activities.c.fingerprint_id, postgresql_include=["seq"])

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

# Rollups (growthkit/core/rollups.py, retention.py): derived data, rebuilt from activities.
# On SQLite they are WITHOUT ROWID tables: clustered on the key they are read and upserted by.
def _count_rollup(name: str) -> Table:
    """Event counts per app, UTC bucket (its start, epoch ms) and event name."""
    return Table(
        name,
        metadata,
        Column("app_id", String(40), primary_key=True),
        Column("bucket", BigInteger, primary_key=True),
        Column("event_name", String(200), primary_key=True),
        Column("events", BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )


def _presence_rollup(name: str) -> Table:
    """Which fingerprints and sessions were active per app and UTC bucket."""
    return Table(
        name,
        metadata,
        Column("app_id", String(40), primary_key=True),
        Column("bucket", BigInteger, primary_key=True),
        Column("fingerprint_id", String(128), primary_key=True),
        Column("session_id", String(128), primary_key=True),
        sqlite_with_rowid=False,
    )


# Event counts per 15-minute UTC bucket; kept after retention deletes the events, so counts,
# series and heatmaps stay exact for any zone at 15-minute resolution.
rollup_counts = _count_rollup("rollup_counts")
# The same per whole UTC hour: 4x fewer rows for the zones whose offsets are whole hours.
rollup_hourly = _count_rollup("rollup_hourly")

# Presence per UTC hour: distinct users and sessions over a range are counted over it (one
# row per session-hour, not per event). Deleted with the events by retention.
rollup_presence = _presence_rollup("rollup_presence")
# The same per 15 minutes, for the users heatmap in zones such as +05:45 and +05:30.
rollup_presence_15m = _presence_rollup("rollup_presence_15m")

# Per app, event name, UTC day and lead: the events, first and last time (core/lead_days.py;
# funnels and segment rules read these instead of every event). Deleted with the events.
lead_event_days = Table(
    "lead_event_days",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("event_name", String(200), primary_key=True),
    Column("day", BigInteger, primary_key=True),
    Column("fingerprint_id", String(128), primary_key=True),
    Column("events", BigInteger, nullable=False),
    Column("first_ts", BigInteger, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
# One lead's days, covering: funnels read the days of the leads that got past step 1.
Index("ix_lead_event_days_app_fp", *(lead_event_days.c[name] for name in (
    "app_id", "fingerprint_id", "event_name", "day", "first_ts", "last_ts", "events")))

# Per app, UTC day and lead: its events that day and the last one's time, whatever their
# names (core/lead_days.py): "power users" rank leads by events over 30 days from a few
# rows per lead instead of every event (lead_event_days has a row per name as well).
lead_day_totals = Table(
    "lead_day_totals",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("day", BigInteger, primary_key=True),
    Column("fingerprint_id", String(128), primary_key=True),
    Column("events", BigInteger, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Per app, lead and session: the time of its last event (core/lead_days.py): a lead's
# session count without reading its events. Retention drops sessions whose events all went.
lead_sessions = Table(
    "lead_sessions",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("fingerprint_id", String(128), primary_key=True),
    Column("session_id", String(128), primary_key=True),
    Column("last_ts", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Who was active on which UTC day (growthkit/core/presence.py): per kind ('u' lead
# fingerprint, 's' session), key, and event name ('*': any event), one row per day. The
# key leads the primary key: every read is by key, and PostgreSQL would otherwise scan
# the whole (app, kind) range and filter keys when its statistics are not there yet...
presence_days = Table(
    "presence_days",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("app_id", String(40), primary_key=True),
    Column("kind", String(1), primary_key=True),
    Column("event_name", String(200), primary_key=True),
    Column("day", BigInteger, primary_key=True),
    sqlite_with_rowid=False,
)
# ...and how many keys were present on `day` with `prev_day` their previous day present
# (presence.NO_DAY: none): distinct keys over whole days [d1, d2) are the rows of
# d1 <= day < d2 with prev_day < d1, a sum over a few thousand rows at most.
presence_steps = Table(
    "presence_steps",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("kind", String(1), primary_key=True),
    Column("event_name", String(200), primary_key=True),
    Column("day", BigInteger, primary_key=True),
    Column("prev_day", BigInteger, primary_key=True),
    Column("present", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Which leads were active in which 15 minutes, and per hour window of the week (for each
# shift of the windows: 0/15/30/45 min) how many came back after which earlier window of
# the same hour of the week (growthkit/core/weekly_presence.py): users-heatmap cells.
presence_quarters = Table(
    "presence_quarters",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("app_id", String(40), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    sqlite_with_rowid=False,
)
presence_hour_steps = Table(
    "presence_hour_steps",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("shift", Integer, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("prev_bucket", BigInteger, primary_key=True),
    Column("present", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# What retention keeps of deleted events: per UTC day and event name ('*' = all events)
# the count and the distinct users and sessions of that day.
daily_rollups = Table(
    "daily_rollups",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("day", BigInteger, primary_key=True),
    Column("event_name", String(200), primary_key=True),
    Column("events", BigInteger, nullable=False),
    Column("users", BigInteger, nullable=False),
    Column("sessions", BigInteger, nullable=False),
)

# Progress of the incremental rollup: activities with seq <= `seq` are in rollup_counts.
rollup_state = Table(
    "rollup_state",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("pending_seq", BigInteger),
    Column("pending_at", BigInteger),
)

# Per app: events before `rolled_until` were rolled into daily_rollups and deleted.
retention_state = Table(
    "retention_state",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("rolled_until", BigInteger, nullable=False),
    Column("ran_at", BigInteger, nullable=False),
)
