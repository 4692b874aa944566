"""Segment fast paths (active from the daily presence, power from lead_day_totals, dormant
pages probed a batch at a time, did rules from lead days) against a plain recount on raw rows:
late and out-of-order events, rows not yet rolled up, leads made by credit operations
(last_seen later than their last event), retention."""

from __future__ import annotations

import random

import pytest

from growthkit.core import credits, segments
from growthkit.core.apps import App
from growthkit.core.clock import now_ms
from growthkit.core.retention import run_retention
from growthkit.core.rollups import refresh_rollups
from growthkit.core.store import write_connection
from growthkit.core.timezones import DAY_MS

H = 3_600_000
NAMES = ("view", "signup", "buy")


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    """Member pages check a few leads per probe, so a page takes several batches."""
    monkeypatch.setattr(segments, "MEMBER_BATCH", 3)


def _send(server, app, fp: str, events: list[tuple[str, int]]) -> None:
    body = {"fingerprint": fp, "events": [{"eventName": n, "timestamp": t} for n, t in events]}
    r = server.track(app.public, body)
    assert r.status_code == 200, r.text


def _random_events(rng: random.Random, start: int, days: int) -> list[tuple[str, int]]:
    out = []
    for _ in range(rng.randrange(1, 10)):
        t = start + rng.randrange(days * DAY_MS) // 60_000 * 60_000  # whole minutes: ties
        out.append((rng.choice(NAMES), t))
        if rng.random() < 0.3:
            out += [("view", t + rng.randrange(-5, 5) * 60_000) for _ in range(3)]
    return out


def _recount(conn, app_id: str, as_of: int) -> dict[str, list[str]]:
    """Every built-in's members (and two did rules'), by definition, from raw rows."""
    lead_rows = conn.exec_driver_sql(
        "SELECT id, fingerprint, first_seen FROM leads WHERE app_id = ?"
        if conn.dialect.name == "sqlite" else
        "SELECT id, fingerprint, first_seen FROM leads WHERE app_id = %(a)s",
        (app_id,) if conn.dialect.name == "sqlite" else {"a": app_id}).all()
    events = conn.exec_driver_sql(
        "SELECT fingerprint_id, event_name, timestamp FROM activities WHERE app_id = ?"
        if conn.dialect.name == "sqlite" else
        "SELECT fingerprint_id, event_name, timestamp FROM activities WHERE app_id = %(a)s",
        (app_id,) if conn.dialect.name == "sqlite" else {"a": app_id}).all()
    known = sorted((r for r in lead_rows if r.first_seen <= as_of), key=lambda r: -r.id)

    def within(days: int | None, name: str | None = None) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for fp, n, ts in events:
            if ts <= as_of and (days is None or ts >= as_of - days * DAY_MS) \
                    and name in (None, n):
                out.setdefault(fp, []).append(ts)
        return out

    active, recent, month = within(7), within(14), within(30)
    ranked = sorted(month, key=lambda fp: (-len(month[fp]), -max(month[fp]), fp))
    power = set(ranked[:-(-len(ranked) // 10)])
    buyers, signups = within(None, "buy"), within(30, "view")
    pick = {
        "new": lambda r: r.first_seen >= as_of - 7 * DAY_MS,
        "active": lambda r: r.fingerprint in active,
        "dormant": lambda r: r.first_seen < as_of - 14 * DAY_MS and r.fingerprint not in recent,
        "power": lambda r: r.fingerprint in power,
        "converters": lambda r: r.fingerprint in buyers,
        "rule": lambda r: len(signups.get(r.fingerprint, ())) >= 2
        and r.fingerprint not in buyers,
    }
    return {seg: [r.fingerprint for r in known if test(r)] for seg, test in pick.items()}


def _check(server, app_id: str, as_of: int) -> None:
    app = App(app_id, "t", None, {})
    rule = segments.Rule(did=[segments.Did("view", at_least=2, days=30)],
                         did_not=[segments.Did("buy")])
    with server.engine.connect() as conn:
        want = _recount(conn, app_id, as_of)
        got = {s.id: s.count for s in segments.summary(conn, app_id, as_of, "buy")}
        assert got == {seg: len(fps) for seg, fps in want.items() if seg != "rule"}, as_of
        for seg, fps in want.items():
            listed, cursor = [], None
            while True:
                if seg == "rule":
                    page = segments.query_segment(conn, app, segments.RuleQuery(
                        rule, as_of=as_of, cursor=cursor, limit=4))
                    assert page.count == len(fps)
                else:
                    page = segments.segment_members(conn, app, segments.MembersQuery(
                        seg, event="buy", as_of=as_of, cursor=cursor, limit=4))
                listed += [m.fingerprint for m in page.data]
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert listed == fps, (seg, as_of)


def _credit(server, app_id: str, fp: str) -> None:
    with write_connection(server.engine) as conn, conn.begin():
        credits.apply(conn, app_id, fp, 5, "gift")


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_segments_match_a_recount(server, seed):
    app = server.create_app(rateLimitPerMinute=100_000, retentionDays=3650)
    rng = random.Random(seed)
    now = now_ms()
    start = now - 45 * DAY_MS
    moments = [now - DAY_MS // 2 - 7 * H, now - 16 * DAY_MS + 5 * H]
    fps = [f"fp_{i:03d}" for i in range(60)]
    for fp in fps:
        _send(server, app, fp, _random_events(rng, start, 45))
    # Leads made by credit operations: one never tracked, one whose only event is old
    # (its last_seen stays at the operation's time, after every event it has).
    _credit(server, app.id, "cr_none")
    _credit(server, app.id, "cr_old")
    _send(server, app, "cr_old", [("view", now - 20 * DAY_MS)])
    assert server.scalar("SELECT count(*) FROM leads WHERE fingerprint LIKE 'cr_%'") == 2
    checks = moments + [now_ms()]
    for at in checks:
        _check(server, app.id, at)  # nothing rolled up yet: raw tail only
    refresh_rollups(server.engine, settle_ms=0)
    for at in checks:
        _check(server, app.id, at)
    for fp in rng.sample(fps, 20):  # late events (old timestamps, new seq), out of order
        _send(server, app, fp, sorted(_random_events(rng, start, 45), key=lambda e: -e[1]))
    for at in checks:
        _check(server, app.id, at)
    refresh_rollups(server.engine, settle_ms=0)
    for at in checks:
        _check(server, app.id, at)
    assert 0 < server.scalar("SELECT count(*) FROM lead_day_totals") \
        < server.scalar("SELECT count(*) FROM lead_event_days")


def test_retention_keeps_segments_in_step(server):
    app = server.create_app(rateLimitPerMinute=100_000, retentionDays=3650)
    rng = random.Random(3)
    now = now_ms()
    start = now - 45 * DAY_MS
    for i in range(40):
        _send(server, app, f"fp_{i}", _random_events(rng, start, 45))
    refresh_rollups(server.engine, settle_ms=0)
    _send(server, app, "fp_late", [("view", now - 30 * DAY_MS), ("buy", now - 2 * DAY_MS)])
    # Retention as if 3,650 days had passed since 25 days ago: what is older goes.
    cut_at = now - 25 * DAY_MS
    run_retention(server.engine, app=app.id, now=cut_at + 3650 * DAY_MS)
    cut = cut_at - cut_at % DAY_MS
    assert server.scalar("SELECT count(*) FROM lead_day_totals WHERE day < :cut", cut=cut) == 0
    assert server.scalar("SELECT count(*) FROM lead_day_totals WHERE day >= :cut", cut=cut) > 0
    for at in (now - 7 * H, now - 3 * DAY_MS):
        _check(server, app.id, at)
    refresh_rollups(server.engine, settle_ms=0)
    for at in (now - 7 * H, now - 3 * DAY_MS):
        _check(server, app.id, at)
