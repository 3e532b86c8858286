"""Retention: a background thread that keeps the store within `retention_days` and
`max_db_mb`, deleting whole traces in small transactions so ingest never waits long."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from otelite.store.base import Store
from otelite.store.model import PruneResult

log = logging.getLogger("otelite.retention")

NS_PER_DAY = 86_400 * 10**9
# Traces per prune call: the thread checks for shutdown between calls.
TRACES_PER_CALL = 1000


class Retention:
    def __init__(
        self,
        store: Store,
        retention_days: int,
        max_db_mb: int,
        interval_seconds: float,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store = store
        self.retention_days = retention_days
        self.max_db_mb = max_db_mb
        self.interval_seconds = interval_seconds
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.retention_days > 0 or self.max_db_mb > 0

    def run_once(self) -> PruneResult:
        """One pass: delete what is past retention, then what is over the size cap."""
        older_than = self.clock() - self.retention_days * NS_PER_DAY if self.retention_days > 0 else None
        max_bytes = self.max_db_mb * 1024 * 1024 if self.max_db_mb > 0 else None
        total = PruneResult()
        while not self._stop.is_set():
            result = self.store.prune(older_than_ns=older_than, max_bytes=max_bytes, max_traces=TRACES_PER_CALL)
            total.add(result)
            if result.traces < TRACES_PER_CALL:
                break
        if total.traces:
            log.info("retention pruned %d traces (%d spans, %d feedback)", total.traces, total.spans, total.feedback)
        return total

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="otelite-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("retention pass failed; retrying at the next interval")
            self._stop.wait(self.interval_seconds)
