"""The batching writer: one thread owns the store's write side.

Receivers `submit` a request's rows and wait on the returned future; the writer takes
every request waiting in the queue (up to `max_batch_spans`) and commits them in one
transaction (group commit), then resolves their futures. A future resolves only after
COMMIT, so an acknowledged span is durable.

The queue is bounded in spans: when it is full, `submit` raises `QueueFull` at once and
the receiver answers UNAVAILABLE / 503, which OTLP exporters retry.

With ingest worker processes (collector.ingest_workers) each worker commits on its own;
`commit_groups` and `CommitListeners` serve both.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TypeVar

from otelite.store.base import Store
from otelite.store.model import CommittedSpan, SpanRow

log = logging.getLogger("otelite.writer")

# One request's spans, in whatever form a write function takes them.
G = TypeVar("G")
# What a commit listener hears: the rows committed, or their keys (ingest workers).
Committed = Sequence[SpanRow] | Sequence[CommittedSpan]


class QueueFull(Exception):
    """The writer is behind; the client should retry later."""


class WriterClosed(Exception):
    """The writer is shutting down and takes no new spans."""


class CommitListeners:
    """Callbacks told what was just committed (the live page's event streams)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Committed], None]] = []

    def add(self, listener: Callable[[Committed], None]) -> None:
        self._listeners.append(listener)

    def notify(self, spans: Committed) -> None:
        if not spans:
            return
        for listener in self._listeners:
            try:
                listener(spans)
            except Exception:
                log.exception("commit listener failed")


class BatchWriter:
    def __init__(self, store: Store, max_queue_spans: int = 20_000, max_batch_spans: int = 10_000) -> None:
        self.store = store
        self.max_queue_spans = max_queue_spans
        self.max_batch_spans = max_batch_spans
        self._queue: deque[tuple[Sequence[SpanRow], Future[None]]] = deque()
        self._queued_spans = 0
        self._writing_spans = 0
        self._closing = False
        self._cond = threading.Condition()
        self._listeners = CommitListeners()
        self._thread = threading.Thread(target=self._run, name="otelite-writer", daemon=True)
        self._thread.start()

    def add_listener(self, listener: Callable[[Committed], None]) -> None:
        """Call `listener(rows)` on the writer thread after each commit (keep it quick)."""
        self._listeners.add(listener)

    def submit(self, rows: Sequence[SpanRow]) -> Future[None]:
        future: Future[None] = Future()
        if not rows:
            future.set_result(None)
            return future
        with self._cond:
            if self._closing:
                raise WriterClosed("otelite is shutting down")
            # One request larger than the whole queue is still taken when the queue is
            # empty: the request size limit, not the queue, bounds a single request.
            if self._queued_spans and self._queued_spans + len(rows) > self.max_queue_spans:
                raise QueueFull(f"write queue full ({self._queued_spans} spans waiting)")
            self._queue.append((rows, future))
            self._queued_spans += len(rows)
            self._cond.notify()
        return future

    @property
    def queued_spans(self) -> int:
        """Spans accepted and waiting for the writer (what max_queue_spans bounds)."""
        return self._queued_spans

    @property
    def writing_spans(self) -> int:
        """Spans in the transaction the writer is committing now."""
        return self._writing_spans

    def close(self) -> None:
        """Stop taking spans, write everything already accepted, then return."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    def _take_batch(self) -> list[tuple[Sequence[SpanRow], Future[None]]] | None:
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if not self._queue:
                return None
            batch = [self._queue.popleft()]
            spans = len(batch[0][0])
            while self._queue and spans + len(self._queue[0][0]) <= self.max_batch_spans:
                item = self._queue.popleft()
                batch.append(item)
                spans += len(item[0])
            self._queued_spans -= spans
            self._writing_spans = spans
            return batch

    def _run(self) -> None:
        while (batch := self._take_batch()) is not None:
            failures = commit_groups(self._write, [rows for rows, _ in batch])
            for (_, future), failure in zip(batch, failures):
                if failure is None:
                    future.set_result(None)
                else:
                    future.set_exception(failure)
            self._listeners.notify([row for (rows, _), failure in zip(batch, failures) if failure is None for row in rows])
            self._writing_spans = 0

    def _write(self, requests: Sequence[Sequence[SpanRow]]) -> None:
        self.store.write_spans([row for rows in requests for row in rows])


def commit_groups(write: Callable[[Sequence[G]], None], groups: Sequence[G]) -> list[Exception | None]:
    """`write` several requests in one transaction (group commit). Returns each
    request's outcome: None once committed, else the error that kept it out.

    One bad request must not fail the others: if the whole fails, each is written alone.
    """
    try:
        write(groups)
        return [None] * len(groups)
    except Exception as exc:
        log.exception("commit of %d request(s) failed", len(groups))
        if len(groups) == 1:
            return [exc]
    return [_write_alone(write, group) for group in groups]


def _write_alone(write: Callable[[Sequence[G]], None], group: G) -> Exception | None:
    try:
        write([group])
    except Exception as exc:
        return exc
    return None
