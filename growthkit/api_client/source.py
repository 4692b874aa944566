"""The `Source` Protocol: what the console (and scripts) ask of a server or a local file.

`Client` answers over HTTP; `LocalSource` answers from a SQLite file in core's schema (the
console's cache or an offline snapshot). Both take the same keyword filters (`Filters`)
and return the same result types, so a caller never needs to know which it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from os import PathLike
from pathlib import Path
from typing import Any, Protocol, TypedDict, Unpack, runtime_checkable

from growthkit.api_client.filters import EventNames, TimeLike, Where
from growthkit.api_client.listing import Listing
from growthkit.api_client.results import (
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
)


class Filters(TypedDict, total=False):
    """The keyword filters every query takes (all optional, combined with AND)."""

    event: EventNames          # an event name or a list of names
    start: TimeLike            # inclusive: datetime (naive = UTC), date, ISO-8601, epoch ms
    end: TimeLike              # exclusive, same forms
    fingerprint: str           # one lead
    session: str               # one session id
    where: Where               # "plan:eq:pro", {"plan": "pro"}, or a list of conditions
    search: str                # free text in event names and properties
    tz: str                    # IANA zone for time buckets (default: the app's timeZone)


FunnelStep = str | Mapping[str, Any] | tuple[str, Where]
Progress = Callable[[int, int | None], None]  # (bytes done, bytes expected or None)
Cancel = Callable[[], bool] | Any             # a callable, or a threading.Event


@runtime_checkable
class Source(Protocol):
    """The query methods shared by `Client` and `LocalSource`."""

    def stats(self, *, top: int | None = None, **filters: Unpack[Filters]) -> Stats: ...

    def activities(self, *, order: str = "desc", page_size: int = 100,
                   limit: int | None = None, **filters: Unpack[Filters]
                   ) -> Listing[StoredActivity]: ...

    def event_frequency(self, *, interval: str = "day", top: int | None = None,
                        **filters: Unpack[Filters]) -> EventFrequency: ...

    def heatmap(self, *, metric: str = "events", **filters: Unpack[Filters]) -> Heatmap: ...

    def funnel(self, steps: Iterable[FunnelStep], *, window: timedelta | float,
               start: TimeLike | None = None, end: TimeLike | None = None,
               where: Where | None = None) -> FunnelResult: ...

    def funnel_leads(self, steps: Iterable[FunnelStep], *, window: timedelta | float,
                     step: int, outcome: str = "converted", start: TimeLike | None = None,
                     end: TimeLike | None = None, where: Where | None = None,
                     page_size: int = 100, limit: int | None = None
                     ) -> Listing[FunnelLead]: ...

    def funnel_time_to_convert(self, steps: Iterable[FunnelStep], *,
                               window: timedelta | float, step: int, bins: int = 20,
                               start: TimeLike | None = None, end: TimeLike | None = None,
                               where: Where | None = None) -> TimeToConvert: ...

    def segments(self, *, event: str | None = None,
                 as_of: TimeLike | None = None) -> Segments: ...

    def segment_members(self, segment: str | Mapping[str, Any], *, event: str | None = None,
                        as_of: TimeLike | None = None, page_size: int = 50,
                        limit: int | None = None) -> Listing[Member]: ...

    def leads(self, *, search: str | None = None, sort: str = "lastSeen",
              order: str = "desc", page_size: int = 50,
              limit: int | None = None) -> Listing[Lead]: ...

    def lead(self, fingerprint: str, *, tz: str | None = None) -> LeadDetails: ...

    def lead_activities(self, fingerprint: str, *, order: str = "desc", page_size: int = 100,
                        limit: int | None = None, **filters: Unpack[Filters]
                        ) -> Listing[StoredActivity]: ...

    def lead_sessions(self, fingerprint: str, *, start: TimeLike | None = None,
                      end: TimeLike | None = None, page_size: int = 50,
                      limit: int | None = None) -> Listing[Session]: ...

    def lead_credits(self, fingerprint: str, *, order: str = "desc", page_size: int = 100,
                     limit: int | None = None) -> Listing[Operation]: ...

    def timeline(self, fingerprint: str, *, kind: str | None = None,
                 start: TimeLike | None = None, end: TimeLike | None = None,
                 order: str = "asc", page_size: int = 100,
                 limit: int | None = None) -> Listing[TimelineItem]: ...

    def update_lead(self, fingerprint: str, **changes: Any) -> Lead: ...

    def credit(self, fingerprint: str, amount: int, action: str, *, id: str | None = None,
               reason: str | None = None) -> Applied: ...

    def export(self, path: str | PathLike[str], *, format: str | None = None,
               order: str = "asc", progress: Progress | None = None,
               cancel: Cancel | None = None, **filters: Unpack[Filters]) -> Path: ...

    def stream(self, last_event_id: int | str | None = None, *,
               event: EventNames | None = None, fingerprint: str | None = None,
               session: str | None = None) -> Iterator[StoredActivity]: ...

    def app_settings(self) -> AppInfo: ...

    def close(self) -> None: ...
