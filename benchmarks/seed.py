"""Realistic synthetic activity, written straight into a store: leads, sessions, credits.

Deterministic for a given --seed: N events from L leads over the last `days` days, with
daily and weekly cycles, sessions (a page view starts each; events minutes apart, at least
30 min between a lead's sessions), Zipf-distributed event names (40), properties and the
tracker's context, leads with first/last seen (a fifth with email and name) and credit
ledgers (initial credits, spends, purchases). SQLite is filled with executemany in big
transactions, PostgreSQL with COPY; the activities indexes are built after loading an empty
store. Then the rollups are refreshed and the planner statistics gathered (both timed).

    .venv/bin/python benchmarks/seed.py sqlite:////tmp/gk-queries.db --events 1000000
    .venv/bin/python benchmarks/seed.py \
        "postgresql://root@127.0.0.1:5432/test?options=-csearch_path%3Dbench_queries" \
        --events 10000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from growthkit.core import apps as core_apps
from growthkit.core.clock import now_ms
from growthkit.core.partitions import ensure_partitions, is_partitioned
from growthkit.core.rollups import refresh_rollups
from growthkit.core.schema import activities
from growthkit.core.store import migrate, normalize_url, open_engine, write_connection
from growthkit.server.demo_vocabulary import (
    DAY,
    HOUR,
    HOUR_WEIGHTS,
    NAMES,
    PATHS,
    WEEKDAY_WEIGHTS,
    contexts,
    credit_ledger,
    page_title,
    properties_pool,
    uuids,
)

APP_NAME = "bench-queries"
CHUNK = 200_000
COLUMNS = ("id", "app_id", "fingerprint_id", "event_name", "properties", "context",
           "session_id", "timestamp", "received_at")


@dataclass
class Seeded:
    """What a benchmark needs to know about a seeded store."""

    app_id: str
    secret_key: str
    events: int
    leads: int
    credit_operations: int
    now: int
    heavy_fingerprint: str  # the lead with the most events
    typical_fingerprint: str  # a lead at the 90th percentile of events
    # (both have credit operations)
    email_fragment: str  # part of some lead's email, for searches
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def meta_path(database_url: str) -> Path:
    """Where the seed keeps what a benchmark needs to reuse a store (app, secret key, leads):
    beside a SQLite file, under the temp folder for other stores."""
    url = make_url(normalize_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database) + ".bench.json")
    digest = hashlib.sha1(database_url.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"growthkit-bench-{digest}.json"


def load_meta(database_url: str) -> Seeded | None:
    path = meta_path(database_url)
    if not path.exists():
        return None
    return Seeded(**json.loads(path.read_text()))


def default_leads(events: int) -> int:
    """50k leads for 1M events, 300k for 10M (power law in between)."""
    return max(10, round(50_000 * (events / 1e6) ** 0.78))


@dataclass
class Plan:
    """The generated events (sorted by time) and leads, as arrays."""

    lead: np.ndarray  # per event: lead index
    ts: np.ndarray
    name: np.ndarray  # index into NAMES
    session: np.ndarray  # global session index
    offset: np.ndarray  # ms since the session's start
    page_views: np.ndarray  # page views in the session so far
    first_seen: np.ndarray  # per lead
    last_seen: np.ndarray
    counts: np.ndarray
    last_session: np.ndarray


def _session_starts(rng: np.random.Generator, lead_first: np.ndarray, lead_end: np.ndarray,
                    sess_lead: np.ndarray, now: int) -> np.ndarray:
    """A start per session (sessions ordered by lead): a lead's m sessions are spread evenly
    over its active time [first, end) measured in "traffic time", the running sum of the
    hourly intensity (daily profile x weekday weight), with a random place in each of the m
    strata; the first session starts at the lead's first sight. So every lead follows the
    daily and weekly cycles, and busy leads' sessions do not pile up."""
    t0 = int(lead_first.min()) // HOUR * HOUR
    hours = np.arange(t0, now + HOUR, HOUR)
    day = hours // DAY
    weight = HOUR_WEIGHTS[(hours % DAY) // HOUR] * WEEKDAY_WEIGHTS[(day + 3) % 7]
    cum = np.concatenate(([0.0], np.cumsum(weight)))

    def traffic(t: np.ndarray) -> np.ndarray:
        i = (t - t0) // HOUR
        return cum[i] + (t - t0 - i * HOUR) / HOUR * weight[i]

    a, b = traffic(lead_first), traffic(lead_end)
    n_sess = np.bincount(sess_lead, minlength=len(lead_first))
    first_sess = np.concatenate(([0], np.cumsum(n_sess)[:-1]))
    k = np.arange(len(sess_lead)) - first_sess[sess_lead]
    u = np.where(k == 0, 0.0, rng.random(len(sess_lead)))
    q = a[sess_lead] + (k + u) / n_sess[sess_lead] * (b - a)[sess_lead]
    i = np.clip(np.searchsorted(cum, q, side="right") - 1, 0, len(weight) - 1)
    return t0 + i * HOUR + ((q - cum[i]) / weight[i] * HOUR).astype(np.int64)


def plan(events: int, leads: int, days: int, now: int, seed: int,
         log: Callable[[str], None]) -> Plan:
    rng = np.random.default_rng(seed)
    t0 = now - days * DAY
    # More leads arrive later (growth); 40% come once, the others stay ~2 weeks on average.
    first = np.minimum(t0 + (rng.random(leads) ** 0.8 * days * DAY).astype(np.int64),
                       now - 3 * HOUR)
    # Active for `life` days (0: one visit, a few hours at most).
    life = np.where(rng.random(leads) < 0.4, 0, rng.exponential(15, leads)).astype(np.int64)
    end = np.minimum(first + np.where(life == 0, 3 * HOUR, life * DAY), now - 2 * HOUR)
    span_days = (end - first) // DAY
    # Heavy-tailed activity (Pareto), capped so no lead is more than ~0.1% of all events.
    weight = np.minimum(rng.pareto(1.2, leads) + 1, 2000) * (1 + span_days)
    counts = 1 + rng.multinomial(events - leads, weight / weight.sum())
    lead = np.repeat(np.arange(leads), counts)
    # Sessions: about 6 events each, at most 6 a day (very active leads have longer ones);
    # a lead's first event opens its first session.
    starts_lead = np.zeros(events, bool)
    starts_lead[np.concatenate(([0], np.cumsum(counts)[:-1]))] = True
    p_open = np.minimum(1 / 6, 6 * (span_days + 1) / counts)
    opens = starts_lead | (rng.random(events) < p_open[lead])
    session = np.cumsum(opens) - 1
    sess_first = np.flatnonzero(opens)
    sess_lead = lead[sess_first]
    start = _session_starts(rng, first, end, sess_lead, now)
    # Events a few seconds to minutes apart (never 30 min: that would end the session).
    gap = np.minimum(rng.exponential(40_000, events), 20 * 60_000).astype(np.int64)
    gap[opens] = 0
    csum = np.cumsum(gap)
    offset = csum - csum[sess_first][session]
    # A lead's sessions at least 31 min apart: in each lead's time order, start_k =
    # max(start_k, end_{k-1} + 31 min), i.e. a running max of start - (lengths before),
    # segmented per lead by adding lead * 2^40 (leads are sorted, times < 2^40 ms).
    order = np.lexsort((start, sess_lead))
    length = offset[np.append(sess_first[1:] - 1, events - 1)][order] + 31 * 60_000
    lead_sorted = sess_lead[order]
    before = np.cumsum(length) - length
    before -= before[np.searchsorted(lead_sorted, lead_sorted)]  # restart at each lead
    big = lead_sorted.astype(np.int64) << 40
    pushed = np.maximum.accumulate(start[order] - before + big) - big + before
    start[order] = pushed
    ts = np.minimum(start[session] + offset, now - 1_000)
    log(f"  planned {events:,} events, {leads:,} leads, {len(sess_first):,} sessions")
    # Names: each session opens with a page view; the rest Zipf over the 40 names.
    zipf = 1 / np.arange(1, len(NAMES) + 1) ** 1.1
    name = rng.choice(len(NAMES), size=events, p=zipf / zipf.sum())
    name[opens] = 0
    is_pv = (name == 0).astype(np.int64)
    pv_csum = np.cumsum(is_pv)
    page_views = pv_csum - pv_csum[sess_first][session] + is_pv[sess_first][session]
    by_time = np.argsort(ts, kind="stable")
    first_seen = np.full(leads, np.iinfo(np.int64).max)
    last_seen = np.zeros(leads, np.int64)
    np.minimum.at(first_seen, lead, ts)
    np.maximum.at(last_seen, lead, ts)
    last_session = np.zeros(leads, np.int64)
    last_session[lead[by_time]] = session[by_time]  # the later write wins: the latest session
    return Plan(lead[by_time], ts[by_time], name[by_time], session[by_time], offset[by_time],
                page_views[by_time], first_seen, last_seen, counts, last_session)


def _event_rows(p: Plan, app_id: str, fps: list[str], sessions: list[str], seed: int,
                ) -> Iterator[list[tuple]]:
    """Rows in COLUMNS order, CHUNK at a time."""
    rng = np.random.default_rng(seed + 1)
    ctx_prefix, paths = contexts(), PATHS
    titles = [page_title(q) for q in paths]
    device = rng.integers(0, len(ctx_prefix), len(fps)).tolist()
    pool, pool_start, pool_size = properties_pool()
    n = len(p.ts)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        ids = uuids(rng, hi - lo)
        lead, ts, name = p.lead[lo:hi].tolist(), p.ts[lo:hi].tolist(), p.name[lo:hi]
        path = np.minimum(rng.zipf(1.6, hi - lo) - 1, len(paths) - 1).tolist()
        variant = (pool_start[name] + rng.integers(0, 1 << 30, hi - lo) % pool_size[name])
        delay = rng.integers(30, 4000, hi - lo).tolist()
        sess, off, pv = (p.session[lo:hi].tolist(), p.offset[lo:hi].tolist(),
                         p.page_views[lo:hi].tolist())
        rows = []
        for i, (le, t) in enumerate(zip(lead, ts, strict=True)):
            props = pool[variant[i]]
            pt = path[i]
            if props is not None:
                props = props.replace("@PATH", paths[pt])
            ctx = (f'{ctx_prefix[device[le]]}"url":"https://app.example.com{paths[pt]}",'
                   f'"title":"{titles[pt]}","sessionDuration":{off[i]},"pageViews":{pv[i]}}}')
            rows.append((ids[i], app_id, fps[le], NAMES[name[i]], props, ctx,
                         sessions[sess[i]], t, t + delay[i]))
        yield rows


def _copy_line(row: tuple) -> str:
    return "\t".join("\\N" if v is None else str(v) for v in row)


def _write_events(engine: Engine, rows: Iterator[list[tuple]], total: int,
                  log: Callable[[str], None]) -> None:
    done, started = 0, time.perf_counter()
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if pg:
            with raw.cursor() as cur, cur.copy(
                    f"COPY activities ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for chunk in rows:
                    copy.write("\n".join(map(_copy_line, chunk)) + "\n")
                    done += len(chunk)
                    log(f"  events {done:,}/{total:,} "
                        f"({done / (time.perf_counter() - started):,.0f}/s)")
            raw.commit()
        else:
            raw.execute("PRAGMA synchronous=OFF")
            raw.execute("BEGIN")
            sql = f"INSERT INTO activities ({', '.join(COLUMNS)}) VALUES ({','.join('?' * 9)})"
            for chunk in rows:
                raw.executemany(sql, chunk)
                done += len(chunk)
                log(f"  events {done:,}/{total:,} "
                    f"({done / (time.perf_counter() - started):,.0f}/s)")
            raw.execute("COMMIT")


def _drop_indexes(engine: Engine, log: Callable[[str], None]) -> list[str]:
    """Drop the secondary indexes (and on PostgreSQL constraints) of an empty activities
    table and return the DDL that rebuilds them: building them once after loading is several
    times faster than maintaining them row by row (and skips a foreign-key check per row)."""
    with engine.begin() as conn:
        if conn.execute(select(activities.c.seq).limit(1)).first() is not None:
            return []
        if engine.dialect.name == "sqlite":  # the explicit indexes (not the UNIQUE one)
            found = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = "
                                      "'index' AND tbl_name = 'activities' AND sql IS NOT NULL"
                                      )).all()
            for name, _ in found:
                conn.execute(text(f"DROP INDEX {name}"))
            return [sql for _, sql in found]
        constraints = conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'activities'::regclass AND contype IN ('u', 'f')")).all()
        indexes = conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'activities' AND indexname <> ALL(:skip)"),
            {"skip": [c for c, _ in constraints] + ["activities_pkey"]}).all()
        # A partitioned table's index is defined ON ONLY the parent; ON builds every
        # partition's too.
        ddl = [f"ALTER TABLE activities ADD CONSTRAINT {name} {definition}"
               for name, definition in constraints] + \
            [d.replace(" ON ONLY ", " ON ") for _, d in indexes]
        if is_partitioned(conn):  # the event ids' table is filled after loading, too
            conn.execute(text("ALTER TABLE activity_ids DROP CONSTRAINT activity_ids_pkey"))
            ddl.append("ALTER TABLE activity_ids ADD CONSTRAINT activity_ids_pkey "
                       "PRIMARY KEY (app_id, id)")
        log("rebuilt after loading:\n  " + ";\n  ".join(ddl))
        for name, _ in constraints:
            conn.execute(text(f"ALTER TABLE activities DROP CONSTRAINT {name}"))
        for name, _ in indexes:
            conn.execute(text(f"DROP INDEX {name}"))
    return ddl


def _run_ddl(engine: Engine, statements: list[str], log: Callable[[str], None]) -> None:
    """Run statements outside a transaction (SQLite: on the driver's autocommit connection,
    since the store's engine opens a transaction of its own on every use)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            run = conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql
            run("SET maintenance_work_mem = '1GB'")
        else:
            run = conn.connection.driver_connection.execute
        for statement in statements:
            started = time.perf_counter()
            run(statement)
            log(f"  {time.perf_counter() - started:5.0f} s  {' '.join(statement.split())[:90]}")


def _write_leads_and_credits(engine: Engine, app_id: str, p: Plan, fps: list[str],
                             sessions: list[str], seed: int) -> tuple[int, str]:
    """Returns the number of credit operations and part of some lead's email address."""
    rng = np.random.default_rng(seed + 2)
    n = len(fps)
    has_email = rng.random(n) < 0.2
    lead_rows = []
    for i in np.argsort(p.first_seen, kind="stable").tolist():  # row ids in arrival order
        email = name = traits = None
        if has_email[i]:
            name = f"User {i}"
            email = f"user{i}@{('gmail.com', 'example.com', 'acme.io', 'mail.de')[i % 4]}"
            traits = f'{{"plan":"{("free", "pro", "team")[i % 3]}"}}'
        lead_rows.append((app_id, fps[i], int(p.first_seen[i]), int(p.last_seen[i]), email,
                          name, traits, sessions[p.last_session[i]], int(p.last_seen[i]),
                          int(p.counts[i])))
    ops = credit_ledger(rng, app_id, fps, p.first_seen, p.last_seen, p.counts,
                        list(sample_leads(p.counts)))
    lead_cols = ("app_id, fingerprint, first_seen, last_seen, email, name, traits, "
                 "last_session_id, last_event_at, events")
    op_cols = "id, app_id, fingerprint_id, action, amount, balance_after, reason, timestamp"
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "postgresql":
            with raw.cursor() as cur:
                with cur.copy(f"COPY leads ({lead_cols}) FROM STDIN") as copy:
                    for row in lead_rows:
                        copy.write_row(row)
                with cur.copy(f"COPY credit_operations ({op_cols}) FROM STDIN") as copy:
                    for row in ops:
                        copy.write_row(row)
            raw.commit()
        else:
            raw.execute("BEGIN")
            raw.executemany(f"INSERT INTO leads ({lead_cols}) VALUES ({','.join('?' * 10)})",
                            lead_rows)
            raw.executemany(f"INSERT INTO credit_operations ({op_cols}) "
                            f"VALUES ({','.join('?' * 8)})", ops)
            raw.execute("COMMIT")
    return len(ops), f"user{int(np.flatnonzero(has_email)[0])}@"


def sample_leads(counts: np.ndarray) -> tuple[int, int]:
    """The lead with the most events, and one at the 90th percentile of events."""
    return int(np.argmax(counts)), int(np.argsort(counts, kind="stable")[len(counts) * 9 // 10])


def analyze(engine: Engine, log: Callable[[str], None]) -> None:
    """Planner statistics (and, on PostgreSQL, the visibility map for index-only scans)."""
    if engine.dialect.name != "postgresql":
        _run_ddl(engine, ["ANALYZE"], log)
        return
    # This schema's tables only (a bare VACUUM covers every schema of the database); a
    # partitioned table's VACUUM covers its partitions and ANALYZE gives the parent its
    # statistics, which autovacuum never gathers.
    with engine.connect() as conn:
        tables = conn.execute(text(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            "AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY relname")).scalars().all()
    _run_ddl(engine, ["VACUUM ANALYZE " + ", ".join(tables)], log)


def seed(engine: Engine, events: int, *, leads: int | None = None, days: int = 85,
         seed_value: int = 1, now: int | None = None,
         log: Callable[[str], None] = print) -> Seeded:
    """Create the app APP_NAME and fill the store; the store must not hold it yet."""
    leads = min(leads or default_leads(events), events)
    now = now or now_ms()
    timings: dict[str, float] = {}
    migrate(engine)
    with write_connection(engine) as conn, conn.begin():
        new = core_apps.create_app(conn, APP_NAME, {"rateLimitPerMinute": 100_000})
    app_id = new.app.id
    started = time.perf_counter()
    p = plan(events, leads, days, now, seed_value, log)
    rng = np.random.default_rng(seed_value + 3)
    fps = [f"fp_{h[:7]}_{h[7:19]}" for h in (u.replace("-", "") for u in uuids(rng, leads))]
    sessions = uuids(rng, int(p.session.max()) + 1)
    timings["plan_s"] = time.perf_counter() - started
    log(f"planned in {timings['plan_s']:.0f} s; writing events")
    started = time.perf_counter()
    with engine.begin() as conn:  # PostgreSQL: a partition for every week seeded
        ensure_partitions(conn, now, since=now - days * DAY)
    ddl = _drop_indexes(engine, log)
    _write_events(engine, _event_rows(p, app_id, fps, sessions, seed_value), events, log)
    with engine.begin() as conn:
        if is_partitioned(conn):
            conn.execute(text("INSERT INTO activity_ids SELECT app_id, id FROM activities "
                              "WHERE app_id = :a"), {"a": app_id})
    timings["events_s"] = time.perf_counter() - started
    if ddl:
        started = time.perf_counter()
        _run_ddl(engine, ddl, log)
        timings["indexes_s"] = time.perf_counter() - started
    started = time.perf_counter()
    n_ops, email_fragment = _write_leads_and_credits(engine, app_id, p, fps, sessions, seed_value)
    timings["leads_credits_s"] = time.perf_counter() - started
    log(f"wrote {leads:,} leads and {n_ops:,} credit operations; refreshing rollups")
    started = time.perf_counter()
    refresh_rollups(engine, settle_ms=0, chunk=500_000, progress=lambda done, top: log(
        f"  rollups {done:,}/{top:,}"))
    timings["rollups_s"] = time.perf_counter() - started
    started = time.perf_counter()
    analyze(engine, log)
    timings["analyze_s"] = time.perf_counter() - started
    heavy, typical = sample_leads(p.counts)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(activities)
                              .where(activities.c.app_id == app_id)).scalar()
    assert stored == events, (stored, events)
    return Seeded(app_id, new.secret_key, events, leads, n_ops, now, fps[heavy],
                  fps[typical], email_fragment, timings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("database_url")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--leads", type=int, default=None, help="default: 50k per 1M, 300k per 10M")
    ap.add_argument("--days", type=int, default=85)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    engine = open_engine(args.database_url)
    out = seed(engine, args.events, leads=args.leads, days=args.days, seed_value=args.seed)
    meta_path(args.database_url).write_text(json.dumps(out.to_json(), indent=2))
    print(json.dumps(out.to_json(), indent=2))
    print(f"saved to {meta_path(args.database_url)}")


if __name__ == "__main__":
    main()
