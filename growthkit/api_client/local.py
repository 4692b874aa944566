"""`LocalSource`: the `Source` methods answered by core's query functions on a SQLite file in
core's schema (an offline snapshot or the console's cache) — no server, no network.

Each method builds the same core query the server's route builds from the same keyword
filters, runs the core function on the file and reads its `to_json()` into the client's
result type, so an answer is the JSON the server would give for the same rows. Core errors
become the client's exceptions (a bad value: ValidationError naming the field; an unknown
lead: NotFound). On a snapshot, default ranges end at the snapshot's end, not at the wall
clock: a month-old snapshot opens on its own last 24 hours. The file is only read: writes
(`update_lead`, `credit`) raise ReadOnly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from os import PathLike
from pathlib import Path
from typing import Any, BinaryIO, Unpack

from sqlalchemy import Engine, create_engine, event, select

from growthkit.api_client import errors
from growthkit.api_client.client import _funnel_body, _rule
from growthkit.api_client.export import _cancel_check, write_whole
from growthkit.api_client.filters import TimeLike, Where, event_names, time_param
from growthkit.api_client.filters import conditions as condition_texts
from growthkit.api_client.listing import Listing
from growthkit.api_client.replica import read_meta
from growthkit.api_client.results import (
    TIME_FIELDS,
    AppInfo,
    Applied,
    EventFrequency,
    FunnelLead,
    FunnelResult,
    Heatmap,
    Lead,
    LeadDetails,
    Member,
    Operation,
    Segments,
    Session,
    Stats,
    StoredActivity,
    TimelineItem,
    TimeToConvert,
    json_fields,
)
from growthkit.api_client.source import Cancel, Filters, FunnelStep, Progress
from growthkit.core import credits as core_credits
from growthkit.core import export as core_export
from growthkit.core import feed, frequency, heatmap, lead_profile, leads, segments, sessions
from growthkit.core import funnel as core_funnel
from growthkit.core import funnel_leads as drill
from growthkit.core import params as core_params
from growthkit.core import stats as core_stats
from growthkit.core import timeline as core_timeline
from growthkit.core.activities import stored_activity
from growthkit.core.apps import App, get_app
from growthkit.core.clock import parse_time, to_iso
from growthkit.core.errors import Conflict, GrowthKitCoreError, NotFound, QueryError
from growthkit.core.filters import ActivityFilter, PropertyCondition
from growthkit.core.schema import apps
from growthkit.core.store import JSON_CODEC


class ReadOnly(errors.GrowthKitError):
    """A write asked of a local file: snapshots and caches are read-only copies."""


def client_error(exc: GrowthKitCoreError) -> errors.GrowthKitError:
    """A core error as the exception the client raises for the server's answer to it."""
    if isinstance(exc, NotFound):
        return errors.NotFound(exc.message, status=404)
    if isinstance(exc, Conflict):
        return errors.Conflict(exc.message, status=409)
    if isinstance(exc, QueryError):
        return errors.ValidationError(exc.message, status=422, errors=[
            errors.FieldError(exc.field or "request", exc.message)])
    return errors.GrowthKitError(exc.message)


def _time(value: TimeLike | None, name: str) -> int | None:
    return core_params.optional_time(time_param(value, name), "from" if name == "start"
                                     else "to" if name == "end" else name)


def _conditions(items: Iterable[Mapping[str, Any]], field: str) -> list[PropertyCondition]:
    out = []
    for i, item in enumerate(items):
        cond = PropertyCondition.from_json(dict(item))
        core_params.check_path(cond.path, f"{field}[{i}]")
        out.append(cond)
    return out


class LocalSource:
    """The query methods of `Client`, answered from the core-schema SQLite file at `path`.

    `meta` is the file's metadata (kind, server, app, range, when it was taken). `end` is
    where default ranges end: the snapshot's end, or None (the wall clock) for a cache.
    """

    def __init__(self, path: str | PathLike[str]):
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise FileNotFoundError(f"path: no snapshot or cache file at {self.path}")
        self.engine = _open(self.path)
        try:
            with self.engine.connect() as conn:
                self.meta = read_meta(conn.connection.driver_connection)
                rows = conn.execute(select(apps.c.id)).all()
        except Exception as exc:
            self.engine.dispose()
            raise ValueError(f"path: {self.path} is not a GrowthKit snapshot or cache "
                             f"({exc})") from None
        if len(rows) != 1:
            self.engine.dispose()
            raise ValueError(f"path: {self.path} holds {len(rows)} apps; a snapshot or cache "
                             "holds exactly one")
        self.app_id: str = rows[0].id
        end = self.meta.get("to") if self.meta.get("kind") == "snapshot" else None
        self.end: int | None = parse_time(end) if end else None

    def __enter__(self) -> LocalSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"LocalSource({str(self.path)!r})"

    # -- plumbing ---------------------------------------------------------------------------

    def _app(self, conn: Any) -> App:
        return get_app(conn, self.app_id)

    def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A core function's result (the type Client reads the server's answer into);
        core errors as the client's exceptions."""
        try:
            with self.engine.connect() as conn:
                return fn(conn, self._app(conn), *args)
        except GrowthKitCoreError as exc:
            raise client_error(exc) from None

    def _listing(self, page: Callable[[str | None, int], Any], item_type: Any, *,
                 page_size: int, limit: int | None) -> Listing:
        """A listing whose pages are core page results (read as the API's JSON pages)."""
        return Listing(lambda cursor, size: page(cursor, size).to_json(), item_type.from_json,
                       page_size=page_size, limit=limit, time_fields=TIME_FIELDS[item_type],
                       columns=json_fields(item_type))

    def _filter(self, *, event: Any = None, start: TimeLike | None = None,
                end: TimeLike | None = None, fingerprint: str | None = None,
                session: str | None = None, where: Where | None = None,
                search: str | None = None) -> ActivityFilter:
        try:
            return core_params.activity_filter(
                self.app_id, event_names=event_names(event),
                start=time_param(start, "start"), end=time_param(end, "end"),
                fingerprint=fingerprint, session_id=session, where=condition_texts(where),
                search=search)
        except GrowthKitCoreError as exc:
            raise client_error(exc) from None

    @staticmethod
    def _split(filters: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        tz = filters.pop("tz", None)
        return filters, tz

    # -- the app ----------------------------------------------------------------------------

    def app_settings(self) -> AppInfo:
        """The app as the snapshot or cache holds it (`publicKey` is empty: no keys here)."""
        with self.engine.connect() as conn:
            app = self._app(conn)
        return AppInfo(app.id, app.name, app.public_key or None, app.settings,
                       to_iso(app.created_at))

    # -- analytics --------------------------------------------------------------------------

    def stats(self, *, top: int | None = None, **filters: Unpack[Filters]) -> Stats:
        flt, tz = self._split(dict(filters))
        query = core_stats.StatsQuery(self._filter(**flt), tz=tz, now=self.end,
                                      **({"top": top} if top is not None else {}))
        return self._run(core_stats.quick_stats, query)

    def event_frequency(self, *, interval: str = "day", top: int | None = None,
                        **filters: Unpack[Filters]) -> EventFrequency:
        flt, tz = self._split(dict(filters))
        query = frequency.FrequencyQuery(self._filter(**flt), tz=tz, interval=interval,
                                         now=self.end,
                                         **({"limit": top} if top is not None else {}))
        return self._run(frequency.event_frequency, query)

    def heatmap(self, *, metric: str = "events", **filters: Unpack[Filters]) -> Heatmap:
        flt, tz = self._split(dict(filters))
        query = heatmap.HeatmapQuery(self._filter(**flt), tz=tz, metric=metric, now=self.end)
        return self._run(heatmap.heatmap_report, query)

    def _funnel(self, body: dict[str, Any]) -> core_funnel.FunnelQuery:
        try:
            steps = [core_funnel.FunnelStep(s["eventName"], _conditions(
                s.get("where", []), f"steps[{i}].where")) for i, s in enumerate(body["steps"])]
            return core_funnel.FunnelQuery(
                steps=steps, window_seconds=body["windowSeconds"],
                start=core_params.optional_time(body.get("from"), "from"),
                end=core_params.optional_time(body.get("to"), "to"),
                conditions=_conditions(body.get("where", []), "where"), now=self.end)
        except GrowthKitCoreError as exc:
            raise client_error(exc) from None

    def funnel(self, steps: Iterable[FunnelStep], *, window: timedelta | float,
               start: TimeLike | None = None, end: TimeLike | None = None,
               where: Where | None = None) -> FunnelResult:
        query = self._funnel(_funnel_body(steps, window, start, end, where))
        return self._run(core_funnel.funnel, query)

    def funnel_leads(self, steps: Iterable[FunnelStep], *, window: timedelta | float,
                     step: int, outcome: str = "converted", start: TimeLike | None = None,
                     end: TimeLike | None = None, where: Where | None = None,
                     page_size: int = 100, limit: int | None = None) -> Listing[FunnelLead]:
        query = self._funnel(_funnel_body(steps, window, start, end, where))

        def page(cursor: str | None, size: int) -> Any:
            def run(conn: Any, app: App) -> Any:
                return drill.funnel_leads(conn, app.id, drill.FunnelLeadsQuery(
                    core_funnel.plan(app, query), step, outcome, size, cursor))
            return self._run(run)

        return self._listing(page, FunnelLead, page_size=page_size, limit=limit)

    def funnel_time_to_convert(self, steps: Iterable[FunnelStep], *,
                               window: timedelta | float, step: int, bins: int = 20,
                               start: TimeLike | None = None, end: TimeLike | None = None,
                               where: Where | None = None) -> TimeToConvert:
        query = self._funnel(_funnel_body(steps, window, start, end, where))
        return self._run(lambda conn, app: drill.time_to_convert(
            conn, core_funnel.plan(app, query), step, bins))

    def segments(self, *, event: str | None = None, as_of: TimeLike | None = None) -> Segments:
        query = segments.SegmentsQuery(event=event, as_of=_time(as_of, "asOf"), now=self.end)
        return self._run(segments.segment_summary, query)

    def segment_members(self, segment: str | Mapping[str, Any], *, event: str | None = None,
                        as_of: TimeLike | None = None, page_size: int = 50,
                        limit: int | None = None) -> Listing[Member]:
        at = _time(as_of, "asOf")
        if isinstance(segment, str):
            def page(cursor: str | None, size: int) -> Any:
                return self._run(segments.segment_members, segments.MembersQuery(
                    segment, event=event, as_of=at, cursor=cursor, limit=size, now=self.end))
        else:
            body = _rule(segment)
            try:
                rule = segments.Rule(
                    did=[segments.Did(d["eventName"], _conditions(d.get("where", []),
                                                                  f"did[{i}].where"),
                                      d.get("atLeast", 1), d.get("days"))
                         for i, d in enumerate(body.get("did", []))],
                    did_not=[segments.Did(d["eventName"], _conditions(
                        d.get("where", []), f"didNot[{i}].where"), 1, d.get("days"))
                        for i, d in enumerate(body.get("didNot", []))])
            except GrowthKitCoreError as exc:
                raise client_error(exc) from None

            def page(cursor: str | None, size: int) -> Any:
                return self._run(segments.query_segment, segments.RuleQuery(
                    rule, as_of=at, cursor=cursor, limit=size, now=self.end))
        return self._listing(page, Member, page_size=page_size, limit=limit)

    # -- activities -------------------------------------------------------------------------

    def activities(self, *, order: str = "desc", page_size: int = 100,
                   limit: int | None = None, **filters: Unpack[Filters]
                   ) -> Listing[StoredActivity]:
        flt = self._filter(**self._split(dict(filters))[0])

        def page(cursor: str | None, size: int) -> Any:
            return self._run(feed.list_activities, feed.ActivitiesQuery(
                flt, order=order, limit=size, cursor=cursor))

        return self._listing(page, StoredActivity, page_size=page_size, limit=limit)

    def export(self, path: str | PathLike[str], *, format: str | None = None,
               order: str = "asc", progress: Progress | None = None,
               cancel: Cancel | None = None, **filters: Unpack[Filters]) -> Path:
        """The filtered events to a file as the server's export writes it (the same 90-day
        window, ending at the snapshot's end); written whole or not at all."""
        cancelled = _cancel_check(cancel)
        flt = core_export.clamp_to_window(self._filter(**self._split(dict(filters))[0]),
                                          self.end)

        def write(out: BinaryIO, wire: str) -> None:
            done = 0
            for chunk in core_export.export_bytes(self.engine, flt, wire, order=order):
                if cancelled():
                    raise errors.Cancelled("export cancelled; no file was written")
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, None)

        return write_whole(Path(path), format, write)

    def stream(self, last_event_id: int | str | None = None, *, event: Any = None,
               fingerprint: str | None = None, session: str | None = None
               ) -> Iterator[StoredActivity]:
        """The stored activities after `last_event_id` (a seq) in store order, then the end:
        a file receives no live events (a cache gets them from the server's stream)."""
        flt = self._filter(event=event, fingerprint=fingerprint, session=session)
        after = int(last_event_id or 0)
        while True:
            with self.engine.connect() as conn:
                rows = feed.replay_after(conn, flt, after, limit=500)
            if not rows:
                return
            for row in rows:
                yield StoredActivity.from_json(stored_activity(row))
            after = rows[-1].seq

    # -- leads, credits, timeline -----------------------------------------------------------

    def leads(self, *, search: str | None = None, sort: str = "lastSeen", order: str = "desc",
              page_size: int = 50, limit: int | None = None) -> Listing[Lead]:
        def page(cursor: str | None, size: int) -> Any:
            return self._run(leads.list_leads, leads.LeadsQuery(
                q=search, sort=sort, order=order, limit=size, cursor=cursor))

        return self._listing(page, Lead, page_size=page_size, limit=limit)

    def lead(self, fingerprint: str, *, tz: str | None = None) -> LeadDetails:
        return self._run(lead_profile.lead_details, lead_profile.LeadQuery(fingerprint, tz=tz))

    def lead_activities(self, fingerprint: str, *, order: str = "desc", page_size: int = 100,
                        limit: int | None = None, **filters: Unpack[Filters]
                        ) -> Listing[StoredActivity]:
        filters.pop("fingerprint", None)
        flt = self._filter(**self._split(dict(filters))[0])

        def page(cursor: str | None, size: int) -> Any:
            return self._run(leads.lead_activities, leads.LeadActivitiesQuery(
                fingerprint, flt, order=order, limit=size, cursor=cursor))

        return self._listing(page, StoredActivity, page_size=page_size, limit=limit)

    def lead_sessions(self, fingerprint: str, *, start: TimeLike | None = None,
                      end: TimeLike | None = None, page_size: int = 50,
                      limit: int | None = None) -> Listing[Session]:
        lo, hi = _time(start, "start"), _time(end, "end")

        def page(cursor: str | None, size: int) -> Any:
            return self._run(lambda conn, app: sessions.lead_sessions(
                conn, app.id, sessions.LeadSessionsQuery(fingerprint, lo, hi, size, cursor)))

        return self._listing(page, Session, page_size=page_size, limit=limit)

    def lead_credits(self, fingerprint: str, *, order: str = "desc", page_size: int = 100,
                     limit: int | None = None) -> Listing[Operation]:
        def page(cursor: str | None, size: int) -> Any:
            return self._run(core_credits.history, core_credits.CreditHistoryQuery(
                fingerprint, order=order, limit=size, cursor=cursor))

        return self._listing(page, Operation, page_size=page_size, limit=limit)

    def timeline(self, fingerprint: str, *, kind: str | None = None,
                 start: TimeLike | None = None, end: TimeLike | None = None,
                 order: str = "asc", page_size: int = 100,
                 limit: int | None = None) -> Listing[TimelineItem]:
        lo, hi = _time(start, "start"), _time(end, "end")

        def page(cursor: str | None, size: int) -> Any:
            return self._run(core_timeline.timeline, core_timeline.TimelineQuery(
                fingerprint, kind=kind, start=lo, end=hi, order=order, limit=size,
                cursor=cursor))

        return self._listing(page, TimelineItem, page_size=page_size, limit=limit)

    def update_lead(self, fingerprint: str, **changes: Any) -> Lead:
        raise ReadOnly(f"{self.path.name} is a read-only copy ({self._kind()}): edit leads "
                       "through Client on the server")

    def credit(self, fingerprint: str, amount: int, action: str, *, id: str | None = None,
               reason: str | None = None) -> Applied:
        raise ReadOnly(f"{self.path.name} is a read-only copy ({self._kind()}): credit "
                       "operations go through Client on the server")

    def _kind(self) -> str:
        kind = self.meta.get("kind", "copy")
        taken = self.meta.get("takenAt")
        return f"a snapshot taken {taken}" if kind == "snapshot" and taken else f"a {kind}"


def _open(path: Path) -> Engine:
    """A read-only engine on the file (query_only: any write is refused by SQLite)."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False},
                           **JSON_CODEC)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.execute("PRAGMA query_only=ON")
        dbapi_conn.execute("PRAGMA busy_timeout=5000")
        dbapi_conn.execute("PRAGMA cache_size=-65536")

    return engine

