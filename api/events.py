"""Live updates: GET /agents/events, a server-sent events stream of what was just stored.

The writer calls `Broadcaster.publish_rows` on its own thread after each commit (the
composition root wires that up; the API knows nothing of the collector). Each
subscriber gets small events, one per project per commit:

    event: spans
    data: {"project_id": "p", "conversation_ids": [...], "trace_ids": [...]}

`conversation_ids` are the conversations the spans named themselves; `trace_ids` every
trace touched (a span that names no conversation joins its trace's). Clients refetch
what they show. Events are hints, not data: a subscriber that falls behind loses events
and gets one `event: resync` instead, meaning "refetch everything".
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from otelite.api.auth import may_read
from otelite.store.model import CommittedSpan, SpanRow

# Ids listed per event at most; more and the event says "truncated": true.
MAX_IDS_PER_EVENT = 100
# Events held for a slow subscriber before it is told to resync.
MAX_PENDING_EVENTS = 256
KEEPALIVE_SECONDS = 15.0


class _Subscriber:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, project_id: str | None, may_read: Callable[[str], bool] | None = None
    ) -> None:
        self.loop = loop
        self.project_id = project_id
        # With auth on, a stream for every project hears only the projects its caller may read.
        self.may_read = may_read
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(MAX_PENDING_EVENTS)
        self.overflowed = False

    def offer(self, event: dict[str, Any] | None) -> None:
        """On the subscriber's loop: queue the event, or note the loss."""
        if event is None:  # the end: make room for it, the stream is closing anyway
            while self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
        elif self.queue.full():
            self.overflowed = True
        else:
            self.queue.put_nowait(event)


class Broadcaster:
    """Fan-out from the writer thread to every open event stream (asyncio side)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[_Subscriber] = set()
        self._closed = False

    def publish_rows(self, rows: Sequence[SpanRow] | Sequence[CommittedSpan]) -> None:
        """Writer listener: one event per project for the rows just committed."""
        for event in events_for_rows(rows):
            self.publish(event)

    def publish(self, event: dict[str, Any]) -> None:
        """Send `event` to every subscriber of its project; callable from any thread."""
        with self._lock:
            project = event.get("project_id")
            subscribers = [
                s
                for s in self._subscribers
                if s.project_id in (None, project) and (s.may_read is None or s.may_read(str(project)))
            ]
        for subscriber in subscribers:
            self._deliver(subscriber, event)

    def close(self) -> None:
        """End every stream (server shutdown), so no open stream holds the exit up."""
        with self._lock:
            self._closed = True
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            self._deliver(subscriber, None)

    def subscribe(self, project_id: str | None, may_read: Callable[[str], bool] | None = None) -> _Subscriber | None:
        """A new subscriber on the running loop; None once closed."""
        subscriber = _Subscriber(asyncio.get_running_loop(), project_id, may_read)
        with self._lock:
            if self._closed:
                return None
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def _deliver(self, subscriber: _Subscriber, event: dict[str, Any] | None) -> None:
        try:
            subscriber.loop.call_soon_threadsafe(subscriber.offer, event)
        except RuntimeError:  # its event loop is gone
            self.unsubscribe(subscriber)


def events_for_rows(rows: Sequence[SpanRow] | Sequence[CommittedSpan]) -> list[dict[str, Any]]:
    by_project: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for row in rows:
        conversations, traces = by_project.setdefault(row.project_id, ({}, {}))
        if row.conversation_id is not None:
            conversations[row.conversation_id] = None
        traces[row.trace_id] = None
    events = []
    for project_id, (conversations, traces) in by_project.items():
        event: dict[str, Any] = {
            "project_id": project_id,
            "conversation_ids": list(conversations)[:MAX_IDS_PER_EVENT],
            "trace_ids": list(traces)[:MAX_IDS_PER_EVENT],
        }
        if len(conversations) > MAX_IDS_PER_EVENT or len(traces) > MAX_IDS_PER_EVENT:
            event["truncated"] = True
        events.append(event)
    return events


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def _stream(broadcaster: Broadcaster, subscriber: _Subscriber) -> AsyncIterator[bytes]:
    try:
        # The reconnect delay for EventSource, and a first event so clients know the
        # stream is open (and refetch what they may have missed while it was not).
        yield b"retry: 2000\n" + _sse("ready", {"project_id": subscriber.project_id})
        while True:
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if event is None:
                return
            yield _sse("spans", event)
            if subscriber.overflowed and subscriber.queue.empty():
                subscriber.overflowed = False
                yield _sse("resync", {"project_id": subscriber.project_id})
    finally:
        broadcaster.unsubscribe(subscriber)


def event_routes(broadcaster: Broadcaster) -> list[BaseRoute]:
    async def events(request: Request) -> Response:
        project_id = request.query_params.get("project_id") or None
        subscriber = broadcaster.subscribe(project_id, lambda project: may_read(request, project))
        if subscriber is None:
            return Response("shutting down", status_code=503, headers={"Retry-After": "2"})
        return StreamingResponse(
            _stream(broadcaster, subscriber),
            media_type="text/event-stream",
            # No caching, and no buffering by a reverse proxy in front of otelite.
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [Route("/agents/events", events, methods=["GET"])]
