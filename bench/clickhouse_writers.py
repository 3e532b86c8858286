"""Several stateless collectors, one ClickHouse: correctness and throughput, in one run.

    python bench/clickhouse_writers.py                      # 1 then 2 collectors
    python bench/clickhouse_writers.py --collectors 1,2,3 --requests 400

It starts ClickHouse's HTTP interface served by chdb (tests/clickhouse_http.py: the real
engine behind a small Python HTTP front, since no ClickHouse server installs here), then
for each collector count K starts K `otelite serve --store clickhouse://...` processes
and sends OTLP/HTTP protobuf requests round-robin across them from client threads, as a
load balancer would. Every trace is split the way agent SDKs export it: its three
children in one request, its root (which names the conversation) in the next, so the
two halves of most traces reach different collectors. It prints acknowledged spans/s
and checks, through a ClickHouseStore, that every span is stored once and every trace's
children landed in their root's conversation.

What this measures is the otelite side plus the chdb-behind-Python front, on whatever
else the machine is running (load average printed): not a ClickHouse server's capacity.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from otelite.store.clickhouse import ClickHouseStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def build_requests(count: int, traces_per_request: int, rng: random.Random) -> tuple[list[bytes], int, list[str]]:
    """`count` requests alternating children-only and roots-only halves of the same traces."""
    requests: list[bytes] = []
    spans = 0
    conversations: list[str] = []
    now = time.time_ns()
    for batch in range(count // 2):
        children: list[Span] = []
        roots: list[Span] = []
        for t in range(traces_per_request):
            trace_id, root_id = rng.randbytes(16), rng.randbytes(8)
            conversation = f"conv-{batch}-{t}"
            conversations.append(conversation)
            start = now + (batch * traces_per_request + t) * 10_000_000
            for i, (name, op) in enumerate(
                (("chat gpt-4o", "chat"), ("execute_tool lookup", "execute_tool"), ("chat gpt-4o", "chat"))
            ):
                text = f"message {i} of {conversation}: " + "lorem ipsum dolor sit amet " * 20
                children.append(
                    Span(
                        trace_id=trace_id,
                        span_id=rng.randbytes(8),
                        parent_span_id=root_id,
                        name=name,
                        start_time_unix_nano=start + (i + 1) * 1_000_000,
                        end_time_unix_nano=start + (i + 2) * 1_000_000,
                        attributes=[
                            _kv("gen_ai.operation.name", op),
                            _kv("gen_ai.request.model", "gpt-4o"),
                            _kv("gen_ai.usage.input_tokens", 100 + i),
                            _kv(
                                "gen_ai.input.messages",
                                f'[{{"role":"user","parts":[{{"type":"text","content":"{text}"}}]}}]',
                            ),
                        ],
                    )
                )
            roots.append(
                Span(
                    trace_id=trace_id,
                    span_id=root_id,
                    name="invoke_agent support",
                    start_time_unix_nano=start,
                    end_time_unix_nano=start + 5_000_000,
                    attributes=[
                        _kv("gen_ai.operation.name", "invoke_agent"),
                        _kv("gen_ai.conversation.id", conversation),
                    ],
                )
            )
        for half in (children, roots):
            request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=half)])])
            requests.append(request.SerializeToString())
            spans += len(half)
    return requests, spans, conversations


def start_collector(store_url: str) -> tuple[subprocess.Popen[bytes], int]:
    http_port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "otelite.cli", "serve", "--store", store_url,
         "--grpc-port", str(free_port()), "--http-port", str(http_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if "OTLP/gRPC on" not in line:
        process.kill()
        raise RuntimeError(f"otelite did not start: {line}{process.stdout.read().decode()}")
    return process, http_port


def send(requests: list[bytes], ports: list[int], threads: int) -> float:
    """Send every request (request i to collector i mod K); seconds until the last ack."""
    next_index = iter(range(len(requests)))
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        connections = {port: http.client.HTTPConnection("127.0.0.1", port, timeout=60) for port in ports}
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            port = ports[i % len(ports)]
            while True:
                connections[port].request(
                    "POST", "/v1/traces", body=requests[i], headers={"Content-Type": "application/x-protobuf"}
                )
                response = connections[port].getresponse()
                response.read()
                if response.status == 503:  # backpressure: retry, as exporters do
                    time.sleep(0.05)
                    continue
                if response.status != 200:
                    failures.append(f"request {i}: HTTP {response.status}")
                break

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        raise RuntimeError("; ".join(failures[:5]))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collectors", default="1,2", help="collector counts to run, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="requests per run (half children, half roots)")
    parser.add_argument("--traces-per-request", type=int, default=25)
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    args = parser.parse_args()

    requests, total_spans, conversations = build_requests(args.requests, args.traces_per_request, random.Random(7))
    data_dir = tempfile.mkdtemp(
        prefix="otelite-bench-chdb-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    )
    front = subprocess.Popen(
        [sys.executable, "-m", "tests.clickhouse_http", data_dir], cwd=ROOT, stdout=subprocess.PIPE
    )
    assert front.stdout is not None
    port = int(front.stdout.readline())
    print(
        f"ClickHouse (chdb behind tests/clickhouse_http.py) on 127.0.0.1:{port}; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{len(requests)} requests, {total_spans} spans ({args.traces_per_request * 4} spans per trace pair), {args.threads} client threads"
    )
    try:
        for count in (int(c) for c in args.collectors.split(",")):
            url = f"clickhouse://default@127.0.0.1:{port}/bench_{count}"
            collectors = [start_collector(url) for _ in range(count)]
            try:
                seconds = send(requests, [p for _, p in collectors], args.threads)
            finally:
                for process, _ in collectors:
                    process.terminate()
                    process.wait(30)
            store = ClickHouseStore(url)
            try:
                stored = store.count_spans()
                sample = conversations[:: max(1, len(conversations) // 50)]
                spans = store.conversation_minimap("default", sample)
                complete = sum(1 for c in sample if sum(1 for s in spans if s.conversation_id == c) == 4)
            finally:
                store.close()
            print(
                f"{count} collector(s): {total_spans / seconds:8.0f} spans/s acknowledged ({seconds:.2f} s); "
                f"stored {stored}/{total_spans}; {complete}/{len(sample)} sampled conversations hold all 4 spans"
            )
            if stored != total_spans or complete != len(sample):
                print("MISMATCH", file=sys.stderr)
                return 1
    finally:
        front.terminate()
        front.wait(30)
        subprocess.run(["rm", "-rf", data_dir], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
