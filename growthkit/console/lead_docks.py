"""The support and analysis docks — Leads, Lead profile, Funnel, Segments — and the source
calls behind their own requests (search as you type, timeline and history pages, a
session's events, lead edits, funnel drill-downs, custom segment counts and members).

Each request runs on the window's workers; its answer goes back to the widget that asked.
Views that page as you scroll hold a `Pager` over the source's listing: the widget's
`nextCursor` is the pager's token, so a later page continues the same walk.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtWidgets import QWidget

from growthkit.console.docks import DockSpec, LoadContext, Refresh

SEARCH_LIMIT = 200
MEMBERS_LIMIT = 999  # + 1 to know whether more exist: the API pages at most 1000
SESSION_EVENTS_LIMIT = 999


class Pager:
    """Pages of one listing, taken as the user scrolls (one page at a time, on a worker).
    A page takes one item more than it shows (to know whether more exist), so listings are
    made with page_size = shown + 1: one request per page."""

    def __init__(self, listing: Any, page_size: int) -> None:
        self.listing = listing
        self.items: Iterator[Any] = iter(listing)
        self.size = page_size
        self.token = uuid.uuid4().hex
        self.ahead: list[Any] = []

    def page(self) -> dict[str, Any]:
        taken = self.ahead + list(itertools.islice(self.items, self.size + 1 - len(self.ahead)))
        data, self.ahead = taken[:self.size], taken[self.size:]
        meta = getattr(self.listing, "meta", {}) or {}
        return {**meta, "data": [x.to_json() for x in data],
                "nextCursor": self.token if self.ahead else None}


def first(listing: Any, n: int) -> dict[str, Any]:
    """The first `n` items of a listing as a page (`nextCursor` truthy when more exist)."""
    return Pager(listing, n).page()


def search_leads(source: Any, request: dict) -> dict:
    page = first(source.leads(search=request.get("search") or None,
                              sort=request.get("sort", "lastSeen"),
                              page_size=SEARCH_LIMIT + 1),
                 SEARCH_LIMIT)
    return {**page, "seq": request.get("seq")}


def load_leads(source: Any, ctx: LoadContext) -> dict:
    """On connect and F5: the most recent leads (answers older than a typed search drop)."""
    return search_leads(source, {"search": "", "sort": "lastSeen", "seq": 0})


def load_profile(source: Any, ctx: LoadContext, pagers: dict[str, Pager]) -> dict:
    """The picked lead: details, first timeline page, sessions and credits, fetched side by
    side (nothing to show before a lead is picked: an empty answer, so the dock counts as
    loaded)."""
    if not ctx.lead:
        return {}
    fp = ctx.lead
    pagers["timeline"] = Pager(source.timeline(fp, page_size=201), 200)
    calls = {"lead": lambda: source.lead(fp, tz=ctx.time_zone).to_json(),
             "timeline": pagers["timeline"].page,
             "sessions": lambda: first(source.lead_sessions(fp, page_size=201), 200),
             "credits": lambda: first(source.lead_credits(fp, page_size=501), 500)}
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
        out = {name: f.result() for name, f in futures.items()}
    out["credits"] = {"balance": out["credits"].get("balance",
                                                    out["lead"].get("creditBalance", 0)),
                      **out["credits"]}
    return out


def funnel_args(body: dict) -> dict[str, Any]:
    """A funnel body as the client's keywords."""
    return {"steps": body["steps"], "window": body["windowSeconds"], "start": body.get("from"),
            "end": body.get("to"), **({"where": body["where"]} if body.get("where") else {})}


def segment_listing(source: Any, segment: dict, page_size: int) -> Any:
    if segment["kind"] == "builtin":
        return source.segment_members(segment["id"], event=segment.get("event"),
                                      page_size=page_size)
    if segment["kind"] == "rule":
        return source.segment_members(segment["rule"], page_size=page_size)
    return source.funnel_leads(**funnel_args(segment["funnel"]), step=segment["step"],
                               outcome=segment["outcome"], page_size=page_size)


def segment_count(source: Any, segment: dict) -> int:
    listing = segment_listing(source, segment, 1)
    next(iter(listing), None)  # the first page carries the count
    return int(listing.meta.get("count", 0))


def segment_members(source: Any, segment: dict) -> dict:
    page = first(segment_listing(source, segment, MEMBERS_LIMIT + 1), MEMBERS_LIMIT)
    return {**page, "count": page.get("count", len(page["data"]))}


class LeadDocks:
    """The four docks' specs and the wiring of their requests to the source."""

    def __init__(self) -> None:
        self.pagers: dict[str, Pager] = {}
        self.saved: tuple[Any, Any] | None = None

    def stores(self, window: Any) -> tuple[Any, Any]:
        """Saved funnels and segments in the console's settings file, one pair for both
        docks (so a funnel list saved as a segment shows up in Segments at once)."""
        from growthkit.widgets.saved import SavedItems

        if self.saved is None:
            q = window.settings.q
            self.saved = (SavedItems("funnels/saved", q), SavedItems("segments/custom", q))
        return self.saved

    def specs(self) -> list[DockSpec]:
        from growthkit.console.dock_specs import BOTTOM, LEFT
        from growthkit.widgets.funnel import FunnelWidget
        from growthkit.widgets.lead_profile import LeadProfileWidget
        from growthkit.widgets.leads import LeadsWidget
        from growthkit.widgets.segments import SegmentsWidget

        return [
            # Tabs behind the founders' view (picking a lead raises its profile).
            DockSpec(LeadsWidget, load_leads, Refresh.ONCE, LEFT, tab_with="popularEvents",
                     connect=self.connect_leads),
            DockSpec(LeadProfileWidget, lambda s, c: load_profile(s, c, self.pagers),
                     Refresh.ONCE, BOTTOM, tab_with="popularEvents", follows_lead=True,
                     connect=self.connect_profile),
            DockSpec(FunnelWidget, None, Refresh.ONCE, BOTTOM, tab_with="lead_profile",
                     connect=self.connect_funnel),
            DockSpec(SegmentsWidget, lambda s, c: s.segments().to_json(), Refresh.FILTER,
                     LEFT, tab_with="leads", connect=self.connect_segments),
        ]

    # -- plumbing
    @staticmethod
    def run(window: Any, call: Callable[[Any], Any], done: Callable[[Any], None],
            what: str, dock: str | None = None) -> None:
        """`call(source)` on a worker; `done(answer)` on the GUI thread. The dock's frame
        (when named) shows the busy bar and the error; the status bar says what failed."""
        from growthkit.console.main_window import error_text

        source = window.session.source
        frame = window.docks[dock].frame if dock in window.docks else None
        if frame is not None:
            frame.set_busy(True)

        def shown(answer: Any) -> None:
            if frame is not None:
                frame.set_busy(False)
            try:
                done(answer)
            except Exception as exc:  # a malformed answer: say so, keep the window
                failed(exc)
                return
            if frame is not None:
                frame.set_error(None)
                frame.mark_refreshed()

        def failed(exc: BaseException) -> None:
            message = f"{what}: {error_text(exc)}"
            if frame is not None:
                frame.set_busy(False)
                frame.set_error(message)
            window.statusBar().showMessage(message, 10000)

        window.workers.submit(lambda: call(source), shown, failed)

    def _page(self, name: str, listing: Callable[[Any], Any], size: int,
              cursor: str | None) -> Callable[[Any], dict]:
        """A call answering the next page of a held pager (`cursor`) or of a new one."""
        def call(source: Any) -> dict:
            pager = self.pagers.get(name)
            if not cursor or pager is None or pager.token != cursor:
                pager = self.pagers[name] = Pager(listing(source), size)
            return pager.page()
        return call

    # -- docks
    def connect_leads(self, window: Any, widget: QWidget) -> None:
        widget.search_requested.connect(lambda request: self.run(
            window, lambda s: search_leads(s, request), widget.show_data, "Lead search"))

    def connect_profile(self, window: Any, widget: QWidget) -> None:
        from zoneinfo import ZoneInfo

        if window.session.time_zone:
            widget.set_time_zone(ZoneInfo(window.session.time_zone))

        def edited(fp: str, changes: dict) -> None:
            def saved(_answer: Any) -> None:
                window.statusBar().showMessage(f"Lead {fp} saved", 5000)
                window.pick_lead(fp)
            self.run(window, lambda s: s.update_lead(fp, **changes), saved, "Saving the lead",
                     "lead_profile")

        def timeline(fp: str, q: dict) -> None:
            cursor = q.get("cursor")
            listing = lambda s: s.timeline(fp, kind=q.get("kind"), start=q.get("start"),  # noqa: E731
                                           end=q.get("end"), page_size=q.get("limit", 200) + 1)
            self.run(window, self._page("timeline", listing, q.get("limit", 200), cursor),
                     lambda page: widget.show_timeline(page, append=bool(cursor)), "Timeline",
                     "lead_profile")

        def session(fp: str, sid: str) -> None:
            self.run(window, lambda s: first(s.lead_activities(
                fp, session=sid, order="asc", page_size=SESSION_EVENTS_LIMIT + 1),
                SESSION_EVENTS_LIMIT), widget.show_session_events, "Session", "lead_profile")

        def history(fp: str, q: dict) -> None:
            cursor = q.get("cursor")
            size = q.get("limit", 200)
            listing = lambda s: s.lead_activities(fp, start=q["start"], end=q["end"],  # noqa: E731
                                                  order=q["order"], page_size=size + 1)
            pages = self._page("history", listing, size, cursor)

            def call(s: Any) -> dict:
                out: dict[str, Any] = {"activities": pages(s)}
                if not cursor:
                    out["days"] = s.event_frequency(
                        fingerprint=fp, start=q["start"], end=q["end"], interval="day",
                        top=1, **({"tz": window.session.time_zone}
                                  if window.session.time_zone else {})).to_json()
                return out
            self.run(window, call, lambda data: widget.show_history(data, append=bool(cursor)),
                     "Activity", "lead_profile")

        widget.lead_edited.connect(edited)
        widget.timeline_requested.connect(timeline)
        widget.session_requested.connect(session)
        widget.history_requested.connect(history)

    def connect_funnel(self, window: Any, widget: QWidget) -> None:
        def names(freq: dict) -> None:
            found = sorted(e["eventName"] for e in freq.get("events", []))
            widget.set_event_names(found)
            segments = window.docks.get("segments")
            if segments is not None:
                segments.widget.set_event_names(found)

        widget.use_stores(*self.stores(window))
        # Step names to pick from: the event names of the last 7 days, after each refresh.
        window.refreshed.connect(lambda: self.run(
            window, lambda s: s.event_frequency(top=1).to_json(), names, "Event names"))

        def funnel(body: dict) -> None:
            self.run(window, lambda s: s.funnel(**funnel_args(body)).to_json(),
                     widget.show_data, "Funnel", "funnel")

        def step_leads(q: dict) -> None:
            cursor = q.get("cursor")
            body = {k: v for k, v in q.items() if k not in ("cursor", "step", "outcome")}
            listing = lambda s: s.funnel_leads(**funnel_args(body), step=q["step"],  # noqa: E731
                                               outcome=q["outcome"], page_size=201)

            def call(s: Any) -> dict:
                page = self._page("funnel_leads", listing, 200, cursor)(s)
                return {**page, "step": q["step"], "outcome": q["outcome"],
                        "eventName": body["steps"][q["step"] - 1]["eventName"]}
            self.run(window, call, lambda page: widget.show_step_leads(page, bool(cursor)),
                     "Funnel leads", "funnel")

        def time_to_convert(q: dict) -> None:
            body = {k: v for k, v in q.items() if k != "step"}
            self.run(window, lambda s: s.funnel_time_to_convert(
                **funnel_args(body), step=q["step"]).to_json(), widget.show_time_to_convert,
                "Time to convert", "funnel")

        widget.funnel_requested.connect(funnel)
        widget.step_leads_requested.connect(step_leads)
        widget.time_to_convert_requested.connect(time_to_convert)

    def connect_segments(self, window: Any, widget: QWidget) -> None:
        widget.use_store(self.stores(window)[1])

        def count(segment: dict) -> None:
            self.run(window, lambda s: segment_count(s, segment),
                     lambda n: widget.show_count(segment["name"], n), "Segment count")

        def members(segment: dict) -> None:
            leads = window.docks.get("leads")
            if leads is None:
                return

            def shown(page: dict) -> None:
                leads.widget.show_members(segment["name"], page)
                leads.dock.setVisible(True)
                leads.dock.raise_()
            self.run(window, lambda s: segment_members(s, segment), shown, "Segment members",
                     "leads")

        widget.count_requested.connect(count)
        widget.members_requested.connect(members)
