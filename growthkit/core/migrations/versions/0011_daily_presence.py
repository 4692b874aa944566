"""Daily and weekly presence: presence_days, presence_steps (exact distinct users and
sessions over long ranges), presence_quarters, presence_hour_steps (users heatmap),
backfilled from the activities already rolled up

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The constants of growthkit/core/presence.py and weekly_presence.py, as they were here.
ALL = "*"
NO_DAY = -(2**62)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
QUARTER_MS = 900_000
WEEK_MS = 7 * DAY_MS
SHIFTS = (0, QUARTER_MS, 2 * QUARTER_MS, 3 * QUARTER_MS)


def upgrade() -> None:
    op.create_table(
        "presence_days",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(1), primary_key=True),
        sa.Column("event_name", sa.String(200), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "presence_steps",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(1), primary_key=True),
        sa.Column("event_name", sa.String(200), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),
        sa.Column("prev_day", sa.BigInteger, primary_key=True),
        sa.Column("present", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "presence_quarters",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "presence_hour_steps",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("shift", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("prev_bucket", sa.BigInteger, primary_key=True),
        sa.Column("present", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    # Like the other rollups they must hold every activity up to the watermark. In SQL,
    # set-based (what presence.py and weekly_presence.py keep row by row): a store of
    # millions of events migrates in minutes, inside the one migration transaction.
    conn = op.get_bind()
    mark = ("(SELECT COALESCE(MAX(seq), 0) FROM rollup_state WHERE name = 'counts')")
    day = f"(timestamp - timestamp % {DAY_MS})"
    keys = [("u", "fingerprint_id"), ("s", "session_id")]
    names = [f"'{ALL}'", "event_name"]
    conn.execute(sa.text(
        "INSERT INTO presence_days (app_id, kind, key, event_name, day) "
        + " UNION ".join(f"SELECT app_id, '{kind}', {key}, {name}, {day} FROM activities "
                         f"WHERE seq <= {mark}" for kind, key in keys for name in names)))
    conn.execute(sa.text(
        "INSERT INTO presence_steps (app_id, kind, event_name, day, prev_day, present) "
        "SELECT app_id, kind, event_name, day, prev_day, count(*) FROM (SELECT app_id, "
        "kind, event_name, day, COALESCE(LAG(day) OVER (PARTITION BY app_id, kind, key, "
        f"event_name ORDER BY day), {NO_DAY}) AS prev_day FROM presence_days) s "
        "GROUP BY app_id, kind, event_name, day, prev_day"))
    conn.execute(sa.text(
        "INSERT INTO presence_quarters (app_id, key, bucket) SELECT DISTINCT app_id, "
        f"fingerprint_id, timestamp - timestamp % {QUARTER_MS} FROM activities "
        f"WHERE seq <= {mark}"))
    for shift in SHIFTS:
        window = f"((bucket - {shift}) - (bucket - {shift}) % {HOUR_MS} + {shift})"
        conn.execute(sa.text(
            "INSERT INTO presence_hour_steps (app_id, shift, bucket, prev_bucket, present) "
            f"SELECT app_id, {shift}, w, prev_w, count(*) FROM (SELECT app_id, w, "
            f"COALESCE(LAG(w) OVER (PARTITION BY app_id, key, w % {WEEK_MS} ORDER BY w), "
            f"{NO_DAY}) AS prev_w FROM (SELECT DISTINCT app_id, key, {window} AS w "
            "FROM presence_quarters) q) s GROUP BY app_id, w, prev_w"))


def downgrade() -> None:
    op.drop_table("presence_hour_steps")
    op.drop_table("presence_quarters")
    op.drop_table("presence_steps")
    op.drop_table("presence_days")
