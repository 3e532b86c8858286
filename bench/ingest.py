"""Ingest benchmark: otelite against the SQLite floor, measured in one run.

    python bench/ingest.py                 # about a minute on 2 cores
    python bench/ingest.py --requests 200  # quicker
    python bench/ingest.py --soak 60       # plus: resident size under a minute of flat-out load
    python bench/ingest.py --profile       # pyinstrument profile of the in-process hot path

It builds OTLP ExportTraceServiceRequests of 100 realistic GenAI spans each (about 1 KB of
message JSON per span) and measures:

  floor  what SQLite alone can do: a plain executemany of the very rows otelite stores
         for these requests (written once by otelite's store beforehand, read back)
         into a fresh WAL file with otelite's own tables and indexes
         (store.schema.migrate), four ways: A the spans and span_details rows with no
         checkpoint while timed (the strongest), B the same with SQLite's default
         autocheckpoint, C A plus the full-text rows, D every table otelite writes
         (conversation stats and search index included) with SQLite's defaults -- the
         issue's own wording, "a plain executemany of equivalent rows into a WAL file
         with the same indexes";
  grpc   `otelite serve` (defaults: ingest worker processes) in a subprocess, sent the
         pre-serialised requests over raw gRPC (TraceService/Export with bytes in) from
         N client threads; acknowledged spans/s;
  http   the same over OTLP/HTTP protobuf (POST /v1/traces);
  grpc1  grpc again with `--ingest-processes 0` (all ingest in the server process): the
         baseline the worker processes are measured against.

Every rate is printed with its ratio to each floor. The issue's target is grpc >= 0.6x.

    python bench/ingest.py --store clickhouse   # also grpc/http into ClickHouse (chdb)

`--store clickhouse` repeats the grpc and http runs with `otelite serve --store
chdb://DIR` (ClickHouse's engine in the server process, docs/scale.md) and prints them
beside SQLite's, with their ratios to the same floor and to otelite on SQLite.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import grpc
import orjson
import sqlite_utils
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otelite.store.schema import migrate
from otelite.store.sqlite import WRITER_CACHE_KIB

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SPANS_PER_TURN = 4
TRACE_PREFIX = b"\xa1\x7e\x11\x7e"  # chat, execute_tool, chat, then the invoke_agent root that ends last
WORDS = [
    "the",
    "agent",
    "reads",
    "the",
    "ticket",
    "and",
    "checks",
    "the",
    "order",
    "status",
    "before",
    "it",
    "answers",
    "the",
    "customer",
    "about",
    "a",
    "refund",
    "for",
    "a",
    "damaged",
    "parcel",
    "that",
    "arrived",
    "late",
    "last",
    "week",
    "with",
    "a",
    "missing",
    "item",
]


# --------------------------------------------------------------------------- requests


def _text(rng: random.Random, approx_bytes: int) -> str:
    out: list[str] = []
    size = 0
    while size < approx_bytes:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _messages(*messages: dict) -> str:
    return orjson.dumps(list(messages)).decode()


def _turn_spans(rng: random.Random, conversation: str, turn: int, start_ns: int) -> list[Span]:
    """One agent turn as the OTel GenAI conventions describe it, in export order:
    the children end (and are exported) before the root that names the conversation."""
    # A fixed first 4 bytes, so that a soak can make fresh traces by rewriting them.
    trace_id = TRACE_PREFIX + rng.randbytes(12)
    root_id, chat1_id, tool_id, chat2_id = (rng.randbytes(8) for _ in range(4))
    question = _text(rng, 120)
    call_id = f"call_{rng.getrandbits(48):012x}"
    tool_args = orjson.dumps({"order_id": f"A{rng.randrange(10**6)}", "include": ["items", "shipping"]}).decode()
    tool_result = orjson.dumps({"status": "delivered", "note": _text(rng, 160)}).decode()
    answer = _text(rng, 300)
    system = "You are a helpful support agent. Be brief and accurate."
    ms = 1_000_000

    def span(span_id: bytes, parent: bytes, name: str, kind: int, t0: int, t1: int, attrs: dict) -> Span:
        return Span(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent,
            name=name,
            kind=kind,
            start_time_unix_nano=start_ns + t0 * ms,
            end_time_unix_nano=start_ns + t1 * ms,
            status=Status(code=Status.STATUS_CODE_OK),
            attributes=[_kv(k, v) for k, v in attrs.items()],
        )

    chat_common = {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.agent.name": "support",
        "server.address": "api.openai.com",
    }
    user = {"role": "user", "parts": [{"type": "text", "content": question}]}
    call = {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": call_id, "name": "lookup_order", "arguments": orjson.loads(tool_args)}],
    }
    response = {"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id, "response": tool_result}]}
    final = {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}
    chat1 = span(
        chat1_id,
        root_id,
        "chat gpt-4o",
        Span.SPAN_KIND_CLIENT,
        5,
        900,
        {
            "gen_ai.operation.name": "chat",
            **chat_common,
            "gen_ai.response.id": f"chatcmpl-{rng.getrandbits(64):016x}",
            "gen_ai.response.finish_reasons": "tool_calls",
            "gen_ai.usage.input_tokens": rng.randrange(200, 4000),
            "gen_ai.usage.output_tokens": rng.randrange(10, 60),
            "gen_ai.system_instructions": _messages({"type": "text", "content": system}),
            "gen_ai.input.messages": _messages(user),
            "gen_ai.output.messages": _messages({**call, "finish_reason": "tool_calls"}),
        },
    )
    tool = span(
        tool_id,
        root_id,
        "execute_tool lookup_order",
        Span.SPAN_KIND_INTERNAL,
        905,
        1100,
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "lookup_order",
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.arguments": tool_args,
            "gen_ai.tool.call.result": tool_result,
            "gen_ai.input.messages": _messages(call),
            "gen_ai.output.messages": _messages(response),
        },
    )
    chat2 = span(
        chat2_id,
        root_id,
        "chat gpt-4o",
        Span.SPAN_KIND_CLIENT,
        1105,
        2600,
        {
            "gen_ai.operation.name": "chat",
            **chat_common,
            "gen_ai.response.id": f"chatcmpl-{rng.getrandbits(64):016x}",
            "gen_ai.response.finish_reasons": "stop",
            "gen_ai.usage.input_tokens": rng.randrange(300, 5000),
            "gen_ai.usage.output_tokens": rng.randrange(50, 400),
            "gen_ai.usage.reasoning.output_tokens": rng.randrange(0, 200),
            "gen_ai.input.messages": _messages(user, call, response),
            "gen_ai.output.messages": _messages(final),
        },
    )
    root = span(
        root_id,
        b"",
        "invoke_agent support",
        Span.SPAN_KIND_INTERNAL,
        0,
        2610,
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "support",
            "gen_ai.agent.id": "asst_support_1",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.conversation.id": conversation,
            "gen_ai.input.messages": _messages(user),
            "gen_ai.output.messages": _messages(final),
        },
    )
    return [chat1, tool, chat2, root]


def build_requests(
    count: int, spans_per_request: int = 100, conversations: int = 2_000, seed: int = 1, progress: bool = False
) -> list[bytes]:
    """`count` serialised requests; turn k is turn k // conversations of conversation k % conversations."""
    rng = random.Random(seed)
    resource = [
        _kv("service.name", "support-agent"),
        _kv("telemetry.sdk.language", "python"),
        _kv("telemetry.sdk.name", "opentelemetry"),
        _kv("telemetry.sdk.version", "1.27.0"),
        _kv("deployment.environment", "bench"),
    ]
    turns_per_request = max(1, spans_per_request // SPANS_PER_TURN)
    base_ns = 1_750_000_000 * 10**9
    out: list[bytes] = []
    turn = 0
    for _ in range(count):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(resource)
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "opentelemetry.instrumentation.openai_v2"
        scope_spans.scope.version = "2.1b0"
        for _ in range(turns_per_request):
            conversation = f"conv-{turn % conversations:06d}"
            start = base_ns + (turn // conversations) * 60 * 10**9 + (turn % conversations) * 10**6
            scope_spans.spans.extend(_turn_spans(rng, conversation, turn // conversations, start))
            turn += 1
        out.append(request.SerializeToString())
        if progress and len(out) % max(1, count // 10) == 0:
            print(f"  built {len(out):,}/{count:,} requests", flush=True)
    return out


# --------------------------------------------------------------------------- floor


# Every table otelite writes on ingest, in the order a write transaction fills them.
OTELITE_TABLES = (
    "trace_conversations",
    "spans",
    "span_details",
    "conversation_stats",
    "conversation_traces",
    "conversation_facets",
    "span_text_fts",
)
# Columns copied by name: an FTS5 table's rowid (its key, the span's id) is not among `*`.
NAMED_COLUMNS = {"span_text_fts": "rowid, text"}
# The floors: which of those tables each copies, and whether SQLite's default
# autocheckpoint runs while it is timed.
FLOORS = {
    "A": (("spans", "span_details"), False),
    "B": (("spans", "span_details"), True),
    "C": (("spans", "span_details", "span_text_fts"), False),
    "D": (OTELITE_TABLES, True),
}
FLOOR_NOTES = {
    "A": "the spans and span_details rows, no checkpoint while timed",
    "B": "the rows of A, with SQLite's default autocheckpoint",
    "C": "the rows of A plus the full-text index (FTS5)",
    "D": "every row otelite stored (stats and search index included), with SQLite's defaults",
}


def otelite_rows(bodies: list[bytes], directory: Path) -> dict[str, list[tuple]]:
    """Every row otelite stores for these requests, table by table: written once by
    otelite's own store (outside any timing), then read back."""
    from otelite.collector.normalize import normalize
    from otelite.config import Config
    from otelite.proto import decode_protobuf
    from otelite.store.sqlite import SQLiteStore

    limits = Config().limits.value_limits()

    path = directory / "reference.db"
    store = SQLiteStore(path)
    for i in range(0, len(bodies), 50):
        store.write_spans(
            [normalize(span, "default") for body in bodies[i : i + 50] for span in decode_protobuf(body, limits).spans]
        )
    store.close()
    conn = sqlite3.connect(path)
    rows = {
        table: conn.execute(f"SELECT {NAMED_COLUMNS.get(table, '*')} FROM {table}").fetchall()  # sql-safe: constants
        for table in OTELITE_TABLES
    }
    conn.close()
    path.unlink()
    return rows


def measure_floor(
    rows: dict[str, list[tuple]], tables: tuple[str, ...], autocheckpoint: bool, path: Path, batch: int
) -> float:
    """Spans/s of a plain executemany of the rows of `tables` into a fresh WAL file with
    otelite's schema and page cache size, in transactions of `batch` spans (each
    transaction takes the same share of every table).

    autocheckpoint=False is the strongest floor: no WAL checkpoint during the timing at
    all (otelite checkpoints on a thread of its own, and pays for it in its rate).
    """
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA cache_size = {-WRITER_CACHE_KIB}")
    if not autocheckpoint:
        conn.execute("PRAGMA wal_autocheckpoint = 0")
    migrate(sqlite_utils.Database(conn))
    inserts = {
        table: f"INSERT INTO {table} {f'({NAMED_COLUMNS[table]})' if table in NAMED_COLUMNS else ''}"  # sql-safe: constants
        f" VALUES ({', '.join('?' * len(rows[table][0]))})"
        for table in tables
        if rows[table]
    }
    transactions = max(1, -(-len(rows["spans"]) // batch))
    settle()
    started = time.perf_counter()
    for k in range(transactions):
        conn.execute("BEGIN")
        for table, insert in inserts.items():
            share = rows[table]
            conn.executemany(insert, share[k * len(share) // transactions : (k + 1) * len(share) // transactions])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    assert conn.execute("SELECT count(*) FROM spans").fetchone()[0] == len(rows["spans"])
    conn.close()
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):  # not kept for the next measurement
        leftover.unlink(missing_ok=True)
    return len(rows["spans"]) / elapsed


def settle() -> None:
    """Flush what earlier measurements wrote before timing the next one: otherwise the
    kernel writes their hundreds of MB back to disk during it, on the same two cores."""
    os.sync()


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    db: Path
    grpc_port: int
    http_port: int

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)

    def pids(self) -> list[int]:
        """The server process and its children (the ingest worker processes)."""
        pids = [self.process.pid]
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            pids += [int(pid) for pid in (task / "children").read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU time the server and its workers have used so far (all threads)."""
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:  # a worker that just exited
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Resident memory of the server and its workers together."""
        return self._sum("status", "VmRSS") / 1024

    def written_bytes(self) -> int:
        """Bytes the server and its workers have sent to the disk so far (the kernel's
        write_bytes: WAL frames, checkpoints; counted as pages are dirtied)."""
        return self._sum("io", "write_bytes")

    def _sum(self, proc_file: str, key: str) -> int:
        """A "key: value" line of /proc/PID/<proc_file>, summed over the processes."""
        total = 0
        for pid in self.pids():
            try:
                lines = Path(f"/proc/{pid}/{proc_file}").read_text().splitlines()
            except FileNotFoundError:  # a worker that just exited
                continue
            total += sum(int(line.split()[1]) for line in lines if line.startswith(f"{key}:"))
        return total


def start_server(db: Path, extra: list[str] | None = None, store: str | None = None) -> Server:
    """otelite on the SQLite file `db`, or on the store URL `store` when given."""
    grpc_port, http_port = free_port(), free_port()
    command = [
        sys.executable,
        "-m",
        "otelite.cli",
        "serve",
        *(("--store", store) if store else ("--db", str(db))),
        "--grpc-port",
        str(grpc_port),
        "--http-port",
        str(http_port),
        *(extra or []),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()  # "otelite: OTLP/gRPC on ..." once both listen
    if "listen" not in line and "OTLP" not in line:
        process.kill()
        raise RuntimeError(f"otelite did not start: {line!r}")
    return Server(process, db, grpc_port, http_port)


# --------------------------------------------------------------------------- clients


@dataclass
class Tally:
    acknowledged: int = 0
    unavailable: int = 0
    acked_requests: set[object] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, index: object, spans: int) -> None:
        with self.lock:
            self.acknowledged += spans
            self.acked_requests.add(index)

    def busy(self) -> None:
        with self.lock:
            self.unavailable += 1


def grpc_sender(server: Server) -> Callable[[bytes], bool]:
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", options=[("grpc.use_local_subchannel_pool", 1)])
    export = channel.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)

    def send(body: bytes) -> bool:
        try:
            export(body, timeout=120)
            return True
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                return False
            raise

    return send


def http_sender(server: Server) -> Callable[[bytes], bool]:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=120)
    headers = {"Content-Type": "application/x-protobuf"}

    def send(body: bytes) -> bool:
        conn.request("POST", "/v1/traces", body, headers)
        response = conn.getresponse()
        response.read()
        if response.status == 503:
            return False
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return True

    return send


def run_clients(
    make_sender: Callable[[], Callable[[bytes], bool]],
    bodies: list[bytes],
    spans_per_request: int,
    threads: int,
    work: Callable[[], Iterator[object]],
    tally: Tally,
    progress: str,
    body_of: Callable[[object], bytes] | None = None,
) -> float:
    """Send requests (indexes from `work`) from `threads` threads; returns elapsed seconds."""
    lock = threading.Lock()
    done = threading.Event()
    body_of = body_of or bodies.__getitem__

    def client() -> None:
        send = make_sender()
        while True:
            with lock:
                index = next(jobs, None)
            if index is None:
                return
            while not send(body_of(index)):
                tally.busy()
                time.sleep(0.05)  # what an exporter's retry would do, shortened
            tally.ack(index, spans_per_request)

    tty = sys.stdout.isatty()

    def report() -> None:
        while not done.wait(1.0 if tty else 5.0):
            rate = tally.acknowledged / max(time.perf_counter() - started, 1e-9)
            line = f"  {progress}: {tally.acknowledged:,} spans acknowledged ({rate:,.0f}/s)"
            print(f"\r{line}   " if tty else line, end="" if tty else "\n", flush=True)

    jobs = work()
    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    done.set()
    if tty:
        print("\r" + " " * 80 + "\r", end="")
    return elapsed


def measure_server(
    transport: str,
    bodies: list[bytes],
    spans_per_request: int,
    threads: int,
    directory: Path,
    py_spy: str | None = None,
    store: str = "sqlite",
    extra: list[str] | None = None,
) -> tuple[float, float, float]:
    """Acknowledged spans/s, the server's CPU time per span (us) and the bytes it wrote to
    disk per span during the sending: on a shared machine the last two are the steadier
    figures of what ingest costs."""
    # ClickHouse: chdb on a directory of its own, in the server process (one process per
    # chdb directory, so this process counts the spans only after the server is gone).
    chdb_url = f"chdb://{directory / f'{transport}-chdb'}" if store == "clickhouse" else None
    name = "-".join([transport, *(extra or [])]).replace("--", "")
    server = start_server(directory / f"{name}.db", extra, store=chdb_url)
    spy = None
    if py_spy:
        # Samples every thread of the server while the clients send; collapsed stacks.
        beside = Path(sys.executable).parent / "py-spy"  # installed in this venv by the bench extra
        spy = subprocess.Popen(
            [
                str(beside) if beside.exists() else "py-spy",
                "record",
                "--pid",
                str(server.process.pid),
                "--threads",
                *os.environ.get("PYSPY_FLAGS", "--idle").split(),
                "--format",
                "raw",
                "--rate",
                "200",
                "-o",
                f"{py_spy}.{transport}.txt",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
    try:
        make = (lambda: grpc_sender(server)) if transport == "grpc" else (lambda: http_sender(server))
        tally = Tally()
        settle()
        cpu_before, written_before = server.cpu_seconds(), server.written_bytes()
        elapsed = run_clients(
            make, bodies, spans_per_request, threads, lambda: iter(range(len(bodies))), tally, transport
        )
        cpu, written = server.cpu_seconds() - cpu_before, server.written_bytes() - written_before
    finally:
        if spy:
            spy.send_signal(2)
            spy.wait(30)
        server.stop()
    stored = (
        count_stored(chdb_url)
        if chdb_url
        else sqlite3.connect(server.db).execute("SELECT count(*) FROM spans").fetchone()[0]
    )
    if stored != tally.acknowledged:
        raise SystemExit(f"{transport}: {tally.acknowledged} spans acknowledged but {stored} stored")
    spans = max(tally.acknowledged, 1)
    return tally.acknowledged / elapsed, cpu / spans * 1e6, written / spans


def count_stored(store_url: str) -> int:
    from otelite.store import open_store

    store = open_store(store_url)
    try:
        return store.count_spans()
    finally:
        store.close()


def soak(
    seconds: float, bodies: list[bytes], spans_per_request: int, threads: int, directory: Path, queue: int | None
) -> None:
    """Send flat out for `seconds`, sampling the server's resident size; then check every
    acknowledged span is stored."""
    extra: list[str] = []
    if queue is not None:
        config = directory / "soak.yaml"
        # The one bound is in request bytes: `queue` spans at about 1,200 bytes a span.
        config.write_text(f"writer:\n  max_queue_bytes: {queue * 1200}\n")
        extra = ["--config", str(config)]
    server = start_server(directory / "soak.db", extra)
    peak = [server.rss_mb()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            peak[0] = max(peak[0], server.rss_mb())

    deadline = time.perf_counter() + seconds

    def work() -> Iterator[tuple[int, int]]:
        index = 0
        while time.perf_counter() < deadline:
            yield divmod(index, len(bodies))  # (round, request)
            index += 1

    def fresh(key: tuple[int, int]) -> bytes:
        # Each round sends the pool again with new trace ids: new spans, same conversations.
        round_, request = key
        return (
            bodies[request].replace(TRACE_PREFIX, (0x80000000 | round_).to_bytes(4, "big"))
            if round_
            else bodies[request]
        )

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tally = Tally()
    try:
        elapsed = run_clients(
            lambda: grpc_sender(server), bodies, spans_per_request, threads, work, tally, "soak", fresh
        )
        peak[0] = max(peak[0], server.rss_mb())
    finally:
        stop.set()
        server.stop()
    conn = sqlite3.connect(server.db)
    stored = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    expected = len(tally.acked_requests) * spans_per_request
    print(
        f"soak     {elapsed:.0f} s, {threads} gRPC client threads: {tally.acknowledged:,} spans acknowledged "
        f"({tally.acknowledged / elapsed:,.0f}/s), "
        f"{tally.unavailable:,} UNAVAILABLE answers"
    )
    print(
        f"         peak server RSS {peak[0]:.0f} MB (limit 300 MB); stored {stored:,} spans; "
        f"acknowledged {expected:,} -> {'all stored' if stored >= expected else 'MISSING SPANS'}"
    )


# --------------------------------------------------------------------------- main


def profile(bodies: list[bytes], directory: Path, spans_per_request: int) -> None:
    """The hot path (decode -> normalise -> write) in this thread, under pyinstrument.

    Group commits of 10 requests, as the writer takes them under load. gRPC and HTTP
    framing are not in here; `py-spy record --pid` on a served otelite shows those.
    """
    from pyinstrument import Profiler

    from otelite.collector.normalize import normalize
    from otelite.config import Config
    from otelite.proto import decode_protobuf
    from otelite.store import open_store

    limits = Config().limits.value_limits()

    stage_costs(bodies, spans_per_request)
    store = open_store(str(directory / "profile.db"))
    profiler = Profiler(interval=0.0002)
    started = time.perf_counter()
    with profiler:
        for i in range(0, len(bodies), 10):
            rows = [
                normalize(span, "default")
                for body in bodies[i : i + 10]
                for span in decode_protobuf(body, limits).spans
            ]
            store.write_spans(rows)
    elapsed = time.perf_counter() - started
    store.close()
    print(f"single-threaded hot path: {len(bodies) * spans_per_request / elapsed:,.0f} spans/s (under the profiler)")
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def stage_costs(bodies: list[bytes], spans_per_request: int) -> None:
    """CPU time per span of each stage (process time, so other processes on the machine
    do not count; garbage collection off, so it is not charged to whichever stage
    happens to trigger it)."""
    import gc

    from otelite.collector.normalize import normalize
    from otelite.config import Config
    from otelite.proto import decode_protobuf
    from otelite.store import sqlite as sqlite_store

    limits = Config().limits.value_limits()

    spans = len(bodies) * spans_per_request

    def cost(label: str, work: Callable[[], object]) -> object:
        started = time.process_time()
        result = work()
        print(f"  {label:<34} {(time.process_time() - started) / spans * 1e6:6.1f} us/span", flush=True)
        return result

    gc.disable()
    try:
        print("CPU per span by stage:")
        cost("protobuf parse only", lambda: [ExportTraceServiceRequest.FromString(b) for b in bodies])
        records = cost("decode (to SpanRecords)", lambda: [s for b in bodies for s in decode_protobuf(b, limits).spans])
        rows = cost("normalise (all dialect adapters)", lambda: [normalize(s, "default") for s in records])
        cost("store row tuples + JSON (details)", lambda: [sqlite_store._details_params(r) for r in rows])
        with tempfile.TemporaryDirectory(prefix="otelite-stage-") as tmp:
            store = sqlite_store.SQLiteStore(Path(tmp) / "stage.db")
            batches = [rows[i : i + 200] for i in range(0, len(rows), 200)]
            cost("write_spans, 200 per transaction", lambda: [store.write_spans(b) for b in batches])
            store.close()
    finally:
        gc.enable()
    import tracemalloc

    tracemalloc.start()
    rows = [normalize(s, "default") for b in bodies[:20] for s in decode_protobuf(b, limits).spans]
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  memory of a normalised row: {size / len(rows):,.0f} bytes/span "
        f"(its protobuf: {sum(map(len, bodies[:20])) / len(rows):,.0f}); this is what a queued span holds"
    )


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    return (
        f"{os.cpu_count()} cores, {cpu}; Python {sys.version.split()[0]}; SQLite {sqlite3.sqlite_version}; "
        f"grpcio {grpc.__version__}; {load()}"
    )


def load() -> str:
    """Other processes compete for the same cores: say how busy the machine was."""
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--requests", type=int, default=1000, help="requests per measurement (default 1000 = 100,000 spans)"
    )
    parser.add_argument("--spans-per-request", type=int, default=100)
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--floor-batch", type=int, default=5_000, help="spans per transaction in the floors")
    parser.add_argument(
        "--only",
        choices=("floor", "grpc", "http", "grpc1"),
        action="append",
        help="run only these (repeatable); grpc1: gRPC with ingest in the server process (--ingest-processes 0)",
    )
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="also send flat out for SECONDS and watch memory")
    parser.add_argument("--soak-threads", type=int, default=16, help="client threads during the soak (default 16)")
    parser.add_argument(
        "--soak-queue",
        type=int,
        help="the server's queue bound during the soak, in spans (writer.max_queue_bytes at 1,200 bytes a span)",
    )
    parser.add_argument("--profile", action="store_true", help="profile the in-process hot path instead")
    parser.add_argument(
        "--py-spy", metavar="PREFIX", help="record the server with py-spy into PREFIX.grpc.txt / PREFIX.http.txt"
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "clickhouse"),
        action="append",
        help="stores to run grpc/http against (repeatable; clickhouse = chdb, beside sqlite)",
    )
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"building {args.requests} requests of {args.spans_per_request} GenAI spans ...", flush=True)
    bodies = build_requests(args.requests, args.spans_per_request, progress=True)
    mb = sum(map(len, bodies)) / 1e6
    print(
        f"  {len(bodies) * args.spans_per_request:,} spans, {mb:.1f} MB of protobuf "
        f"({mb * 1e6 / len(bodies) / args.spans_per_request:,.0f} bytes/span)"
    )
    with tempfile.TemporaryDirectory(prefix="otelite-bench-") as tmp:
        directory = Path(tmp)
        if args.profile:
            profile(bodies, directory, args.spans_per_request)
            return
        only = set(args.only or ("floor", "grpc", "http", "grpc1"))
        floors: dict[str, float] = {}
        if "floor" in only:
            rows = otelite_rows(bodies, directory)
            for name, (tables, autocheckpoint) in FLOORS.items():
                floors[name] = measure_floor(
                    rows, tables, autocheckpoint, directory / f"floor-{name}.db", args.floor_batch
                )
                print(
                    f"floor {name}  {floors[name]:>9,.0f} spans/s  executemany of {FLOOR_NOTES[name]};"
                    f" {args.floor_batch:,} spans/transaction",
                    flush=True,
                )
            del rows
        stores = ["sqlite", *(s for s in args.store or () if s != "sqlite")]
        on_sqlite: dict[str, float] = {}
        runs = [("grpc", "grpc", []), ("http", "http", []), ("grpc1", "grpc", ["--ingest-processes", "0"])]
        for store in stores:
            for label, transport, extra in runs:
                if label not in only or (store != "sqlite" and extra):
                    continue
                rate, cpu, written = measure_server(
                    transport, bodies, args.spans_per_request, args.threads, directory, args.py_spy, store, extra
                )
                ratio = "  " + ", ".join(f"{rate / floor:.2f}x {name}" for name, floor in floors.items())
                if store == "sqlite":
                    on_sqlite[label] = rate
                    if label == "grpc1":
                        label = "grpc, 1 process"
                        ratio += (
                            f"; the default (worker processes) did {on_sqlite['grpc'] / rate:.2f}x this"
                            if "grpc" in on_sqlite
                            else ""
                        )
                else:
                    label = f"{transport}/ch"
                    ratio += f", {rate / on_sqlite[transport]:.2f}x otelite on SQLite" if transport in on_sqlite else ""
                    ratio += " (ClickHouse: chdb in the server)"
                print(
                    f"{label:<16}{rate:>9,.0f} spans/s acknowledged, {args.threads} client threads{ratio}", flush=True
                )
                print(
                    f"{'':<16}{cpu:>9,.1f} us of server CPU per span (all threads and processes; {rate * cpu / 1e6:.2f}"
                    f" cores busy); {written / 1024:,.1f} KiB written to disk per span",
                    flush=True,
                )
        if args.soak:
            soak(args.soak, bodies, args.spans_per_request, args.soak_threads, directory, args.soak_queue)
    print(f"done; {load()}")


if __name__ == "__main__":
    main()
