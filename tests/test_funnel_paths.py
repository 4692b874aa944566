"""Funnel fast paths (lead days, growthkit.core.funnel_paths) against a plain recount on raw
rows: late and out-of-order events, rows not yet rolled up, range edges inside UTC days
(local midnights), windows past the range's end, retention; drill-downs agree."""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

import pytest

from growthkit.core import funnel_paths
from growthkit.core.clock import now_ms
from growthkit.core.funnel import FunnelPlan, FunnelStep, lead_paths, raw_paths, run_funnel
from growthkit.core.funnel import summarize as summarize_steps
from growthkit.core.funnel_leads import FunnelLeadsQuery, funnel_leads, time_to_convert
from growthkit.core.funnel_paths import Expand, summary_path
from growthkit.core.retention import run_retention
from growthkit.core.rollups import refresh_rollups
from growthkit.core.timezones import DAY_MS

H = 3_600_000
NAMES = ("view", "signup", "buy", "other")


@pytest.fixture(autouse=True)
def summaries_for_every_range(monkeypatch):
    """The fixtures' ranges are days long: let lead days serve them (the default sends
    ranges under two weeks to raw rows, which are cheaper there)."""
    monkeypatch.setattr(funnel_paths, "MIN_RANGE_MS", 0)


def test_summary_path_is_lead_path_or_undecided():
    """Random single leads: the walk over day summaries equals the raw walk whenever it
    decides, and it decides most leads."""
    from growthkit.core.funnel import lead_path

    rng = random.Random(7)
    decided = 0
    for _ in range(3000):
        n_steps = rng.choice((2, 3, 4))
        events = sorted((rng.randrange(0, 6 * DAY_MS) // rng.choice((1, 60_000, H)) *
                         rng.choice((1, 60_000, H)), rng.randrange(n_steps))
                        for _ in range(rng.randrange(1, 14)))
        start = rng.randrange(0, 3 * DAY_MS)
        end = start + rng.randrange(1, 3 * DAY_MS)
        window = rng.choice((60_000, H, 5 * H, DAY_MS, 2 * DAY_MS))
        rows = [("fp", 1 << k, t) for t, k in events if t < end + window]
        expected = lead_path(rows, n_steps, window, start, end)
        days: dict[tuple[int, int], list[int]] = {}
        for t, k in events:
            days.setdefault((k, t - t % DAY_MS), []).append(t)
        recs = [sorted((min(ts), max(ts), len(ts)) for (k, _), ts in days.items() if k == s)
                for s in range(n_steps)]
        got = summary_path(recs, window, start, end)
        while isinstance(got, Expand):  # read that busy day as its events, as the walk does
            k, i = got
            day = recs[k][i][0] - recs[k][i][0] % DAY_MS
            recs[k][i:i + 1] = [(t, t, 1) for t in sorted(ts for ts, s in events
                                                         if s == k and t_day(ts) == day)]
            got = summary_path(recs, window, start, end)
        if got is not None:
            decided += 1
            assert got == expected, (events, start, end, window)
    assert decided > 2500


def t_day(t: int) -> int:
    return t - t % DAY_MS


def _send(server, app, fp: str, events: list[tuple[str, int]]) -> None:
    body = {"fingerprint": fp, "events": [{"eventName": n, "timestamp": t} for n, t in events]}
    r = server.track(app.public, body)
    assert r.status_code == 200, r.text


def _random_events(rng: random.Random, base: int, days: int) -> list[tuple[str, int]]:
    out = []
    for _ in range(rng.randrange(1, 12)):
        day = base + rng.randrange(days) * DAY_MS
        t = day + rng.randrange(DAY_MS) // 60_000 * 60_000  # whole minutes: ties happen
        out.append((rng.choice(NAMES), t))
        if rng.random() < 0.3:  # a busy day: more views around it
            out += [("view", t + rng.randrange(-5, 5) * 60_000) for _ in range(3)]
    return out


def _full(conn, plan: FunnelPlan) -> dict[str, list[int]]:
    paths = lead_paths(conn, plan)
    rest = paths.rest()
    out = dict(paths.walked)
    out.update({fp: [t] for fp, t in paths.entry_times(rest).items()})
    assert len(out) == paths.entered == len(paths.walked) + len(rest)
    return out


def _plans(app_id: str, base: int) -> list[FunnelPlan]:
    kathmandu = ZoneInfo("Asia/Kathmandu")
    from datetime import datetime

    local = int(datetime.fromtimestamp(base / 1000, kathmandu).replace(
        hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    out = []
    for steps in (("view", "signup"), ("view", "signup", "buy"), ("signup", "view", "buy"),
                  ("view", "buy", "other", "signup")):
        for start, end in ((base, base + 8 * DAY_MS), (base + 2 * DAY_MS + 5 * H, base +
                           5 * DAY_MS + 7 * H), (local + DAY_MS, local + 4 * DAY_MS),
                           (base + DAY_MS, base + DAY_MS + 3 * H)):
            for window in (30 * 60_000, 6 * H, 2 * DAY_MS):
                out.append(FunnelPlan(app_id, [FunnelStep(s) for s in steps], window, start,
                                      end))
    return out


def _check(server, app_id: str, base: int) -> None:
    with server.engine.connect() as conn:
        for plan in _plans(app_id, base):
            with conn.begin():
                expected = raw_paths(conn, plan)
                assert _full(conn, plan) == expected, plan
                reached = [sum(1 for p in expected.values() if len(p) > k)
                           for k in range(len(plan.steps))]
                gaps = [[p[k] - p[k - 1] for p in expected.values() if len(p) > k]
                        for k in range(len(plan.steps))]
                got = run_funnel(conn, plan)
                want = summarize_steps(reached, gaps)
                assert [(s.users, s.median_seconds_to_convert) for s in got] == \
                    [(s.users, s.median_seconds_to_convert) for s in want]


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_paths_match_a_recount(server, seed):
    app = server.create_app(rateLimitPerMinute=100_000, retentionDays=3650)
    rng = random.Random(seed)
    base = (now_ms() - 12 * DAY_MS) // DAY_MS * DAY_MS + 3 * H
    fps = [f"fp_{i:03d}" for i in range(40)]
    for fp in fps:
        _send(server, app, fp, _random_events(rng, base, 8))
    _check(server, app.id, base)  # nothing rolled up yet: raw tail only
    refresh_rollups(server.engine, settle_ms=0)
    _check(server, app.id, base)  # all in lead days
    for fp in rng.sample(fps, 15):  # late events (old timestamps, new seq), out of order
        _send(server, app, fp, sorted(_random_events(rng, base, 8), key=lambda e: -e[1]))
    _check(server, app.id, base)
    refresh_rollups(server.engine, settle_ms=0)
    _check(server, app.id, base)
    rows = server.scalar("SELECT count(*) FROM lead_event_days")
    assert 0 < rows < server.scalar("SELECT count(*) FROM activities")


def test_retention_keeps_lead_days_in_step(server):
    app = server.create_app(rateLimitPerMinute=100_000, retentionDays=3650)
    rng = random.Random(3)
    base = (now_ms() - 12 * DAY_MS) // DAY_MS * DAY_MS + 3 * H
    for i in range(30):
        _send(server, app, f"fp_{i}", _random_events(rng, base, 8))
    refresh_rollups(server.engine, settle_ms=0)
    _send(server, app, "fp_late", [("view", base + H), ("signup", base + 2 * H)])  # unrolled
    # Retention as if 3,650 days had passed since base + 3 days: the first 3 days go.
    run_retention(server.engine, app=app.id, now=base + 3 * DAY_MS + 3650 * DAY_MS)
    cut = base - base % DAY_MS + 3 * DAY_MS
    assert server.scalar("SELECT count(*) FROM lead_event_days WHERE day < :cut", cut=cut) == 0
    assert server.scalar("SELECT count(*) FROM lead_event_days WHERE day >= :cut", cut=cut) > 0
    _check(server, app.id, base)
    refresh_rollups(server.engine, settle_ms=0)
    _check(server, app.id, base)


def test_drill_down_and_time_to_convert_agree_with_the_counts(server):
    app = server.create_app(rateLimitPerMinute=100_000)
    rng = random.Random(5)
    base = (now_ms() - 12 * DAY_MS) // DAY_MS * DAY_MS + 3 * H
    for i in range(40):
        _send(server, app, f"fp_{i:02d}", _random_events(rng, base, 8))
    refresh_rollups(server.engine, settle_ms=0)
    plan = FunnelPlan(app.id, [FunnelStep(s) for s in ("view", "signup", "buy")], 2 * DAY_MS,
                      base + 5 * H, base + 6 * DAY_MS)
    with server.engine.connect() as conn, conn.begin():
        steps = run_funnel(conn, plan)
        expected = raw_paths(conn, plan)
        for k in (1, 2, 3):
            for outcome in ("converted", "dropped"):
                if outcome == "dropped" and k == 1:
                    continue
                seen, cursor = [], None
                while True:
                    page = funnel_leads(conn, app.id, FunnelLeadsQuery(plan, k, outcome, 7,
                                                                       cursor))
                    seen += [(x.fingerprint, x.entered_at, x.last_step) for x in page.data]
                    cursor = page.next_cursor
                    if not cursor:
                        break
                want = sorted((fp, p[0], len(p)) for fp, p in expected.items()
                              if (len(p) >= k if outcome == "converted" else len(p) == k - 1))
                assert seen == want
                assert page.count == len(want) == (
                    steps[k - 1].users if outcome == "converted" else steps[k - 1].drop_off)
        ttc = time_to_convert(conn, plan, 2)
        assert ttc.users == steps[1].users == sum(b.users for b in ttc.bins)
