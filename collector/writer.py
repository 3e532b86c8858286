"""The batching writer: one thread owns the store's write side.

Receivers `submit` a request's rows and wait on the returned future; the writer takes
every request waiting in the queue (up to `max_batch_spans`) and commits them in one
transaction (group commit), then resolves their futures. A future resolves only after
COMMIT, so an acknowledged span is durable.

The queue is bounded in spans: when it is full, `submit` raises `QueueFull` at once and
the receiver answers UNAVAILABLE / 503, which OTLP exporters retry.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from store.base import Store
from store.model import SpanRow

log = logging.getLogger("otelite.writer")


class QueueFull(Exception):
    """The writer is behind; the client should retry later."""


class WriterClosed(Exception):
    """The writer is shutting down and takes no new spans."""


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
        self._listeners: list[Callable[[Sequence[SpanRow]], None]] = []
        self._thread = threading.Thread(target=self._run, name="otelite-writer", daemon=True)
        self._thread.start()

    def add_listener(self, listener: Callable[[Sequence[SpanRow]], None]) -> None:
        """Call `listener(rows)` on the writer thread after each commit (keep it quick)."""
        self._listeners.append(listener)

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
            try:
                self.store.write_spans([row for rows, _ in batch for row in rows])
            except Exception:
                # One bad request must not fail the others: write each alone.
                log.exception("group commit of %d requests failed; writing them one by one", len(batch))
                for rows, future in batch:
                    self._write_one(rows, future)
            else:
                for _, future in batch:
                    future.set_result(None)
                self._notify([row for rows, _ in batch for row in rows])
            self._writing_spans = 0

    def _write_one(self, rows: Sequence[SpanRow], future: Future[None]) -> None:
        try:
            self.store.write_spans(rows)
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)
            self._notify(rows)

    def _notify(self, rows: Sequence[SpanRow]) -> None:
        for listener in self._listeners:
            try:
                listener(rows)
            except Exception:
                log.exception("writer listener failed")
