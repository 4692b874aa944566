"""The vocabulary of synthetic activity: event names, daily and weekly cycles, devices,
property variants per event name, credit ledgers (the demo and benchmarks/seed.py)."""

from __future__ import annotations

import json

import numpy as np

HOUR = 3_600_000
DAY = 24 * HOUR
# 40 event names, most frequent first (drawn with Zipf weights 1/rank^1.1).
NAMES = [
    "page_viewed", "button_clicked", "link_clicked", "scroll_depth", "product_viewed",
    "search_performed", "form_started", "feature_used", "modal_opened", "form_submitted",
    "filter_applied", "tab_switched", "add_to_cart", "video_played", "signup_started",
    "notification_opened", "file_uploaded", "signup_completed", "export_clicked",
    "share_clicked", "comment_posted", "onboarding_step", "settings_changed", "invite_sent",
    "checkout_started", "report_generated", "integration_connected", "purchase_completed",
    "plan_upgraded", "api_key_created", "team_created", "coupon_applied", "feedback_sent",
    "help_opened", "dark_mode_toggled", "password_reset", "account_deleted", "error_shown",
    "trial_extended", "plan_downgraded",
]
# UTC hour of day (Europe and the Americas: quiet at night in both) and weekday, Monday first.
HOUR_WEIGHTS = np.array([4, 3, 2, 1.5, 1.2, 1.2, 2, 4, 6, 8, 9, 9.5, 10, 11, 12, 13, 13,
                         12.5, 12, 11, 10, 9, 7, 5.5])
WEEKDAY_WEIGHTS = np.array([1.0, 1.0, 0.97, 0.95, 0.85, 0.5, 0.45])
PATHS = ["/", "/pricing", "/dashboard", "/docs", "/signup", "/login", "/features",
         "/blog", "/settings", "/checkout", "/reports", "/integrations", "/team", "/billing",
         "/blog/launch", "/docs/api", "/docs/tracker", "/changelog", "/about", "/contact"]
DEVICES = [  # browser, os, device, screen, viewport, user agent, language, zone
    ("Chrome 124", "Windows", "desktop", "1920x1080", "1536x864",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "en-US", "America/New_York"),
    ("Safari 17", "Mac OS X", "desktop", "2560x1440", "1440x900",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.4 Safari/605.1.15", "en-GB", "Europe/London"),
    ("Firefox 125", "Linux", "desktop", "1920x1200", "1600x1000",
     "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "de-DE",
     "Europe/Berlin"),
    ("Mobile Safari 17", "iOS", "mobile", "390x844", "390x664",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "en-US", "America/Los_Angeles"),
    ("Chrome Mobile 124", "Android", "mobile", "412x915", "412x780",
     "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Mobile Safari/537.36", "pt-BR", "America/Sao_Paulo"),
    ("Edge 124", "Windows", "desktop", "1366x768", "1366x657",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0", "fr-FR", "Europe/Paris"),
    ("Safari 17", "iOS", "tablet", "820x1180", "820x1106",
     "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "en-IN", "Asia/Kolkata"),
]
REFERRERS = ["", "https://www.google.com/", "https://news.ycombinator.com/",
             "https://twitter.com/", "https://www.bing.com/"]


def uuids(rng: np.random.Generator, n: int) -> list[str]:
    """n random version-4 UUID strings (the shape of the tracker's event ids)."""
    raw = rng.bytes(16 * n)
    out = []
    for i in range(n):
        h = raw[16 * i:16 * i + 16].hex()
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}")
    return out


def base_context(device: int, referrer: int) -> dict:
    """The context the tracker sends for DEVICES[device] arriving from REFERRERS[referrer];
    each event adds url, title, sessionDuration and pageViews."""
    browser, os_, kind, screen, viewport, ua, lang, zone = DEVICES[device]
    return {"browser": browser, "os": os_, "device": kind, "screenResolution": screen,
            "viewport": viewport, "userAgent": ua, "language": lang, "timeZone": zone,
            "referrer": REFERRERS[referrer]}


def page_title(path: str) -> str:
    return f"Acme {(path.strip('/').split('/')[-1] or 'home').title()}"


def contexts() -> list[str]:
    """The JSON of base_context per (device, referrer) without its closing brace, for
    writers that append an event's own fields as text."""
    return [json.dumps(base_context(d, r), separators=(",", ":"))[:-1] + ","
            for d in range(len(DEVICES)) for r in range(len(REFERRERS))]


def properties_pool() -> tuple[list[str | None], np.ndarray, np.ndarray]:
    """Property JSON variants per event name (flat list, start and size per name);
    '@PATH' is replaced by the event's page path."""
    plans, buttons = ["free", "pro", "team"], ["Buy", "Start trial", "Export", "Share",
                                               "Save", "Invite", "Upgrade", "Search"]
    per_name: list[list] = []
    for name in NAMES:
        if name == "page_viewed":
            v = [{"path": "@PATH"}]
        elif name in ("button_clicked", "link_clicked"):
            v = [{"button": b, "path": "@PATH"} for b in buttons]
        elif name in ("signup_completed", "signup_started", "plan_upgraded",
                      "plan_downgraded", "trial_extended"):
            v = [{"plan": p, "method": m} for p in plans for m in ("email", "google", "github")]
        elif name in ("purchase_completed", "checkout_started", "coupon_applied"):
            v = [{"plan": p, "amount": a, "currency": c} for p in plans for a in (29, 99, 299)
                 for c in ("USD", "EUR")]
        elif name == "scroll_depth":
            v = [{"path": "@PATH", "percent": pc} for pc in (25, 50, 75, 100)]
        elif name == "search_performed":
            v = [{"query": q, "results": r} for q in ("export", "api", "pricing", "csv",
                                                      "team", "sso") for r in (0, 3, 12)]
        elif NAMES.index(name) % 3 == 0:
            v = [None]
        else:
            v = [{"path": "@PATH", "variant": x} for x in ("a", "b")]
        per_name.append([None if x is None else json.dumps(x, separators=(",", ":"))
                         for x in v])
    sizes = np.array([len(v) for v in per_name])
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return [x for v in per_name for x in v], starts, sizes


def credit_ledger(rng: np.random.Generator, app_id: str, fps: list[str], first: np.ndarray,
                  last: np.ndarray, counts: np.ndarray, sample: list[int]) -> list[tuple]:
    """Credit operations of 35% of the leads and of the `sample` leads (time order): 10
    initial credits at first sight, then spends (never below 0) and now and then a
    purchase of 100."""
    ops = []
    has_ledger = rng.random(len(fps)) < 0.35
    has_ledger[sample] = True
    for i in np.flatnonzero(has_ledger).tolist():
        t0, t1 = int(first[i]), int(last[i])
        balance = 10
        ops.append(("", app_id, fps[i], "initial_credits", 10, 10, None, t0 + 1))
        k = min(int(rng.poisson(1 + counts[i] / 40)), 10)
        for t in sorted(rng.integers(t0 + 2, t1 + 3, k).tolist()):
            if balance < 3 or rng.random() < 0.08:
                balance += 100
                ops.append(("", app_id, fps[i], "purchase_credits", 100, balance,
                            "bought 100 credits", t))
            else:
                cost = int(rng.choice([1, 2, 3]))
                balance -= cost
                ops.append(("", app_id, fps[i], ("export_pdf", "ai_summary",
                            "generate_report")[cost - 1], -cost, balance, None, t))
    ops.sort(key=lambda op: op[7])
    return [(op_id, *op[1:]) for op_id, op in zip(uuids(rng, len(ops)), ops, strict=True)]

