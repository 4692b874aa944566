"""`Client`: the query API of one app (secret key) as Python methods with typed results."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack
from urllib.parse import quote

import httpx

from growthkit.api_client import export as export_file
from growthkit.api_client.errors import (
    AuthError,
    NotAGrowthKitServer,
    NotFound,
    ServerUnavailable,
    ValidationError,
)
from growthkit.api_client.filters import (
    TimeLike,
    Where,
    condition_objects,
    extra,
    filter_params,
    time_param,
)
from growthkit.api_client.listing import Listing
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
    ServerInfo,
    Session,
    Stats,
    StoredActivity,
    TimelineItem,
    TimeToConvert,
    json_fields,
)
from growthkit.api_client.source import Cancel, Filters, FunnelStep, Progress
from growthkit.api_client.stream import LiveStream
from growthkit.api_client.transport import Backoff, Transport

if TYPE_CHECKING:
    from growthkit.api_client.snapshot import SnapshotInfo

API = "/api/v1"
_UNSET: Any = object()


def _fp(fingerprint: str) -> str:
    return quote(fingerprint, safe="")


def _funnel_body(steps: Iterable[FunnelStep], window: timedelta | float,
                 start: TimeLike | None, end: TimeLike | None,
                 where: Where | None) -> dict[str, Any]:
    seconds = window.total_seconds() if isinstance(window, timedelta) else window
    body: dict[str, Any] = {"steps": [_step(s) for s in steps], "windowSeconds": int(seconds)}
    if start is not None:
        body["from"] = time_param(start, "start")
    if end is not None:
        body["to"] = time_param(end, "end")
    if where is not None:
        body["where"] = condition_objects(where)
    return body


def _step(step: FunnelStep) -> dict[str, Any]:
    if isinstance(step, str):
        return {"eventName": step}
    if isinstance(step, tuple):
        name, where = step
        return {"eventName": name, "where": condition_objects(where)}
    out = dict(step)
    if "event" in out:
        out["eventName"] = out.pop("event")
    if "where" in out:
        out["where"] = condition_objects(out["where"])
    return out


def _rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A custom segment rule; `where` of each entry may use the client's condition forms."""
    out: dict[str, Any] = {}
    for part in ("did", "didNot"):
        entries = []
        for entry in rule.get(part, []):
            entry = {"eventName": entry} if isinstance(entry, str) else dict(entry)
            if "event" in entry:
                entry["eventName"] = entry.pop("event")
            if "where" in entry:
                entry["where"] = condition_objects(entry["where"])
            entries.append(entry)
        if entries:
            out[part] = entries
    return out


class Client:
    """The query API of one GrowthKit app.

    `Client("https://gk.example", "sk_…")`; pass `http=` an httpx.Client of your own (a
    proxy, a private CA, or the ASGI app in tests). Reads are retried with jittered
    backoff on connection errors, 5xx and 429 (`retries=` attempts); errors are
    `growthkit.api_client.errors.GrowthKitError` subclasses.
    """

    def __init__(self, url: str, key: str, *, http: httpx.Client | None = None,
                 timeout: float = 30.0, retries: int = 5):
        key = (key or "").strip()
        if key.startswith("pk_"):
            raise AuthError("the query API needs the app's secret key (sk_…); a public key "
                            "(pk_…) can only send events — use growthkit.api_client.Tracker "
                            "for that, and `growthkit create-app` or `rotate-key` prints the "
                            "secret key")
        if not key.startswith("sk_"):
            raise AuthError("the query API needs the app's secret key, which starts with sk_ "
                            "(printed by `growthkit create-app`)")
        if not url or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self._t = Transport(self.url, key, http=http, timeout=timeout,
                            backoff=Backoff(retries=retries))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._t.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # -- plumbing ---------------------------------------------------------------------------

    def _get(self, path: str, params: Any = None) -> dict[str, Any]:
        response = self._t.request("GET", API + path, params=params)
        return self._json(response)

    def _send(self, method: str, path: str, body: Any, params: Any = None) -> dict[str, Any]:
        response = self._t.request(method, API + path, params=params, json=body)
        return self._json(response)

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            return response.json()
        except ValueError:
            raise NotAGrowthKitServer(
                f"{self.url} answered {response.request.url.path} with something that is "
                "not JSON: check the URL points at a GrowthKit server", url=self.url) from None

    def _listing(self, path: str, params: list[tuple[str, str]], item_type: Any, *,
                 page_size: int, limit: int | None, method: str = "GET",
                 body: Any = None) -> Listing:
        def fetch(cursor: str | None, size: int) -> dict[str, Any]:
            page_params = [*params, ("limit", str(size))]
            if cursor:
                page_params.append(("cursor", cursor))
            if method == "GET":
                return self._get(path, page_params)
            return self._send(method, path, body, page_params)
        return Listing(fetch, item_type.from_json, page_size=page_size, limit=limit,
                       time_fields=TIME_FIELDS[item_type], columns=json_fields(item_type))

    # -- connection -------------------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        """The server's health and version (needs no key).

        NotAGrowthKitServer when the URL answers but not as GrowthKit; ServerUnavailable
        when it does not answer, or answers that it is degraded (its store is down)."""
        try:
            health = self._json(self._t.request("GET", "/health", retry=False))
            spec = self._json(self._t.request("GET", "/openapi.json", retry=False))
        except ServerUnavailable as exc:
            if exc.status == 503:
                raise ServerUnavailable(f"{self.url} is up but degraded: {exc.message}",
                                        status=503, url=self.url) from None
            raise
        except (AuthError, NotFound, ValidationError) as exc:
            raise NotAGrowthKitServer(
                f"{self.url} does not answer as a GrowthKit server (HTTP {exc.status}): "
                "check the URL (scheme, host, port, no path)", url=self.url) from None
        info = spec.get("info") if isinstance(spec, dict) else None
        if (not isinstance(health, dict) or health.get("status") != "up"
                or not isinstance(info, dict)
                or not str(info.get("title", "")).startswith("GrowthKit")):
            raise NotAGrowthKitServer(f"{self.url} does not answer as a GrowthKit server: "
                                      "check the URL", url=self.url)
        return ServerInfo.from_json({"status": health["status"],
                                     "version": str(info.get("version", ""))})

    def ping(self) -> float:
        """Seconds for one authenticated round trip; raises AuthError for a bad key."""
        started = time.perf_counter()
        self._get("/app")
        return time.perf_counter() - started

    def app_settings(self) -> AppInfo:
        return AppInfo.from_json(self._get("/app"))

    def update_app_settings(self, **changes: Any) -> AppInfo:
        """Change settings by their API names (`rateLimitPerMinute=300`, `timeZone=…`)."""
        return AppInfo.from_json(self._send("PATCH", "/app", changes))

    # -- analytics --------------------------------------------------------------------------

    def stats(self, *, top: int | None = None, **filters: Unpack[Filters]) -> Stats:
        """Quick stats (default: the last 24 hours) against the previous period."""
        return Stats.from_json(self._get("/stats", filter_params(**filters) + extra(top=top)))

    def event_frequency(self, *, interval: str = "day", top: int | None = None,
                        **filters: Unpack[Filters]) -> EventFrequency:
        """Event counts ranked and per hour/day/week (default: the last 7 days); `top` names
        get a series."""
        params = filter_params(**filters) + extra(interval=interval, limit=top)
        return EventFrequency.from_json(self._get("/analytics/events", params))

    def heatmap(self, *, metric: str = "events", **filters: Unpack[Filters]) -> Heatmap:
        """Weekday × hour counts of events or users (default: the last 28 days)."""
        params = filter_params(**filters) + extra(metric=metric)
        return Heatmap.from_json(self._get("/analytics/heatmap", params))

    def funnel(self, steps: Iterable[FunnelStep], *, window: timedelta | float,
               start: TimeLike | None = None, end: TimeLike | None = None,
               where: Where | None = None) -> FunnelResult:
        """Conversion through ordered steps: event names, `(name, where)` pairs or
        `{"eventName", "where"}` dicts; `window` a timedelta or seconds."""
        return FunnelResult.from_json(self._send("POST", "/analytics/funnel",
                                           _funnel_body(steps, window, start, end, where)))

    def funnel_leads(self, steps: Iterable[FunnelStep], *, window: timedelta | float,
                     step: int, outcome: str = "converted", start: TimeLike | None = None,
                     end: TimeLike | None = None, where: Where | None = None,
                     page_size: int = 100, limit: int | None = None) -> Listing[FunnelLead]:
        """The leads that reached funnel step `step` (1-based; `outcome="converted"`) or
        reached the step before but not it (`"dropped"`); the total is `.meta["count"]`."""
        body = {**_funnel_body(steps, window, start, end, where), "step": step,
                "outcome": outcome}
        return self._listing("/analytics/funnel/leads", [], FunnelLead,
                             page_size=page_size, limit=limit, method="POST", body=body)

    def funnel_time_to_convert(self, steps: Iterable[FunnelStep], *,
                               window: timedelta | float, step: int, bins: int = 20,
                               start: TimeLike | None = None, end: TimeLike | None = None,
                               where: Where | None = None) -> TimeToConvert:
        """How long the leads reaching `step` (2 or later) took from the step before."""
        body = {**_funnel_body(steps, window, start, end, where), "step": step, "bins": bins}
        return TimeToConvert.from_json(self._send("POST", "/analytics/funnel/time-to-convert",
                                                  body))

    def segments(self, *, event: str | None = None, as_of: TimeLike | None = None) -> Segments:
        """Counts of the built-in segments; `event` adds `converters`."""
        params = extra(event=event, asOf=time_param(as_of, "as_of"))
        return Segments.from_json(self._get("/analytics/segments", params))

    def segment_members(self, segment: str | Mapping[str, Any], *, event: str | None = None,
                        as_of: TimeLike | None = None, page_size: int = 50,
                        limit: int | None = None) -> Listing[Member]:
        """Members of a built-in segment (`"active"`, …) or of a custom rule
        (`{"did": [...], "didNot": [...]}`); a rule's `count` is in `.meta`."""
        at = time_param(as_of, "as_of")
        if isinstance(segment, str):
            return self._listing(f"/analytics/segments/{quote(segment, safe='')}/members",
                                 extra(event=event, asOf=at), Member,
                                 page_size=page_size, limit=limit)
        body = _rule(segment)
        if at is not None:
            body["asOf"] = at
        return self._listing("/analytics/segments/query", [], Member,
                             page_size=page_size, limit=limit,
                             method="POST", body=body)

    # -- activities -------------------------------------------------------------------------

    def activities(self, *, order: str = "desc", page_size: int = 100,
                   limit: int | None = None, **filters: Unpack[Filters]) -> Listing[StoredActivity]:
        """The filtered events, newest first (`order="asc"`: oldest first), every page."""
        params = filter_params(**filters) + extra(order=order)
        return self._listing("/activities", params, StoredActivity, page_size=page_size,
                             limit=limit)

    def export(self, path: str | PathLike[str], *, format: str | None = None,
               order: str = "asc", progress: Progress | None = None,
               cancel: Cancel | None = None, **filters: Unpack[Filters]) -> Path:
        """Download the filtered events to `path` (csv, json, ndjson or parquet; by default
        from the file's suffix). Written to a temporary file and renamed, so an error or a
        cancel leaves no file. `progress(bytes_done, bytes_expected_or_None)`; `cancel` a
        threading.Event or a callable returning True to stop (raises Cancelled)."""
        params = filter_params(**filters) + extra(order=order)
        return export_file.download(self._t, API + "/export", params, Path(path),
                                    format=format, progress=progress, cancel=cancel)

    def snapshot(self, path: str | PathLike[str], *, start: TimeLike | None = None,
                 end: TimeLike | None = None, event: Any = None,
                 progress: Callable[[str, int, int | None], None] | None = None,
                 cancel: Cancel | None = None) -> SnapshotInfo:
        """Save an offline snapshot of [start, end) (default: every stored event up to now)
        to `path`: a SQLite file that `LocalSource(path)` answers from without the server.
        `event` keeps only these names; `progress(stage, done, total)`; `cancel` as for
        export. Written under a temporary name and renamed: never half-written."""
        from growthkit.api_client.snapshot import take_snapshot

        return take_snapshot(self, path, start=start, end=end, event=event,
                             progress=progress, cancel=cancel)

    def stream(self, last_event_id: int | str | None = None, *, event: Any = None,
               fingerprint: str | None = None, session: str | None = None) -> LiveStream:
        """New activities as they are stored (server-sent events), reconnecting and resuming
        by `Last-Event-ID`; `close()` it from any thread to stop."""
        return LiveStream(self._t, last_event_id=last_event_id, event=event,
                          fingerprint=fingerprint, session=session)

    # -- leads, credits, timeline -----------------------------------------------------------

    def leads(self, *, search: str | None = None, sort: str = "lastSeen", order: str = "desc",
              page_size: int = 50, limit: int | None = None) -> Listing[Lead]:
        """Leads by last seen (or `sort="firstSeen"`/`"events"`); `search` matches a
        fingerprint prefix or part of the email or name."""
        return self._listing("/leads", extra(q=search, sort=sort, order=order), Lead,
                             page_size=page_size, limit=limit)

    def lead(self, fingerprint: str, *, tz: str | None = None) -> LeadDetails:
        return LeadDetails.from_json(self._get(f"/leads/{_fp(fingerprint)}", extra(tz=tz)))

    def lead_activities(self, fingerprint: str, *, order: str = "desc", page_size: int = 100,
                        limit: int | None = None, **filters: Unpack[Filters]
                        ) -> Listing[StoredActivity]:
        filters.pop("fingerprint", None)
        params = filter_params(**filters) + extra(order=order)
        return self._listing(f"/leads/{_fp(fingerprint)}/activities", params,
                             StoredActivity, page_size=page_size, limit=limit)

    def lead_sessions(self, fingerprint: str, *, start: TimeLike | None = None,
                      end: TimeLike | None = None, page_size: int = 50,
                      limit: int | None = None) -> Listing[Session]:
        """The lead's sessions, newest first (a session's events: `lead_activities(fp,
        session=id, order="asc")`)."""
        params = extra(**{"from": time_param(start, "start"), "to": time_param(end, "end")})
        return self._listing(f"/leads/{_fp(fingerprint)}/sessions", params,
                             Session, page_size=page_size, limit=limit)

    def lead_credits(self, fingerprint: str, *, order: str = "desc", page_size: int = 100,
                     limit: int | None = None) -> Listing[Operation]:
        """The lead's credit operations; the balance is in `.meta["balance"]` once read."""
        return self._listing(f"/leads/{_fp(fingerprint)}/credits", extra(order=order),
                             Operation, page_size=page_size, limit=limit)

    def timeline(self, fingerprint: str, *, kind: str | None = None,
                 start: TimeLike | None = None, end: TimeLike | None = None,
                 order: str = "asc", page_size: int = 100,
                 limit: int | None = None) -> Listing[TimelineItem]:
        """The lead's events and credit operations in one list, oldest first."""
        params = extra(kind=kind, order=order, **{"from": time_param(start, "start"),
                                                  "to": time_param(end, "end")})
        return self._listing(f"/leads/{_fp(fingerprint)}/timeline", params,
                             TimelineItem, page_size=page_size, limit=limit)

    def update_lead(self, fingerprint: str, *, email: str | None = _UNSET,
                    name: str | None = _UNSET, traits: dict[str, Any] | None = _UNSET) -> Lead:
        """Set (or clear with None) the email and name; merge traits key by key (a None value
        removes a key, `traits=None` clears them)."""
        changes = {k: v for k, v in (("email", email), ("name", name), ("traits", traits))
                   if v is not _UNSET}
        return Lead.from_json(self._send("PATCH", f"/leads/{_fp(fingerprint)}", changes))

    def credit(self, fingerprint: str, amount: int, action: str, *, id: str | None = None,
               reason: str | None = None) -> Applied:
        """Earn (amount > 0) or spend (< 0) credits. The operation id (one is made when not
        given) makes retries safe: the server applies it once."""
        body = {"fingerprint": fingerprint, "amount": amount, "action": action,
                "id": id or f"py-{uuid.uuid4()}"}
        if reason is not None:
            body["reason"] = reason
        return Applied.from_json(self._send("POST", "/credits", body))
