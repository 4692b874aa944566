"""The live feed: newly stored activities fanned out to server-sent-event subscribers.

The group writer calls `Broadcaster.on_stored` after each COMMIT. Without Redis the events
go straight to this process's subscribers. With Redis they are published on one channel
that every server process (this one too) subscribes to once, so each subscriber sees every
process's events. Each process publishes in its own commit order, but the channel mixes
processes, so a stream on Redis takes a message as a wake-up and reads on from its last id
in the store, where an app's events commit in seq order: every stream is in seq order and
its last id is an exact place to resume from, on any process.

Each subscriber has a bounded queue. A subscriber that falls that far behind is dropped
rather than letting its queue grow: its stream gets an `event: dropped` frame and ends, and
the client reconnects with Last-Event-ID to replay what it missed from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from growthkit.core import feed
from growthkit.core.activities import event_activity, stored_activity
from growthkit.core.clock import now_ms
from growthkit.core.events import Event
from growthkit.core.filters import ActivityFilter

log = logging.getLogger("growthkit.live")

CHANNEL = "growthkit:activities"
RETRY_MS = 1000  # what SSE clients wait before reconnecting
REPLAY_PAGE = 500
# Stored rows received this recently may still be on their way through Redis when a resumed
# stream goes live; their seqs are remembered so they are not sent twice.
IN_FLIGHT_MS = 60_000
# How often an open stream re-checks its key (a rotated key ends it; app keys are cached at
# most 1 s, so a stream ends at most about 1.25 s after a rotation).
AUTH_CHECK_S = 0.25


@dataclass(frozen=True)
class LiveItem:
    """One stored activity on its way to subscribers; `data` is its StoredActivity JSON."""

    app_id: str
    seq: int
    event_name: str
    fingerprint: str
    session_id: str
    data: bytes

    @classmethod
    def of(cls, activity: dict[str, Any]) -> LiveItem:
        return cls(activity["appId"], activity["seq"], activity["eventName"],
                   activity["fingerprintId"], activity["sessionId"], orjson.dumps(activity))


@dataclass(eq=False)
class Subscription:
    """One stream's place in the fan-out: its filter and its bounded queue."""

    flt: ActivityFilter
    queue: asyncio.Queue[LiveItem]
    dropped: bool = False
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        flt = self.flt
        if flt.conditions or flt.search or flt.start is not None or flt.end is not None:
            raise ValueError("the live stream filters by event name, fingerprint and session")
        self.names = frozenset(self.flt.event_names)

    def matches(self, item: LiveItem) -> bool:
        return ((not self.names or item.event_name in self.names)
                and (self.flt.fingerprint is None or item.fingerprint == self.flt.fingerprint)
                and (self.flt.session_id is None or item.session_id == self.flt.session_id))


class Broadcaster:
    def __init__(self, redis_url: str | None = None, queue_size: int = 10_000):
        self.redis_url = redis_url
        self.queue_size = queue_size
        self._subs: dict[str, set[Subscription]] = {}
        self._redis: Any = None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=10_000)
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task] = []

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.redis_url:
            return
        from redis.asyncio import Redis

        self._redis = Redis.from_url(self.redis_url)
        self._pubsub = pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # Subscribed before the server takes requests: no event is stored unseen by us.
        try:
            await pubsub.subscribe(CHANNEL)
        except Exception as exc:  # the listener keeps trying; do not keep the server down
            log.warning("live feed could not subscribe to Redis yet (%s); retrying", exc)
        self._tasks = [asyncio.create_task(self._listen(pubsub), name="growthkit-live-listen"),
                       asyncio.create_task(self._publish(), name="growthkit-live-publish")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    @property
    def shared(self) -> bool:
        """Whether events come through Redis (from several processes, in publish order)."""
        return self._redis is not None

    # -- subscribers -----------------------------------------------------------------------

    def subscribe(self, flt: ActivityFilter) -> Subscription:
        sub = Subscription(flt, asyncio.Queue(maxsize=self.queue_size))
        self._subs.setdefault(flt.app_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.flt.app_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.flt.app_id]

    def _deliver(self, app_id: str, items: Sequence[LiveItem]) -> None:
        for sub in list(self._subs.get(app_id, ())):
            for item in items:
                if not sub.matches(item):
                    continue
                try:
                    sub.queue.put_nowait(item)
                except asyncio.QueueFull:
                    log.warning("live stream subscriber fell %d events behind; dropped it "
                                "(it resumes with Last-Event-ID)", self.queue_size)
                    sub.dropped = True
                    self.unsubscribe(sub)
                    break

    # -- the writer's listener and Redis ---------------------------------------------------

    def on_stored(self, app_id: str, events: Sequence[Event]) -> None:
        """GroupWriter listener: runs on the event loop right after the events' COMMIT."""
        if self._redis is None:
            if app_id in self._subs:
                self._deliver(app_id, [LiveItem.of(event_activity(app_id, e)) for e in events])
            return
        message = orjson.dumps({"appId": app_id,
                                "events": [event_activity(app_id, e) for e in events]})
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("Redis is not keeping up: live events delivered to this process only")
            self._receive(message)

    def _receive(self, message: bytes) -> None:
        try:
            data = orjson.loads(message)
            items = [LiveItem.of(a) for a in data["events"]]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed live message on %s", CHANNEL)
            return
        self._deliver(data["appId"], items)

    async def _publish(self) -> None:
        # One publisher, in order: a process's events reach every subscriber in seq order.
        while True:
            message = await self._outbox.get()
            try:
                await self._redis.publish(CHANNEL, message)
            except Exception as exc:  # Redis down: keep this process's own stream working
                log.warning("could not publish live events to Redis (%s); delivered to this "
                            "process only", exc)
                self._receive(message)

    async def _listen(self, pubsub: Any) -> None:
        while True:
            try:
                if not pubsub.subscribed:
                    await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live feed lost its Redis subscription (%s); retrying", exc)
                await asyncio.sleep(1)


def server_stopping() -> bool:
    """Whether the uvicorn server of this process was told to stop (Ctrl+C, SIGTERM).

    uvicorn waits for open responses before it shuts down, and a stream never ends by
    itself, so streams end when this turns true. uvicorn's signal handler is a method of its
    Server, which carries `should_exit` (when it runs in a thread it installs none: False).
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        server = getattr(signal.getsignal(sig), "__self__", None)
        if getattr(server, "should_exit", False) is True:
            return True
    return False


def _frame(seq: int, data: bytes) -> bytes:
    return b"id: %d\nevent: activity\ndata: %s\n\n" % (seq, data)


DROPPED_FRAME = (b"event: dropped\ndata: " + orjson.dumps({
    "error": "this stream fell too far behind and was closed; reconnect with Last-Event-ID "
             "to replay the missed events", "status": 503}) + b"\n\n")


async def activity_frames(engine: Engine, broadcaster: Broadcaster, flt: ActivityFilter,
                          last_event_id: int | None, heartbeat_seconds: float,
                          authorized: Callable[[], Awaitable[bool]] | None = None,
                          ) -> AsyncIterator[bytes]:
    """The SSE byte stream of one subscriber: replay after `last_event_id`, then live.

    Replay reads the store by seq until it has caught up, subscribes, reads once more
    (whatever was stored in between), and only then goes live, skipping live events that
    the replay already sent (with Redis, live messages only wake the stream up, and it reads
    on from the store: see below). A `: live` comment marks the switch; `: heartbeat` comments
    keep idle connections open. The stream ends when the server is stopping, and when
    `authorized()` (asked every AUTH_CHECK_S) says the key no longer opens it (rotated).
    """

    def page(after: int) -> list[Any]:
        with engine.connect() as conn:
            return feed.replay_after(conn, flt, after, REPLAY_PAGE)

    def start() -> int:
        with engine.connect() as conn:
            return feed.live_start(conn, flt.app_id)

    replayed: set[int] = set()  # recent replayed seqs that may still arrive live

    async def replay() -> AsyncIterator[bytes]:
        nonlocal last_event_id
        recent = now_ms() - IN_FLIGHT_MS
        while True:
            rows = await run_in_threadpool(page, last_event_id)
            for row in rows:
                if row.received_at >= recent and not broadcaster.shared:
                    replayed.add(row.seq)
                yield _frame(row.seq, orjson.dumps(stored_activity(row)))
            if rows:
                last_event_id = rows[-1].seq
            if len(rows) < REPLAY_PAGE:
                return

    yield b"retry: %d\n\n" % RETRY_MS
    if last_event_id is not None:
        async for frame in replay():  # the bulk, before holding a live queue
            yield frame
    sub = broadcaster.subscribe(flt)
    try:
        if last_event_id is not None:
            async for frame in replay():
                yield frame
        elif broadcaster.shared:  # subscribed first: nothing committed after this is missed
            last_event_id = await run_in_threadpool(start)
        yield b": live\n\n"
        quiet_since = checked = time.monotonic()
        while True:
            if authorized is not None and time.monotonic() - checked >= AUTH_CHECK_S:
                checked = time.monotonic()
                if not await authorized():
                    return  # a reconnect with the old key gets 401
            try:
                item = await asyncio.wait_for(sub.queue.get(),
                                              min(heartbeat_seconds, AUTH_CHECK_S))
            except TimeoutError:
                if server_stopping():
                    return  # the client reconnects (to another process) with Last-Event-ID
                if time.monotonic() - quiet_since >= heartbeat_seconds:
                    yield b": heartbeat\n\n"
                    quiet_since = time.monotonic()
                continue
            if sub.dropped:
                yield DROPPED_FRAME
                return
            if broadcaster.shared:
                # Messages of several processes reach us in publish order, not seq order:
                # they only say "stored up to here"; the store has them in seq order (an
                # app's events commit in seq order, core/ingest.py), so read from there.
                newest = item.seq
                while not sub.queue.empty():
                    newest = max(newest, sub.queue.get_nowait().seq)
                if newest > last_event_id:
                    async for frame in replay():
                        yield frame
                    quiet_since = time.monotonic()
                continue
            if item.seq in replayed:
                replayed.discard(item.seq)
                continue
            yield _frame(item.seq, item.data)
            quiet_since = time.monotonic()
    finally:
        broadcaster.unsubscribe(sub)
