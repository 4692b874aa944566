"""One /track request's share of the rate limits, charged only for what is stored.

Events are admitted against the fingerprint's budget (`rateLimitPerMinute`) and, when the
app sets them, the app's ceilings (`appEventsPerMinute`, `appNewLeadsPerMinute`). The
budgets are charged on admission, so concurrent requests cannot overshoot, and refunded
after the write for every admitted event that was not stored: duplicates, and all of them
when the write failed. Every refusal starts with "rate limit", which the trackers read as
"keep the event and retry after Retry-After".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool

from growthkit.core.apps import App
from growthkit.core.events import Event, ParsedBatch
from growthkit.core.ingest import known_fingerprints
from growthkit.server.ratelimit import Grant
from growthkit.server.state import ServerState


class Budget:
    """Admit a parsed batch's events (`admit`), then settle with what was stored."""

    def __init__(self, state: ServerState, app: App):
        self.state = state
        self.app = app
        self.accepted: list[tuple[int, Event]] = []
        self.retry_after = 0  # seconds (0: nothing was limited)
        self._by_fp: dict[str, Grant] = {}
        self._app_events: Grant | None = None
        self._new_leads: Grant | None = None

    async def admit(self, parsed: ParsedBatch) -> list[tuple[int, Event]]:
        """The (index, event) pairs within every budget; the rest are rejected by index."""
        limiter, app = self.state.limiter, self.app
        per_minute = app.setting("rateLimitPerMinute")
        by_fp: dict[str, list[tuple[int, Event]]] = defaultdict(list)
        for item in parsed.events:
            by_fp[item[1].fingerprint].append(item)
        accepted: list[tuple[int, Event]] = []
        for fingerprint, items in by_fp.items():
            grant = await limiter.grant((app.id, fingerprint), len(items), per_minute)
            self._by_fp[fingerprint] = grant
            accepted.extend(items[:grant.granted])
            self._limit(parsed, items[grant.granted:], grant,
                        f"rate limit: over {per_minute} events per minute for fingerprint "
                        f"{fingerprint}")
        if accepted and (ceiling := app.setting("appEventsPerMinute")):
            accepted.sort(key=lambda item: item[0])
            self._app_events = grant = await limiter.grant((app.id, "events"), len(accepted),
                                                           ceiling)
            await self._drop(parsed, accepted[grant.granted:], grant,
                             f"rate limit: over {ceiling} events per minute for this app "
                             "(appEventsPerMinute)")
            accepted = accepted[:grant.granted]
        if accepted and (ceiling := app.setting("appNewLeadsPerMinute")):
            accepted = await self._admit_new_leads(parsed, accepted, ceiling)
        accepted.sort(key=lambda item: item[0])
        self.accepted = accepted
        return accepted

    async def _admit_new_leads(self, parsed: ParsedBatch, accepted: list[tuple[int, Event]],
                               ceiling: int) -> list[tuple[int, Event]]:
        fingerprints = sorted({e.fingerprint for _, e in accepted})
        known = await run_in_threadpool(self._known, fingerprints)
        new = [fp for fp in fingerprints if fp not in known]
        if not new:
            return accepted
        self._new_leads = grant = await self.state.limiter.grant(
            (self.app.id, "new-leads"), len(new), ceiling)
        refused = set(new[grant.granted:])
        if refused:
            await self._drop(parsed, [x for x in accepted if x[1].fingerprint in refused], grant,
                             f"rate limit: over {ceiling} new leads per minute for this app "
                             "(appNewLeadsPerMinute)")
        return [x for x in accepted if x[1].fingerprint not in refused]

    def _known(self, fingerprints: Sequence[str]) -> set[str]:
        with self.state.engine.connect() as conn:
            return known_fingerprints(conn, self.app.id, fingerprints)

    def _limit(self, parsed: ParsedBatch, items: Sequence[tuple[int, Event]], grant: Grant,
               message: str) -> None:
        for index, _ in items:
            parsed.reject(index, message)
        if items:
            self.retry_after = max(self.retry_after, grant.retry_after, 1)

    async def _drop(self, parsed: ParsedBatch, items: Sequence[tuple[int, Event]],
                    grant: Grant, message: str) -> None:
        """Reject events a later budget refused, refunding what earlier budgets charged."""
        self._limit(parsed, items, grant, message)
        for fingerprint, n in Counter(e.fingerprint for _, e in items).items():
            await self.state.limiter.refund(self._by_fp[fingerprint], n)
        if self._app_events is not None and self._app_events is not grant:
            await self.state.limiter.refund(self._app_events, len(items))

    async def settle(self, stored: Sequence[Event] | None) -> None:
        """Refund what was admitted but not stored (`stored` None: nothing was stored, e.g.
        the write failed or admission itself could not finish)."""
        limiter = self.state.limiter
        if stored is None:
            grants = [*self._by_fp.values(), self._app_events, self._new_leads]
            for grant in grants:
                if grant is not None:
                    await limiter.refund(grant, grant.granted)
            return
        if len(stored) == len(self.accepted):  # the usual case: all stored, nothing to refund
            return
        kept = Counter(e.fingerprint for e in stored)
        admitted = Counter(e.fingerprint for _, e in self.accepted)
        for fingerprint, n in admitted.items():
            if n > kept[fingerprint]:
                await limiter.refund(self._by_fp[fingerprint], n - kept[fingerprint])
        if self._app_events is not None:
            await limiter.refund(self._app_events, len(self.accepted) - len(stored))
