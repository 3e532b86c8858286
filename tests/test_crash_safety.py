"""Crash safety: every span whose Export was acknowledged survives kill -9 and SIGTERM.

`otelite serve` runs as a real subprocess; a real OTLP gRPC exporter streams batches
from two threads and records which Export calls returned SUCCESS. Then the process is
killed mid-stream.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import read_db

LISTENING = re.compile(r"OTLP/gRPC on [^ ]+:(\d+), OTLP/HTTP and API on (http://\S+),")


def start_serve(db: Path, *flags: str) -> tuple[subprocess.Popen[str], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELITE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "otelite.cli", "serve", "--db", str(db), "--grpc-port", "0", "--http-port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = LISTENING.search(line)
    assert match, f"otelite did not start: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
    return proc, int(match.group(1))


def make_batches(count: int, size: int) -> list[list[ReadableSpan]]:
    """Spans made by the real SDK, the way an agent would emit them."""
    finished = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(finished))
    tracer = provider.get_tracer("crash-test")
    for turn in range(count * size):
        with tracer.start_as_current_span("chat gpt-4o") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.conversation.id", f"conv-{turn % 7}")
            span.set_attribute("gen_ai.usage.input_tokens", turn)
    spans = list(finished.get_finished_spans())
    return [spans[i : i + size] for i in range(0, len(spans), size)]


class Streamer:
    """Exports batches from several threads; remembers the span ids of acknowledged ones."""

    def __init__(self, grpc_port: int, batches: list[list[ReadableSpan]], threads: int = 2) -> None:
        self.batches = batches
        self.acked: set[str] = set()
        self.acked_batches = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._next = 0
        self._exporters = [
            OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=2) for _ in range(threads)
        ]
        self._threads = [threading.Thread(target=self._run, args=(e,)) for e in self._exporters]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_for_acks(self, batches: int) -> None:
        while self.acked_batches < batches and any(t.is_alive() for t in self._threads):
            self.stop.wait(0.01)

    def finish(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join()
        for exporter in self._exporters:
            exporter.shutdown()

    def _run(self, exporter: OTLPSpanExporter) -> None:
        while not self.stop.is_set():
            with self._lock:
                if self._next >= len(self.batches):
                    return
                batch = self.batches[self._next]
                self._next += 1
            if exporter.export(batch) is SpanExportResult.SUCCESS:
                with self._lock:
                    self.acked.update(format(s.context.span_id, "016x") for s in batch)
                    self.acked_batches += 1


def stored_span_ids(db: Path) -> set[str]:
    return {row["span_id"] for row in read_db(db, "SELECT span_id FROM spans")}


def integrity(db: Path) -> str:
    return read_db(db, "PRAGMA integrity_check")[0][0]


# Ingest in worker processes (the default) and on one thread of the server (processes: 0).
@pytest.mark.parametrize("processes", ["2", "0"], ids=["workers", "in-process"])
def test_kill_9_mid_stream_loses_no_acknowledged_span(tmp_path, processes):
    db = tmp_path / "otelite.db"
    batches = make_batches(count=400, size=20)
    proc, grpc_port = start_serve(db, "--ingest-processes", processes)
    streamer = Streamer(grpc_port, batches)
    streamer.start()
    streamer.wait_for_acks(15)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    streamer.finish()
    assert proc.returncode == -signal.SIGKILL
    assert streamer.acked_batches >= 15
    assert streamer.acked_batches < len(batches), "the stream had ended before the kill"

    # A restart recovers the WAL and serves on; nothing acknowledged is missing.
    proc, _ = start_serve(db)
    try:
        stored = stored_span_ids(db)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
    assert streamer.acked <= stored
    assert len(streamer.acked) == 20 * streamer.acked_batches
    assert integrity(db) == "ok"
    assert proc.returncode == 0


def test_sigterm_mid_stream_flushes_every_accepted_span_and_exits_0(tmp_path):
    db = tmp_path / "otelite.db"
    batches = make_batches(count=400, size=20)
    proc, grpc_port = start_serve(db)
    streamer = Streamer(grpc_port, batches)
    streamer.start()
    streamer.wait_for_acks(15)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    streamer.finish()
    assert proc.returncode == 0, err
    assert "every accepted span is written" in out
    assert streamer.acked_batches < len(batches), "the stream had ended before SIGTERM"
    assert streamer.acked <= stored_span_ids(db)
    assert integrity(db) == "ok"
