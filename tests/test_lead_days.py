"""A lead's details (sessions, top events) from lead days against a plain recount of its
stored events: before and after the rollup refresh, with late events, and after retention
deleted days (a session that spans the cut keeps counting)."""

from __future__ import annotations

from growthkit.core.clock import now_ms
from growthkit.core.retention import run_retention
from growthkit.core.rollups import refresh_rollups
from growthkit.core.timezones import DAY_MS

H = 3_600_000


def _send(server, app, fp: str, events: list[tuple[str, int, str]]) -> None:
    body = {"fingerprint": fp, "events": [{"eventName": n, "timestamp": t, "sessionId": s}
                                          for n, t, s in events]}
    r = server.track(app.public, body)
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def _check(server, app, fp: str) -> None:
    r = server.client.get(f"/api/v1/leads/{fp}", headers={"Authorization": f"Bearer {app.secret}"})
    assert r.status_code == 200, r.text
    d = r.json()
    sessions = server.scalar("SELECT count(DISTINCT session_id) FROM activities "
                             "WHERE app_id = :a AND fingerprint_id = :f", a=app.id, f=fp)
    counts = server.rows("SELECT event_name, count(*) FROM activities WHERE app_id = :a AND "
                         "fingerprint_id = :f GROUP BY event_name", a=app.id, f=fp)
    ranked = sorted(((n, c) for n, c in counts), key=lambda x: (-x[1], x[0]))[:10]
    assert d["sessions"] == sessions
    assert [(e["eventName"], e["count"]) for e in d["topEvents"]] == ranked


def test_lead_details_match_a_recount(server):
    app = server.create_app(rateLimitPerMinute=100_000, retentionDays=3650)
    day0 = (now_ms() - 10 * DAY_MS) // DAY_MS * DAY_MS
    events = []
    for d in range(6):
        for k in range(d + 1):
            # s_d_0 runs across midnight into the next day
            t = day0 + d * DAY_MS + 23 * H + k * 60_000
            events += [(f"e{k % 4}", t, f"s_{d}_{k % 2}"), ("page_viewed", t + 2 * H, f"s_{d}_0")]
    _send(server, app, "fp_a", events)
    _send(server, app, "fp_b", [("page_viewed", day0 + H, "other")])
    _check(server, app, "fp_a")  # nothing rolled up yet
    refresh_rollups(server.engine, settle_ms=0)
    _check(server, app, "fp_a")
    # Late events: an old time in a known session and in a new one; nothing rolled up.
    _send(server, app, "fp_a", [("e1", day0 + 30 * 60_000, "s_0_0"),
                                ("e9", day0 + 2 * DAY_MS + H, "late")])
    _check(server, app, "fp_a")
    refresh_rollups(server.engine, settle_ms=0)
    _check(server, app, "fp_a")
    _send(server, app, "fp_a", [("e2", day0 + 3 * DAY_MS + 5 * H, "s_new")])  # unrolled
    # Retention as if 3,650 days had passed since day0 + 2 days: days 0 and 1 go; the
    # sessions s_1_0 (into day 2) keep counting, s_0_* and s_1_1 do not.
    run_retention(server.engine, app=app.id, now=day0 + 2 * DAY_MS + 3650 * DAY_MS)
    assert server.scalar("SELECT count(*) FROM activities WHERE timestamp < :t",
                         t=day0 + 2 * DAY_MS) == 0
    _check(server, app, "fp_a")
    refresh_rollups(server.engine, settle_ms=0)
    _check(server, app, "fp_a")
    _check(server, app, "fp_b")
