"""The one ingest path: an export request's bytes to a commit, and back to an answer.

Receivers call `Ingest.export`. The request's body is handed to a lane, which runs one
loop: take every request waiting for it (group commit, up to `MAX_BATCH_BYTES` of
bodies), prepare each (decode, project, auth, normalise: `Preparer`; then
`Store.prepare`), commit them all with one `Store.commit`, and answer each. A request
is answered only after COMMIT, so acknowledged means durable; one bad request in a
group commit fails alone (`commit_groups`).

Lanes:
- `processes: 0`: one thread in this process, on the server's store;
- `processes: N` (`Workers`): N worker processes, each running the same loop on its
  own store. Ingest is Python-bound (decoding and normalising cost more than SQLite's
  own work, docs/performance.md), and one Python process runs at most one core of
  Python: workers prepare in parallel, and their commits take turns on a file lock,
  a blocking wait in the kernel where SQLite's own busy handler would sleep and poll.
  A worker that dies fails its pending requests with StorageFailed (retryable) and is
  replaced. A worker ends when the server does: the server's end of its pipe closes
  (kill -9 included), and the worker exits after its current commit.

Either way the one bound on waiting work is in request bytes: bytes handed to lanes
and not yet answered. Above `max_queue_bytes` an export gets QueueFull, which the
receivers answer UNAVAILABLE / 503 (OTLP exporters retry). Commit listeners (the live
page's event streams) hear `CommittedSpan`s. The collector knows only the `Store`
protocol: which store, and whether it can be shared by worker processes, is the
composition root's choice (otelite/server.py).
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import IO, Any, TypeVar

from otelite.auth import Principal
from otelite.collector.pipeline import (
    Exporter,
    ExportResult,
    Forbidden,
    Preparer,
    QueueFull,
    StorageFailed,
    TooManySpans,
    WriterClosed,
)
from otelite.proto import DecodeError
from otelite.store.base import Batch, Store
from otelite.store.model import CommittedSpan

log = logging.getLogger("otelite.ingest")

# A worker imports otelite's ingest modules and opens the store before it says hello.
READY_TIMEOUT_SECONDS = 60
# Refusals answered as they are (a worker's pickle as their class and message).
REFUSALS = (DecodeError, TooManySpans, Forbidden)
# A lane takes the requests waiting for it into one commit up to this many body bytes
# (the first request is always taken).
MAX_BATCH_BYTES = 8 << 20

G = TypeVar("G")


# Server -> lane: (request id, body, json, header project, principal); None: finish.
Job = tuple[int, bytes, bool, str | None, Principal | None]
# Lane -> server: each request's outcome, and the spans that were committed.
Reply = tuple[list[tuple[int, ExportResult | Exception]], list[CommittedSpan]]


@dataclass(frozen=True, slots=True)
class Workers:
    """Ingest in worker processes: how many, and how each opens its own store.

    `open_store` is pickled to the workers (e.g. `functools.partial(open_store, url)`);
    the store must take commits from several processes. Their commits take turns on
    the file `lock_path`.
    """

    processes: int
    open_store: Callable[[], Store]
    lock_path: str


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What a worker process is sent first: everything it needs to run the loop."""

    preparer: Preparer
    open_store: Callable[[], Store]
    lock_path: str


class CommitListeners:
    """Callbacks told what was just committed (the live page's event streams)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Sequence[CommittedSpan]], None]] = []

    def add(self, listener: Callable[[Sequence[CommittedSpan]], None]) -> None:
        self._listeners.append(listener)

    def notify(self, spans: Sequence[CommittedSpan]) -> None:
        if not spans:
            return
        for listener in self._listeners:
            try:
                listener(spans)
            except Exception:
                log.exception("commit listener failed")


# ------------------------------------------------------------------ the loop (any lane)


def handle(jobs: Sequence[Job], preparer: Preparer, store: Store, lock: AbstractContextManager[Any]) -> Reply:
    """Prepare each request, commit them all (holding `lock`), and say how each went."""
    outcomes: list[tuple[int, ExportResult | Exception]] = []
    prepared: list[tuple[int, ExportResult, Batch]] = []
    for request_id, body, json, project_id, principal in jobs:
        try:
            request = preparer.prepare(body, json=json, project_id=project_id, principal=principal)
            prepared.append((request_id, request.result, store.prepare(request.rows)))
        except REFUSALS as exc:
            outcomes.append((request_id, exc))
        except Exception as exc:  # a bug must cost this request only, never the lane
            log.exception("preparing an export request failed")
            outcomes.append((request_id, StorageFailed(f"could not store the spans: {exc}")))
    committed: list[CommittedSpan] = []
    if prepared:
        with lock:
            failures = commit_groups(store.commit, [batch for _, _, batch in prepared], committed)
        for (request_id, result, _), failure in zip(prepared, failures):
            if failure is None:
                outcomes.append((request_id, result))
            else:
                outcomes.append((request_id, StorageFailed(f"could not store the spans: {failure}")))
    return outcomes, committed


def commit_groups(
    commit: Callable[[Sequence[G]], list[CommittedSpan]], groups: Sequence[G], committed: list[CommittedSpan]
) -> list[Exception | None]:
    """`commit` several requests in one transaction (group commit). Returns each
    request's outcome, None once committed, else the error that kept it out; extends
    `committed` with what was.

    One bad request must not fail the others: if the whole fails, each is committed alone.
    """
    try:
        committed.extend(commit(groups))
        return [None] * len(groups)
    except Exception as exc:
        log.exception("commit of %d request(s) failed", len(groups))
        if len(groups) == 1:
            return [exc]
    return [_commit_alone(commit, group, committed) for group in groups]


def _commit_alone(
    commit: Callable[[Sequence[G]], list[CommittedSpan]], group: G, committed: list[CommittedSpan]
) -> Exception | None:
    try:
        committed.extend(commit([group]))
    except Exception as exc:  # noqa: BLE001 (whatever failed this request's commit is its answer)
        return exc
    return None


# ------------------------------------------------------------------------ server side


class _Lane:
    """One loop the server hands requests to: a thread here, or a worker process; and
    the requests it holds, not yet answered (request id -> future and body size)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.pending: dict[int, tuple[Future[ExportResult], int]] = {}
        self.pending_bytes = 0

    def send(self, job: Job | None) -> None:
        raise NotImplementedError

    def join(self) -> None:
        raise NotImplementedError


class Ingest(Exporter):
    """The receivers' next hop: `export` a request, get its answer once it is committed."""

    def __init__(self, preparer: Preparer, store: Store, max_queue_bytes: int, workers: Workers | None = None) -> None:
        """Ingest on `store` in this process, or, with `workers`, in worker processes
        that each open their own store (`store` is then the server's, for reads)."""
        self.preparer = preparer
        self.store = store
        self.max_queue_bytes = max_queue_bytes
        self.workers = workers
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closing = False
        self._listeners = CommitListeners()
        self._lanes: list[_Lane]
        if workers is None:
            self._lanes = [_ThreadLane(0, self)]
        else:
            if workers.processes < 1:
                raise ValueError("ingest workers need at least one process")
            settings = WorkerSettings(preparer, workers.open_store, workers.lock_path)
            processes = [_ProcessLane(index, self, settings) for index in range(workers.processes)]
            self._lanes = list(processes)
            for lane in processes:
                lane.wait_ready()

    def add_listener(self, listener: Callable[[Sequence[CommittedSpan]], None]) -> None:
        """Call `listener(spans)` after each commit, on a lane's thread (keep it quick)."""
        self._listeners.add(listener)

    @property
    def queued_bytes(self) -> int:
        """Bytes of requests handed to lanes and not yet answered (what max_queue_bytes bounds)."""
        return sum(lane.pending_bytes for lane in self._lanes)

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
            return future.result(timeout)
        except FutureTimeout as exc:
            raise StorageFailed("could not store the spans: timed out waiting for the commit") from exc

    def _submit(
        self, body: bytes, json: bool, project_id: str | None, principal: Principal | None
    ) -> Future[ExportResult]:
        future: Future[ExportResult] = Future()
        size = len(body)
        with self._lock:
            if self._closing:
                raise WriterClosed("otelite is shutting down")
            queued = self.queued_bytes
            # One request larger than the whole bound is still taken when nothing waits.
            if queued and queued + size > self.max_queue_bytes:
                raise QueueFull(f"write queue full ({queued} request bytes waiting)")
            lane = min(self._lanes, key=lambda lane: lane.pending_bytes)
            request_id = next(self._ids)
            lane.pending[request_id] = (future, size)
            lane.pending_bytes += size
        try:
            lane.send((request_id, body, json, project_id, principal))
        except (OSError, ValueError) as exc:  # a lane that is gone (a worker's reader fails the rest)
            self._forget(lane, request_id)
            raise StorageFailed(f"could not store the spans: ingest lane {lane.index} is gone") from exc
        return future

    def close(self) -> None:
        """Stop taking requests; every lane commits what it was handed, then ends."""
        with self._lock:
            self._closing = True
            lanes = list(self._lanes)
        for lane in lanes:
            try:
                lane.send(None)
            except (OSError, ValueError):
                pass
        for lane in lanes:
            lane.join()

    def _answer(self, lane: _Lane, reply: Reply) -> None:
        outcomes, committed = reply
        for request_id, outcome in outcomes:
            future = self._forget(lane, request_id)
            if future is None:
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        self._listeners.notify(committed)

    def _forget(self, lane: _Lane, request_id: int) -> Future[ExportResult] | None:
        with self._lock:
            entry = lane.pending.pop(request_id, None)
            if entry is None:
                return None
            lane.pending_bytes -= entry[1]
            return entry[0]

    def _lane_ended(self, lane: _ProcessLane) -> None:
        """A worker exited: fail what it held, and (unless closing) start its replacement,
        which takes requests at once (they wait in its pipe until it is ready)."""
        with self._lock:
            lost = self._fail_pending(lane)
            replace = not self._closing
            if replace:
                fresh = _ProcessLane(lane.index, self, lane.settings)
                self._lanes[self._lanes.index(lane)] = fresh
        if lost or replace:
            code = lane.process.returncode
            log.error("ingest worker %d exited (code %s); %d request(s) failed", lane.index, code, len(lost))
        for future in lost:
            future.set_exception(StorageFailed(f"could not store the spans: ingest worker {lane.index} exited"))
        if replace:
            try:
                fresh.wait_ready()
            except RuntimeError:
                log.exception("ingest worker %d could not be replaced", lane.index)
                with self._lock:
                    lost = self._fail_pending(fresh)
                for future in lost:
                    future.set_exception(
                        StorageFailed(f"could not store the spans: ingest worker {lane.index} did not start")
                    )

    def _fail_pending(self, lane: _Lane) -> list[Future[ExportResult]]:
        """Forget every request `lane` holds (with self._lock held); returns their futures."""
        lost = [future for future, _ in lane.pending.values()]
        lane.pending.clear()
        lane.pending_bytes = 0
        return lost


class _ThreadLane(_Lane):
    """`processes: 0`: the loop on one thread of this process, on the server's store."""

    def __init__(self, index: int, ingest: Ingest) -> None:
        super().__init__(index)
        self._ingest = ingest
        self._jobs: deque[Job] = deque()
        self._finishing = False
        self._ended = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="otelite-ingest", daemon=True)
        self._thread.start()

    def send(self, job: Job | None) -> None:
        with self._cond:
            if self._ended:
                raise ValueError("the ingest thread has ended")
            if job is None:
                self._finishing = True
            else:
                self._jobs.append(job)
            self._cond.notify()

    def join(self) -> None:
        self._thread.join()

    def _take(self) -> tuple[list[Job], bool]:
        with self._cond:
            while not self._jobs and not self._finishing:
                self._cond.wait()
            jobs = [self._jobs.popleft()] if self._jobs else []
            size = len(jobs[0][1]) if jobs else 0
            while self._jobs and size < MAX_BATCH_BYTES:
                jobs.append(self._jobs.popleft())
                size += len(jobs[-1][1])
            self._ended = self._finishing and not self._jobs
            return jobs, self._ended

    def _run(self) -> None:
        ingest, lock = self._ingest, nullcontext()
        finished = False
        while not finished:
            jobs, finished = self._take()
            if jobs:
                ingest._answer(self, handle(jobs, ingest.preparer, ingest.store, lock))


class _ProcessLane(_Lane):
    """`processes: N`: the loop in a worker process (`worker_main`), over a pipe."""

    def __init__(self, index: int, ingest: Ingest, settings: WorkerSettings) -> None:
        super().__init__(index)
        self._ingest = ingest
        self.settings = settings
        self._send_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        # A fresh interpreter running only the worker (collector/ingest_worker.py), not a
        # fork: the server has threads (gRPC, the checkpointer), and multiprocessing's
        # spawn would re-import the server's main module (API, gRPC, uvicorn) in each.
        # -P: nothing is imported from the current directory.
        here, there = Pipe(duplex=True)
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "otelite.collector.ingest_worker", str(there.fileno())],
            pass_fds=[there.fileno()],
        )
        there.close()
        self.conn = here
        here.send(settings)

    def wait_ready(self) -> None:
        """Wait for the worker's hello (its store is open), then listen for its replies."""
        if not self.conn.poll(READY_TIMEOUT_SECONDS):
            self.process.kill()
            raise RuntimeError(f"ingest worker {self.index} did not start")
        try:
            self.conn.recv()
        except EOFError:
            raise RuntimeError(
                f"ingest worker {self.index} failed to start (exit code {self.process.wait()})"
            ) from None
        self._reader = threading.Thread(target=self._read, name=f"otelite-ingest-{self.index}-replies", daemon=True)
        self._reader.start()

    def send(self, job: Job | None) -> None:
        with self._send_lock:
            self.conn.send(job)

    def join(self) -> None:
        self.process.wait()
        if self._reader is not None:
            self._reader.join()

    def _read(self) -> None:
        while True:
            try:
                reply = self.conn.recv()
            except (EOFError, OSError):
                break
            self._ingest._answer(self, reply)
        self.process.wait()
        self._ingest._lane_ended(self)


# ------------------------------------------------------------------------ worker side


def worker_main(conn: Connection, settings: WorkerSettings) -> None:
    """A worker process: take waiting requests, prepare, commit under the lock, answer."""
    # The server decides when workers stop (after its flush), also when Ctrl-C or a
    # service manager signals the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    store = settings.open_store()
    conn.send("ready")
    try:
        with open(settings.lock_path, "a") as lock_file:
            lock = _FileLock(lock_file)
            finished = False
            while not finished:
                jobs, finished = _take_jobs(conn, MAX_BATCH_BYTES)
                if jobs:
                    conn.send(handle(jobs, settings.preparer, store, lock))
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


class _FileLock:
    """Commits take turns across workers: flock blocks in the kernel (the GIL released),
    and the kernel drops the lock if its holder dies."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file

    def __enter__(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
