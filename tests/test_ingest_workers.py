"""Ingest worker processes (`writer.processes`, 2 by default on SQLite): what they must
keep true beyond what the rest of the suite already shows through them (every test's
server on SQLite ingests through workers unless it says `processes: 0`).

- several workers committing in turn still put a trace's spans, exported children
  first and in separate requests, into the conversation its root names;
- a worker that dies fails only the requests it held, with UNAVAILABLE (retryable), and
  is replaced; nothing acknowledged is lost;
- the server stops them on shutdown, after they have committed what they took.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import read_db
from tests.test_backpressure import wait_for
from tests.test_ingest_errors import grpc_export, sdk_spans


def worker_pids() -> list[int]:
    """The ingest worker processes this (test) process runs: its children running
    otelite.collector.ingest_worker (a replaced worker has a new pid; a dead one that is
    not reaped yet has no command line)."""
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"otelite.collector.ingest_worker" in command:
                pids.append(int(pid))
    return sorted(pids)


def turn_spans(conversation: str):
    """One agent turn as an SDK emits it: the tool call and the model call end (and are
    exported) before the root, which names the conversation."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent helper") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.agent.name", "helper")
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.response.model", "gpt-4o")
            chat.set_attribute("gen_ai.usage.input_tokens", 10)
            chat.set_attribute(
                "gen_ai.output.messages", '[{"role": "assistant", "parts": [{"type": "text", "content": "Done"}]}]'
            )
            with tracer.start_as_current_span("execute_tool lookup") as tool:
                tool.set_attribute("gen_ai.operation.name", "execute_tool")
        root.set_attribute("gen_ai.conversation.id", conversation)
    provider.shutdown()
    return list(memory.get_finished_spans())  # tool, chat, root


def test_concurrent_exports_through_two_workers_land_in_their_conversations(make_server):
    server = make_server(writer={"processes": 2})
    assert len(worker_pids()) == 2
    conversations = [f"conv-{i}" for i in range(8)]

    def agent(conversation: str) -> None:
        for _ in range(5):
            for span in turn_spans(conversation):  # each span its own request, as with a batch size of one
                grpc_export(server, encode_spans([span]).SerializeToString())

    threads = [threading.Thread(target=agent, args=(c,)) for c in conversations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Every span, children first included, is in the conversation its root named, and
    # the list route's stats (kept in the same transactions) agree.
    stored = "SELECT conversation_id, count(*), count(DISTINCT trace_id) FROM spans GROUP BY 1 ORDER BY 1"
    assert [tuple(r) for r in read_db(server.config.sqlite_path, stored)] == [(c, 15, 5) for c in conversations]
    stats = "SELECT conversation_id, turns, spans FROM conversation_stats ORDER BY 1"
    assert [tuple(r) for r in read_db(server.config.sqlite_path, stats)] == [(c, 5, 15) for c in conversations]


def test_a_worker_that_dies_fails_only_its_requests_and_is_replaced(make_server):
    server = make_server(writer={"processes": 1})
    grpc_export(server, encode_spans(sdk_spans(2, conversation="before")).SerializeToString())
    (first,) = worker_pids()

    # Stop the worker, hand it a request, then kill it: it dies holding that request.
    os.kill(first, signal.SIGSTOP)
    outcome: dict[str, object] = {}

    def export() -> None:
        try:
            outcome["response"] = grpc_export(
                server, encode_spans(sdk_spans(3, conversation="lost")).SerializeToString()
            )
        except grpc.RpcError as exc:
            outcome["error"] = exc

    exporting = threading.Thread(target=export)
    exporting.start()
    wait_for(lambda: server.ingest.queued_bytes > 0, "the request to reach the worker")
    os.kill(first, signal.SIGKILL)
    exporting.join(10)

    error = outcome["error"]
    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # OTLP exporters retry this
    assert error.details() == "could not store the spans: ingest worker 0 exited"

    wait_for(lambda: worker_pids() not in ([], [first]), "a new worker")
    grpc_export(server, encode_spans(sdk_spans(3, conversation="lost")).SerializeToString())  # the exporter's retry
    stored = "SELECT conversation_id, count(*) FROM spans GROUP BY 1 ORDER BY 1"
    assert [tuple(r) for r in read_db(server.config.sqlite_path, stored)] == [("before", 2), ("lost", 3)]


def test_stop_lets_workers_commit_what_they_took_then_ends_them(make_server):
    server = make_server(writer={"processes": 2})
    pids = worker_pids()
    assert len(pids) == 2
    acknowledged = []

    def export(i: int) -> None:
        grpc_export(server, encode_spans(sdk_spans(4, conversation=f"c{i}")).SerializeToString())
        acknowledged.append(f"c{i}")

    threads = [threading.Thread(target=export, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.stop()

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone (and reaped)
    stored = "SELECT conversation_id, count(*) FROM spans GROUP BY 1 ORDER BY 1"
    assert [tuple(r) for r in read_db(server.config.sqlite_path, stored)] == [(c, 4) for c in sorted(acknowledged)]
    assert len(acknowledged) == 6


# ------------------------------------------------------------------ the store's side
#
# A worker prepares each request on its own (Store.prepare, before its turn at the lock),
# then commits several at once (Store.commit): that must give the same stored result as
# writing all their rows as one batch, including when one request names the conversation
# of a trace whose spans are in another, or carries a retry of another's span.


def _rows(spans, project: str = "default"):
    from otelite.collector.normalize import normalize
    from otelite.config import Config
    from otelite.proto import decode_protobuf

    decoded = decode_protobuf(encode_spans(spans).SerializeToString(), Config().limits.value_limits())
    return [normalize(span, project) for span in decoded.spans]


def _stored(path) -> list[list[tuple]]:
    return [
        [tuple(r) for r in read_db(path, sql)]
        for sql in (
            "SELECT trace_id, span_id, conversation_id, conversation_source FROM spans ORDER BY 1, 2",
            "SELECT * FROM conversation_stats ORDER BY 1, 2",
            "SELECT * FROM conversation_traces ORDER BY 1, 2, 3",
            "SELECT * FROM conversation_facets ORDER BY 1, 2, 3, 4",
            "SELECT * FROM trace_conversations ORDER BY 1, 2",
            "SELECT s.trace_id, s.span_id, f.text FROM span_text_fts f JOIN spans s ON s.id = f.rowid ORDER BY 1, 2",
        )
    ]


@pytest.mark.parametrize(
    "case",
    [
        "children and root in separate requests",
        "root first, then a late child",
        "a retried span",
        "two traces, one request each",
    ],
)
def test_merged_requests_are_stored_as_one_batch_would_be(tmp_path, case):
    from otelite.store.sqlite import SQLiteStore

    one, two = turn_spans("conv-a"), turn_spans("conv-b")
    earlier: list = []
    if case == "children and root in separate requests":
        requests = [_rows(one[:1]), _rows(one[1:])]
    elif case == "root first, then a late child":
        earlier = _rows(one[1:])  # the chat call and the root are stored by an earlier commit
        requests = [_rows(one[:1]), _rows(two)]
    elif case == "a retried span":
        requests = [_rows(one), _rows(one[:1])]
    else:
        requests = [_rows(one), _rows(two)]

    stores = {name: SQLiteStore(tmp_path / f"{name}.db") for name in ("merged", "one-batch")}
    try:
        for store in stores.values():
            if earlier:
                store.write_spans(earlier)
        merged = stores["merged"]
        merged.commit([merged.prepare(rows) for rows in requests])
        stores["one-batch"].write_spans([row for rows in requests for row in rows])
    finally:
        for store in stores.values():
            store.close()
    merged, reference = _stored(tmp_path / "merged.db"), _stored(tmp_path / "one-batch.db")
    assert merged == reference
    assert {conversation for _, _, conversation, _ in merged[0]} <= {"conv-a", "conv-b"}  # nothing left provisional
