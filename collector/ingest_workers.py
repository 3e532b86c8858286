"""Ingest in worker processes: decode, normalise and commit outside the server's GIL.

One Python process runs at most one core of Python, and ingest is Python-bound
(decoding and normalising cost more than SQLite's own work, docs/performance.md). So
`otelite serve` on SQLite hands each export request's raw bytes to one of
`writer.processes` worker processes. A worker is one thread doing, in turn: take the
requests waiting for it (group commit), prepare them (decode, project, auth,
normalise), then commit them all in one transaction and answer. Workers prepare in
parallel; their commits take turns on a file lock beside the database, a blocking wait
in the kernel where SQLite's own busy handler would sleep and poll. A worker answers
only after COMMIT, so acknowledged still means durable.

The server process keeps the transport (gRPC, HTTP, auth of the caller) and the
bound on waiting work: request bytes sent to workers and not yet answered; above
`max_queue_bytes` an export gets QueueFull (UNAVAILABLE / 503), as with the in-process
writer. A worker that dies fails its pending requests with StorageFailed (retryable)
and is replaced. A worker ends when the server does: the server's end of its pipe
closes (kill -9 included), and the worker exits after its current commit.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import IO

from otelite.collector.pipeline import Exporter, ExportResult, Forbidden, Preparer, StorageFailed, TooManySpans
from otelite.collector.writer import Committed, CommitListeners, QueueFull, WriterClosed, commit_groups
from otelite.auth import Principal
from otelite.proto import DecodeError
from otelite.store.model import CommittedSpan
from otelite.store.sqlite import EncodedSpans, SQLiteStore, encode_spans, merge_encoded

log = logging.getLogger("otelite.ingest")

# A worker imports otelite's ingest modules and opens the store before it says hello.
READY_TIMEOUT_SECONDS = 60
# Refusals a worker sends back as they are (each pickles as its class and message).
REFUSALS = (DecodeError, TooManySpans, Forbidden)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Everything a worker needs to build its own preparer and store."""

    db_path: str
    synchronous: str
    lock_path: str
    preparer: Preparer
    # A worker takes the requests waiting for it into one transaction up to this many
    # body bytes (the first request is always taken).
    max_batch_bytes: int = 8 << 20


# Main -> worker: (request id, body, json, header project, principal); None: finish and exit.
Job = tuple[int, bytes, bool, str | None, Principal | None]
# Worker -> main: each request's outcome, and the spans that were committed.
Reply = tuple[list[tuple[int, ExportResult | Exception]], list[CommittedSpan]]


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]
    conn: Connection
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    pending: dict[int, tuple[Future[ExportResult], int]] = field(default_factory=dict)
    pending_bytes: int = 0
    reader: threading.Thread | None = None


class IngestWorkers(Exporter):
    def __init__(self, settings: WorkerSettings, processes: int, max_queue_bytes: int = 64 << 20) -> None:
        if processes < 1:
            raise ValueError("IngestWorkers needs at least one process")
        self.settings = settings
        self.max_queue_bytes = max_queue_bytes
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closing = False
        self._listeners = CommitListeners()
        self._workers = [self._start(index) for index in range(processes)]
        for worker in self._workers:
            self._wait_ready(worker)

    def add_listener(self, listener: Callable[[Committed], None]) -> None:
        """Call `listener(spans)` after each commit, on a reader thread (keep it quick)."""
        self._listeners.add(listener)

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (a replaced worker has a new one)."""
        with self._lock:
            return [worker.process.pid for worker in self._workers]

    @property
    def queued_bytes(self) -> int:
        """Bytes of requests handed to workers and not yet answered (what max_queue_bytes bounds)."""
        return sum(worker.pending_bytes for worker in self._workers)

    def export(
        self,
        body: bytes,
        *,
        json: bool,
        project_id: str | None,
        principal: Principal | None = None,
        timeout: float | None = None,
    ) -> ExportResult:
        future = self._submit(body, json, project_id, principal)
        try:
            outcome = future.result(timeout)
        except FutureTimeout as exc:
            raise StorageFailed("could not store the spans: timed out waiting for the commit") from exc
        return outcome

    def _submit(self, body: bytes, json: bool, project_id: str | None, principal: Principal | None) -> Future[ExportResult]:
        future: Future[ExportResult] = Future()
        size = len(body)
        with self._lock:
            if self._closing:
                raise WriterClosed("otelite is shutting down")
            queued = self.queued_bytes
            # One request larger than the whole bound is still taken when nothing waits.
            if queued and queued + size > self.max_queue_bytes:
                raise QueueFull(f"write queue full ({queued} request bytes waiting)")
            worker = min(self._workers, key=lambda w: w.pending_bytes)
            request_id = next(self._ids)
            worker.pending[request_id] = (future, size)
            worker.pending_bytes += size
        try:
            with worker.send_lock:
                job: Job = (request_id, body, json, project_id, principal)
                worker.conn.send(job)
        except (OSError, ValueError) as exc:  # the worker is gone; its reader fails the rest
            self._forget(worker, request_id)
            raise StorageFailed(f"could not store the spans: ingest worker {worker.index} is gone") from exc
        return future

    def close(self) -> None:
        """Stop taking requests; workers commit everything sent to them, then exit."""
        with self._lock:
            self._closing = True
        for worker in self._workers:
            try:
                with worker.send_lock:
                    worker.conn.send(None)
            except (OSError, ValueError):
                pass
        for worker in self._workers:
            worker.process.wait()
            if worker.reader is not None:
                worker.reader.join()

    # ---------------------------------------------------------------- server side

    def _start(self, index: int) -> _Worker:
        # A fresh interpreter running only the worker (collector/ingest_worker.py), not a
        # fork: the server has threads (gRPC, the checkpointer), and multiprocessing's
        # spawn would re-import the server's main module (API, gRPC, uvicorn) in each.
        here, there = Pipe(duplex=True)
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", "otelite.collector.ingest_worker", str(there.fileno())], pass_fds=[there.fileno()]
        )
        there.close()
        here.send(self.settings)
        return _Worker(index, process, here)

    def _wait_ready(self, worker: _Worker) -> None:
        """Wait for the worker's hello (its store is open), then listen for its replies."""
        if not worker.conn.poll(READY_TIMEOUT_SECONDS):
            worker.process.kill()
            raise RuntimeError(f"ingest worker {worker.index} did not start")
        try:
            worker.conn.recv()
        except EOFError:
            raise RuntimeError(f"ingest worker {worker.index} failed to start (exit code {worker.process.wait()})") from None
        worker.reader = threading.Thread(
            target=self._read, args=(worker,), name=f"otelite-ingest-{worker.index}-replies", daemon=True
        )
        worker.reader.start()

    def _read(self, worker: _Worker) -> None:
        while True:
            try:
                outcomes, committed = worker.conn.recv()
            except (EOFError, OSError):
                break
            for request_id, outcome in outcomes:
                future = self._forget(worker, request_id)
                if future is None:
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
            self._listeners.notify(committed)
        worker.process.wait()
        self._worker_ended(worker)

    def _forget(self, worker: _Worker, request_id: int) -> Future[ExportResult] | None:
        with self._lock:
            entry = worker.pending.pop(request_id, None)
            if entry is None:
                return None
            worker.pending_bytes -= entry[1]
            return entry[0]

    def _worker_ended(self, worker: _Worker) -> None:
        with self._lock:
            lost = [future for future, _ in worker.pending.values()]
            worker.pending.clear()
            worker.pending_bytes = 0
            replace = not self._closing
        if lost or replace:
            log.error("ingest worker %d exited (code %s); %d request(s) failed", worker.index, worker.process.returncode, len(lost))
        for future in lost:
            future.set_exception(StorageFailed(f"could not store the spans: ingest worker {worker.index} exited"))
        if replace:
            fresh = self._start(worker.index)
            self._wait_ready(fresh)
            with self._lock:
                self._workers[self._workers.index(worker)] = fresh


# ------------------------------------------------------------------- worker side


def worker_main(conn: Connection, settings: WorkerSettings) -> None:
    """A worker process: take waiting requests, prepare, commit under the lock, answer."""
    # The server decides when workers stop (after its flush), also when Ctrl-C or a
    # service manager signals the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    store = SQLiteStore(settings.db_path, synchronous=settings.synchronous)
    preparer = settings.preparer
    conn.send("ready")
    try:
        with open(settings.lock_path, "a") as lock_file:
            finished = False
            while not finished:
                jobs, finished = _take_jobs(conn, settings.max_batch_bytes)
                if jobs:
                    conn.send(_handle(jobs, preparer, lambda groups: _commit_locked(store, groups, lock_file)))
    finally:
        store.close()
        conn.close()


def _take_jobs(conn: Connection, max_bytes: int) -> tuple[list[Job], bool]:
    """The next request (waiting for it), plus any others already waiting, up to max_bytes.
    Returns the jobs and whether the server asked this worker to finish."""
    jobs: list[Job] = []
    size = 0
    while not jobs or (size < max_bytes and conn.poll()):
        try:
            job = conn.recv()
        except EOFError:  # the server is gone
            return jobs, True
        if job is None:
            return jobs, True
        jobs.append(job)
        size += len(job[1])
    return jobs, False


def _handle(jobs: list[Job], preparer: Preparer, commit: Callable[[list[EncodedSpans]], list[Exception | None]]) -> Reply:
    outcomes: list[tuple[int, ExportResult | Exception]] = []
    prepared = []
    for request_id, body, json, project_id, principal in jobs:
        try:
            prepared.append((request_id, preparer.prepare(body, json=json, project_id=project_id, principal=principal)))
        except REFUSALS as exc:
            outcomes.append((request_id, exc))
        except Exception as exc:  # a bug must cost this request only, never the worker
            log.exception("preparing an export request failed")
            outcomes.append((request_id, StorageFailed(f"could not store the spans: {exc}")))
    encoded = [encode_spans(p.rows) for _, p in prepared]
    failures = commit(encoded) if encoded else []
    committed: list[CommittedSpan] = []
    for (request_id, p), request, failure in zip(prepared, encoded, failures):
        if failure is None:
            outcomes.append((request_id, p.result))
            committed.extend(request.committed())
        else:
            outcomes.append((request_id, StorageFailed(f"could not store the spans: {failure}")))
    return outcomes, committed


def _commit_locked(store: SQLiteStore, groups: list[EncodedSpans], lock_file: IO[str]) -> list[Exception | None]:
    # Commits take turns across workers: flock blocks in the kernel (the GIL released),
    # and the kernel drops the lock if its holder dies.
    fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
        return commit_groups(lambda parts: store.write_encoded(merge_encoded(parts)), groups)
    finally:
        fcntl.flock(lock_file, fcntl.LOCK_UN)


