"""Funnel and segment query times on a synthetic store, beside a raw-scan baseline.

Builds (once) an app with N events over 40 days from N/20 leads (70% page_viewed, 10%
signup, 8% activate, 5% purchase, 7% click; properties {"plan": "pro"|"free"}), then times
each query (best of 3, wall clock and, on SQLite, this process's CPU time). The baseline is
the plain fetch of the same funnel rows without walking them.

    .venv/bin/python benchmarks/funnel_segments.py sqlite:////tmp/gk1m.db 1000000
    .venv/bin/python benchmarks/funnel_segments.py \
        "postgresql://root@127.0.0.1:5432/test?options=-csearch_path%3Dgkfunnel" 10000000

The store is filled only when it holds no app named "bench"; a PostgreSQL schema given by
search_path must exist.
"""

from __future__ import annotations

import random
import sys
import time

import orjson
from sqlalchemy import Connection, func, select, text

from growthkit.core import apps as core_apps
from growthkit.core import segments
from growthkit.core.clock import now_ms
from growthkit.core.filters import PropertyCondition
from growthkit.core.funnel import FunnelPlan, FunnelStep, run_funnel, step_rows
from growthkit.core.partitions import ensure_partitions
from growthkit.core.schema import activities
from growthkit.core.store import migrate, open_engine, write_connection

DAY = 86_400_000
NAMES = ["page_viewed"] * 70 + ["signup"] * 10 + ["activate"] * 8 + ["purchase"] * 5 \
    + ["click"] * 7
COLUMNS = ("id, app_id, fingerprint_id, event_name, properties, context, session_id, "
           "timestamp, received_at")


def fill(engine, n: int, now: int) -> None:
    with write_connection(engine) as conn, conn.begin():
        app = core_apps.create_app(conn, "bench", {}).app.id
    leads = max(n // 20, 10)
    started = time.perf_counter()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            ensure_partitions(conn, now, since=now - 40 * DAY)  # weeks, not the default
            conn.execute(text(f"""
                INSERT INTO activities ({COLUMNS})
                SELECT 'e' || g, :app, 'fp' || (g % :leads),
                  CASE WHEN r < 0.70 THEN 'page_viewed' WHEN r < 0.80 THEN 'signup'
                       WHEN r < 0.88 THEN 'activate' WHEN r < 0.93 THEN 'purchase'
                       ELSE 'click' END,
                  jsonb_build_object('plan', CASE WHEN r2 < 0.5 THEN 'pro' ELSE 'free' END),
                  '{{}}'::jsonb, 's', :now - (random() * 40 * 86400000)::bigint, :now
                FROM (SELECT g, random() r, random() r2 FROM generate_series(1, :n) g) x"""),
                {"app": app, "leads": leads, "n": n, "now": now})
        else:
            rnd = random.Random(1)
            raw = conn.connection.driver_connection
            for lo in range(0, n, 100_000):
                raw.executemany(
                    f"INSERT INTO activities ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                    [(f"e{g}", app, f"fp{g % leads}", rnd.choice(NAMES),
                      orjson.dumps({"plan": rnd.choice(("pro", "free"))}).decode(), "{}", "s",
                      now - int(rnd.random() * 40 * DAY), now)
                     for g in range(lo, min(n, lo + 100_000))])
        conn.execute(text("""
            INSERT INTO leads (app_id, fingerprint, first_seen, last_seen)
            SELECT app_id, fingerprint_id, min(timestamp), max(timestamp) FROM activities
            GROUP BY app_id, fingerprint_id"""))
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql"
                             else "ANALYZE")
    print(f"filled {n:,} events of {leads:,} leads in {time.perf_counter() - started:.0f} s")


def timed(engine, label: str, fn, reps: int = 3) -> None:
    wall = cpu = float("inf")
    for _ in range(reps):
        w, c = time.perf_counter(), time.process_time()
        with engine.connect() as conn:
            out = fn(conn)
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.process_time() - c)
    print(f"{label:58s} {wall * 1000:7.0f} ms wall {cpu * 1000:7.0f} ms cpu   {out}", flush=True)


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    engine = open_engine(url)
    migrate(engine)
    now = now_ms()
    with engine.connect() as conn:
        app = conn.execute(text("SELECT id FROM apps WHERE name = 'bench'")).scalar()
    if app is None:
        fill(engine, n, now)
        with engine.connect() as conn:
            app = conn.execute(text("SELECT id FROM apps WHERE name = 'bench'")).scalar()
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(activities)
                             .where(activities.c.app_id == app)).scalar()
    print(f"{engine.dialect.name}: {total:,} events")

    three = [FunnelStep("signup"), FunnelStep("activate"), FunnelStep("purchase")]
    pro = [FunnelStep("page_viewed"),
           FunnelStep("signup", [PropertyCondition.build("plan", "eq", "pro")])]
    cases = [("3 steps, last 1 day, 1 h window", three, 1, 3600),
             ("3 steps, last 7 days, 1 day window", three, 7, 86400),
             ("3 steps, last 30 days, 1 day window", three, 30, 86400),
             ("page_viewed -> signup(plan=pro), 7 days", pro, 7, 86400)]
    for label, steps, days, window in cases:
        q = FunnelPlan(app, steps, window * 1000, now - days * DAY, now)
        timed(engine, f"baseline: fetch the rows of {label}",
              lambda c, q=q: sum(1 for _ in step_rows(c, q)))
        timed(engine, f"funnel {label}", lambda c, q=q: [r.users for r in run_funnel(c, q)])

    timed(engine, "segments: all built-in counts (+ converters of purchase)",
          lambda c: [s["count"] for s in segments.summary(c, app, now, "purchase")])
    for seg in ("new", "active", "power", "dormant"):
        timed(engine, f"segment {seg}: first page of 50 members",
              lambda c, seg=seg: len(segments.members(
                  c, app, segments.builtin_clause(c, app, seg, now), now, None, 50)[0]))
    rule = segments.Rule(did=[segments.Did("signup")],
                         did_not=[segments.Did("purchase", days=30)])

    def rule_count(c: Connection) -> int:
        return segments.count(c, segments.rule_clause(c, app, rule, now))

    timed(engine, "rule: signup but no purchase in 30 days, count", rule_count)


if __name__ == "__main__":
    main()
