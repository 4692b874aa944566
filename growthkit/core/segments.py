"""Behavioural segments of leads: built-ins and custom did / did-not rules, as SQL over leads.

Every segment is one WHERE clause over the `leads` table (with subqueries over activities),
evaluated as of a moment `as_of`: counts are one COUNT(*), member pages one keyset query,
never a query per lead. Windows are inclusive: "in the last D days" means
as_of - D days <= timestamp <= as_of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    except_,
    exists,
    func,
    intersect,
    select,
    true,
)

from growthkit.core import cursors
from growthkit.core.apps import App
from growthkit.core.clock import now_ms, to_iso
from growthkit.core.distinct import distinct_users_sessions
from growthkit.core.errors import NotFound, QueryError
from growthkit.core.filters import ActivityFilter, PropertyCondition
from growthkit.core.funnel import tune_for_scans
from growthkit.core.lead_days import event_rows, lead_totals
from growthkit.core.params import check_limit, check_path, text_param
from growthkit.core.results import Result, result
from growthkit.core.schema import activities, leads

DAY_MS = 86_400_000
NEW_DAYS = 7
ACTIVE_DAYS = 7
DORMANT_DAYS = 14
POWER_DAYS = 30
MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
MEMBER_BATCH = 500  # leads checked per probe query when paging dormant members

BUILTINS: dict[str, tuple[str, str]] = {
    "new": ("New", f"first seen in the last {NEW_DAYS} days"),
    "active": ("Active", f"at least one event in the last {ACTIVE_DAYS} days"),
    "power": ("Power users", f"top 10% of leads by events in the last {POWER_DAYS} days "
                             "(ties: latest event first)"),
    "dormant": ("Dormant", f"first seen over {DORMANT_DAYS} days ago, no events in the last "
                           f"{DORMANT_DAYS} days"),
    "converters": ("Converters", "did the chosen event (?event=) at least once"),
}


class SegmentError(QueryError):
    """A segment request that cannot be answered; the message names the field and rule."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(field or message.partition(":")[0], message)


@dataclass(frozen=True)
class Did:
    """Did `event_name` (any event when None) at least `at_least` times in the last `days`."""

    event_name: str | None
    conditions: Sequence[PropertyCondition] = ()
    at_least: int = 1
    days: int | None = None  # None: all stored history up to as_of


@dataclass(frozen=True)
class Rule:
    """Leads meeting every `did` and none of `did_not` (did_not ignores at_least)."""

    did: Sequence[Did] = field(default_factory=tuple)
    did_not: Sequence[Did] = field(default_factory=tuple)


def _events(app_id: str, cond: Did, as_of: int) -> list[ColumnElement]:
    a = activities.c
    out = [a.app_id == app_id, a.timestamp <= as_of]
    if cond.days is not None:
        out.append(a.timestamp >= _since(cond, as_of))
    if cond.event_name is not None:
        out.append(a.event_name == cond.event_name)
    out.extend(c.clause() for c in cond.conditions)
    return out


def _since(cond: Did, as_of: int) -> int:
    return as_of - (cond.days or 0) * DAY_MS


def _any_event(app_id: str, cond: Did, as_of: int, *also: ColumnElement) -> ColumnElement:
    """Some event in the window: a probe of the covering (app, fingerprint, timestamp) index."""
    return exists().where(activities.c.fingerprint_id == leads.c.fingerprint,
                          *_events(app_id, cond, as_of), *also)


# The start of "all stored history" for lead days: a whole UTC day before any timestamp.
EPOCH_START = -1_000_000 * DAY_MS


def _who(conn: Connection, app_id: str, cond: Did, as_of: int) -> Select:
    """The fingerprints meeting one condition (a set query, labelled `fp`): from lead days
    (a row per lead and day, see lead_days.event_rows) for a named event without property
    conditions, else from raw rows."""
    if cond.event_name is not None and not cond.conditions:
        start = EPOCH_START if cond.days is None else _since(cond, as_of)
        rows = event_rows(conn, app_id, [cond.event_name], start, as_of + 1).subquery()
        who = select(rows.c.fp.label("fp")).group_by(rows.c.fp)
        return who.having(func.sum(rows.c.n) >= cond.at_least) if cond.at_least > 1 else who
    a = activities.c
    who = select(a.fingerprint_id.label("fp")).where(*_events(app_id, cond, as_of))
    if cond.at_least > 1:
        who = who.group_by(a.fingerprint_id).having(func.count() >= cond.at_least)
    return who


def _plain(cond: Did) -> bool:
    """Any event at all within a window: answered from last_seen plus an index probe."""
    return (cond.event_name is None and not cond.conditions and cond.at_least == 1
            and cond.days is not None)


def rule_clause(conn: Connection, app_id: str, rule: Rule, as_of: int) -> ColumnElement:
    """The leads matching `rule` as of `as_of` (leads first seen later are never members).

    "Any event in D days" uses the lead's last_seen (never earlier than its last event) to
    skip most leads, then an index probe. Named events become set operations
    (INTERSECT / EXCEPT), which both stores answer with one hash or sort, never per lead.
    """
    if not rule.did and not rule.did_not:
        raise SegmentError("did: a rule needs at least one condition in did or didNot")
    l = leads.c  # noqa: E741
    parts = [l.app_id == app_id, l.first_seen <= as_of]
    for c in rule.did:
        if _plain(c):
            parts += [l.last_seen >= _since(c, as_of), _any_event(app_id, c, as_of)]
    for c in rule.did_not:
        if _plain(c):
            # "last_seen < since OR NOT EXISTS", written as one NOT EXISTS so that
            # PostgreSQL plans an anti-join of index probes, not a hash of every event.
            parts.append(~_any_event(app_id, c, as_of, l.last_seen >= _since(c, as_of)))
    did = [_who(conn, app_id, c, as_of) for c in rule.did if not _plain(c)]
    did_not = [_who(conn, app_id, c, as_of) for c in rule.did_not if not _plain(c)]
    if did or did_not:
        if not did:
            did = [select(l.fingerprint.label("fp")).where(l.app_id == app_id)]
        members = intersect(*did) if len(did) > 1 else did[0]
        if did_not:
            # SQLite takes no parenthesised compound: the intersection becomes a subquery.
            if len(did) > 1:
                inner = members.subquery()
                members = select(inner.c.fp)
            members = except_(members, *did_not)
        parts.append(l.fingerprint.in_(members))
    return and_(*parts)


def _power(conn: Connection, app_id: str, as_of: int) -> ColumnElement:
    """The ceil(n / 10) leads with most events in the window, of the n leads with any.

    Ties are broken by the latest event (more recent first), then by fingerprint, so the
    segment is exactly a tenth even when many leads have the same count.
    """
    # Per-lead daily totals, not every event of the window (see lead_days.lead_totals).
    counts = lead_totals(conn, app_id, as_of - POWER_DAYS * DAY_MS, as_of + 1).subquery()
    order = [counts.c.n.desc(), counts.c.last.desc(), counts.c.fp]
    ranked = select(counts.c.fp, func.row_number().over(order_by=order).label("rn"),
                    func.count().over().label("total")).subquery()
    # rn <= ceil(total / 10) is 10 * rn <= total + 9 in integers.
    top = select(ranked.c.fp).where(ranked.c.rn * 10 <= ranked.c.total + 9)
    return and_(leads.c.app_id == app_id, leads.c.first_seen <= as_of,
                leads.c.fingerprint.in_(top))


def builtin_clause(conn: Connection, app_id: str, segment: str, as_of: int,
                   event: str | None = None) -> ColumnElement:
    """The leads of a built-in segment as of `as_of`."""
    if segment == "new":
        return and_(leads.c.app_id == app_id, leads.c.first_seen <= as_of,
                    leads.c.first_seen >= as_of - NEW_DAYS * DAY_MS)
    if segment == "active":
        return rule_clause(conn, app_id, Rule(did=[Did(None, days=ACTIVE_DAYS)]), as_of)
    if segment == "dormant":
        # Known for longer than the window: a lead created moments ago (by a credit
        # operation, say) has no events yet but is New, not Dormant.
        return and_(rule_clause(conn, app_id, Rule(did_not=[Did(None, days=DORMANT_DAYS)]), as_of),
                    leads.c.first_seen < as_of - DORMANT_DAYS * DAY_MS)
    if segment == "power":
        return _power(conn, app_id, as_of)
    if segment == "converters":
        if not event:
            raise SegmentError("event: the converters segment needs ?event=EVENT_NAME")
        return rule_clause(conn, app_id, Rule(did=[Did(event)]), as_of)
    raise NotFound(f"segment: unknown segment {segment!r}; built-ins are "
                   f"{', '.join(BUILTINS)} (custom rules: POST "
                   "/api/v1/analytics/segments/query)", "segment")


def count(conn: Connection, clause: ColumnElement) -> int:
    tune_for_scans(conn)
    return conn.execute(select(func.count()).select_from(leads).where(clause)).scalar_one()


def _dormant_window(as_of: int) -> tuple[ColumnElement, int]:
    """Dormant as (a clause over leads alone, since): its members are the leads of the
    clause without any event in [since, as_of]."""
    since = as_of - DORMANT_DAYS * DAY_MS
    return leads.c.first_seen < since, since


def _users(conn: Connection, app_id: str, since: int, as_of: int) -> int:
    """How many leads have an event in [since, as_of]: the exact distinct count from the
    daily presence (every event's lead has a row in leads, first seen no later)."""
    flt = ActivityFilter(app_id, start=since, end=as_of + 1)
    got = distinct_users_sessions(conn, flt)
    if got is not None:
        return got[0]
    a = activities.c
    return conn.execute(select(func.count(a.fingerprint_id.distinct()))
                        .where(*flt.clauses())).scalar_one()


def builtin_count(conn: Connection, app_id: str, segment: str, as_of: int,
                  event: str | None = None) -> int:
    """A built-in segment's size: active from the exact distinct count of the daily
    presence (no probe per lead), the others by counting their clause (dormant: an
    index probe for the leads seen since the window began)."""
    if segment == "active":
        return _users(conn, app_id, as_of - ACTIVE_DAYS * DAY_MS, as_of)
    return count(conn, builtin_clause(conn, app_id, segment, as_of, event))


def summary(conn: Connection, app_id: str, as_of: int,
            event: str | None = None) -> list[Segment]:
    """Every built-in segment with its count; converters only when `event` is given."""
    out = []
    for seg, (name, description) in BUILTINS.items():
        if seg == "converters" and not event:
            continue
        out.append(Segment(seg, name, description,
                           builtin_count(conn, app_id, seg, as_of, event),
                           event if seg == "converters" else None))
    return out


# Member cursors are cursors.encode(CURSOR_KIND, [as_of, last lead id]): they pin the moment
# a listing is evaluated at, so later pages agree with the first.
CURSOR_KIND = "segments:members"


def _page(conn: Connection, app_id: str, clause: ColumnElement, after_id: int | None,
          limit: int, window: tuple[int, int] | None) -> list:
    """Up to `limit` leads of `clause` after `after_id`, newest first; with a window
    (since, as_of) only those without an event in [since, as_of], checked for a batch of
    leads at a time by index probes of their events (last_seen is never earlier than a
    lead's last event — a credit operation may set it later, retention never lowers it —
    so a lead last seen before `since` needs no probe)."""
    l, a = leads.c, activities.c  # noqa: E741

    def newest(after: int | None, n: int) -> list:
        return conn.execute(
            select(l.id, l.fingerprint, l.email, l.name, l.first_seen, l.last_seen)
            .where(l.app_id == app_id, clause, l.id < after if after is not None else true())
            .order_by(l.id.desc()).limit(n)).all()

    if window is None:
        return newest(after_id, limit)
    since, as_of = window
    out: list = []
    while len(out) < limit:
        batch = newest(after_id, MEMBER_BATCH)
        probe = [r.fingerprint for r in batch if r.last_seen >= since]
        seen = set(conn.execute(
            select(a.fingerprint_id).distinct().where(
                a.app_id == app_id, a.fingerprint_id.in_(probe), a.timestamp >= since,
                a.timestamp <= as_of)).scalars()) if probe else set()
        out += [r for r in batch if r.fingerprint not in seen]
        if len(batch) < MEMBER_BATCH:
            break
        after_id = batch[-1].id
    return out[:limit]


def members(conn: Connection, app_id: str, clause: ColumnElement, as_of: int,
            after_id: int | None, limit: int,
            since: int | None = None) -> tuple[list[Member], str | None]:
    """A page of members, newest leads first (by lead id, stable while events arrive);
    with `since`, only those without an event in [since, as_of] (see _page).

    `events` is each member's number of stored events up to `as_of`, counted for the whole
    page in one GROUP BY.
    """
    tune_for_scans(conn)
    page = _page(conn, app_id, clause, after_id, limit + 1,
                 None if since is None else (since, as_of))
    more = len(page) > limit
    page = page[:limit]
    counts: dict[str, int] = {}
    if page:
        a = activities.c
        counts = dict(conn.execute(
            select(a.fingerprint_id, func.count())
            .where(a.app_id == app_id, a.timestamp <= as_of,
                   a.fingerprint_id.in_([r.fingerprint for r in page]))
            .group_by(a.fingerprint_id)).all())
    data = [Member(r.fingerprint, r.email, r.name, to_iso(r.first_seen), to_iso(r.last_seen),
                   counts.get(r.fingerprint, 0)) for r in page]
    return data, cursors.encode(CURSOR_KIND, [as_of, page[-1].id]) if more else None


# --- the query layer: one query object in, one result out -----------------------------------

@result
class Segment(Result):
    id: str
    name: str
    description: str
    count: int
    event: str | None = None  # the converters segment's event


@result
class Segments(Result):
    """GET /analytics/segments: every built-in segment's count as of `asOf`."""

    as_of: str
    data: list[Segment]


@result
class Member(Result):
    fingerprint: str
    email: str | None
    name: str | None
    first_seen: str
    last_seen: str
    events: int


@result
class MemberPage(Result):
    """A page of segment members; the cursor pins the first page's `asOf`."""

    data: list[Member]
    next_cursor: str | None


@result
class RulePage(MemberPage):
    """POST /analytics/segments/query: the rule's member count and a page of members."""

    as_of: str
    count: int


@dataclass
class SegmentsQuery:
    """Built-in segment counts as of `as_of` (epoch ms; None: `now`, the wall clock when
    None); `event` adds the converters segment."""

    event: str | None = None
    as_of: int | None = None
    now: int | None = None


@dataclass
class MembersQuery:
    """A page of one built-in segment's members (see SegmentsQuery for as_of/now)."""

    segment: str
    event: str | None = None
    as_of: int | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT
    now: int | None = None


@dataclass
class RuleQuery:
    """A custom did/didNot rule: its count and a page of members."""

    rule: Rule
    as_of: int | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT
    now: int | None = None


def _moment(as_of: int | None, now: int | None) -> int:
    if as_of is not None:
        return as_of
    return now_ms() if now is None else now


def _pinned(cursor: str | None, as_of: int | None, now: int | None) -> tuple[int, int | None]:
    """(as_of, lead id to continue after): a cursor pins the asOf of its first page."""
    if not cursor:
        return _moment(as_of, now), None
    pinned, after = cursors.decode(CURSOR_KIND, cursor, 2)
    if as_of is not None and as_of != pinned:
        raise cursors.CursorError(f"asOf: this cursor continues a listing as of "
                                  f"{to_iso(pinned)}; leave asOf out or pass the same time",
                                  "asOf")
    return pinned, after


def segment_summary(conn: Connection, app: App, query: SegmentsQuery) -> Segments:
    at = _moment(query.as_of, query.now)
    event = text_param(query.event, "event", 200)
    return Segments(to_iso(at), summary(conn, app.id, at, event))


def segment_members(conn: Connection, app: App, query: MembersQuery) -> MemberPage:
    limit = check_limit(query.limit, MAX_LIMIT)
    at, after = _pinned(query.cursor, query.as_of, query.now)
    event = text_param(query.event, "event", 200)
    if query.segment == "dormant":
        clause, since = _dormant_window(at)
        data, next_cursor = members(conn, app.id, clause, at, after, limit, since)
        return MemberPage(data, next_cursor)
    clause = builtin_clause(conn, app.id, query.segment, at, event)
    data, next_cursor = members(conn, app.id, clause, at, after, limit)
    return MemberPage(data, next_cursor)


def query_segment(conn: Connection, app: App, query: RuleQuery) -> RulePage:
    limit = check_limit(query.limit, MAX_LIMIT)
    at, after = _pinned(query.cursor, query.as_of, query.now)
    for label, conds in (("did", query.rule.did), ("didNot", query.rule.did_not)):
        for i, cond in enumerate(conds):
            for c in cond.conditions:
                check_path(c.path, f"{label}[{i}].where")
    clause = rule_clause(conn, app.id, query.rule, at)
    total = count(conn, clause)
    data, next_cursor = members(conn, app.id, clause, at, after, limit)
    return RulePage(data, next_cursor, to_iso(at), total)
