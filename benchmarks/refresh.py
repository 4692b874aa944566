"""Time `refresh_rollups` over a whole seeded store (benchmarks/seed.py), with the presence
tables and, as the baseline measured in the same run, without them.

Each run empties every table the refresh writes and sets the watermark back to 0, then
rolls the store up from scratch; the figure is the refresh's events per second.

    .venv/bin/python benchmarks/refresh.py sqlite:////tmp/gk-queries.db
"""

from __future__ import annotations

import argparse
import os
import time
from unittest import mock

from sqlalchemy import delete, func, select

from growthkit.core import rollups
from growthkit.core.schema import (
    activities,
    lead_day_totals,
    lead_event_days,
    lead_sessions,
    presence_days,
    presence_hour_steps,
    presence_quarters,
    presence_steps,
    rollup_counts,
    rollup_hourly,
    rollup_presence,
    rollup_presence_15m,
    rollup_state,
)
from growthkit.core.store import migrate, open_engine, write_connection

WRITTEN = (rollup_counts, rollup_hourly, rollup_presence, rollup_presence_15m, lead_event_days,
           lead_day_totals, lead_sessions, presence_days, presence_steps, presence_quarters,
           presence_hour_steps, rollup_state)


def _reset(engine) -> None:  # noqa: ANN001
    with write_connection(engine) as conn, conn.begin():
        for table in WRITTEN:
            conn.execute(delete(table))


def _timed(engine, skip_presence: bool) -> float:  # noqa: ANN001
    _reset(engine)
    started = time.perf_counter()
    if skip_presence:
        with mock.patch.object(rollups, "add_presence", lambda *a: None), \
                mock.patch.object(rollups, "add_weekly_presence", lambda *a: None):
            rollups.refresh_rollups(engine, settle_ms=0)
    else:
        rollups.refresh_rollups(engine, settle_ms=0)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("database_url")
    args = ap.parse_args()
    engine = open_engine(args.database_url)
    migrate(engine)  # a store seeded before the newest migration
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(activities)).scalar()
    print(f"{engine.dialect.name}, {events:,} events, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    base = _timed(engine, skip_presence=True)
    full = _timed(engine, skip_presence=False)
    print(f"refresh without presence tables (baseline): {base:6.1f} s "
          f"({events / base:,.0f} events/s)")
    print(f"refresh with presence tables:               {full:6.1f} s "
          f"({events / full:,.0f} events/s, {full / base:.2f}x the baseline)")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
