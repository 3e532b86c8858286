"""Ingest promises, on every store backend: SQLite and ClickHouse (chdb, the real engine).

Real SDK exporters send to a real otelite whose store is the parametrised backend; the
assertions read the store back as the API would (`stored_spans`), so the same test
states the same promise for both.
"""

from __future__ import annotations

import json
import threading

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from store.model import SpanRow
from tests.conftest import BACKENDS, stored_spans

pytestmark = pytest.mark.parametrize("store_backend", BACKENDS, indirect=True)


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_export_is_stored_with_genai_columns(server, make_provider, transport):
    tracer = make_provider(server, transport=transport, headers={"project_id": "proj-a"}).get_tracer("agent")
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.provider.name", "openai")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.conversation.id", "conv-1")
        span.set_attribute("gen_ai.usage.input_tokens", 12)
        span.set_attribute("gen_ai.usage.output_tokens", 7)
        span.set_attribute(
            "gen_ai.input.messages",
            json.dumps([{"role": "user", "parts": [{"type": "text", "content": "It's \"quoted\"\n\\ and ü"}]}]),
        )
        span.set_status(Status(StatusCode.OK))
        trace_id = format(span.get_span_context().trace_id, "032x")

    [row] = stored_spans(server.store)
    assert (row["project_id"], row["trace_id"], row["kind"], row["status"]) == ("proj-a", trace_id, "CLIENT", "OK")
    assert (row["conversation_id"], row["conversation_source"]) == ("conv-1", 1)
    assert (row["operation_name"], row["provider"], row["request_model"]) == ("chat", "openai", "gpt-4o")
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (12, 7, None)
    assert row["parent_span_id"] is None
    assert row["content"]["input_messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "It's \"quoted\"\n\\ and ü"}]}
    ]
    assert server.store.count_spans("proj-a") == 1
    assert server.store.count_spans("proj-b") == 0


def test_a_retried_export_is_stored_once(server):
    # The SDK finishes two spans; its OTLP exporter then sends the same batch three
    # times, as it does when an acknowledgement is lost.
    captured = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(captured))
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent") as root:
        root.set_attribute("gen_ai.conversation.id", "conv-retry")
        with tracer.start_as_current_span("chat"):
            pass
    spans = captured.get_finished_spans()
    grpc = GrpcExporter(endpoint=f"127.0.0.1:{server.grpc_port}", insecure=True)
    http = HttpExporter(endpoint=f"{server.http_url}/v1/traces")
    assert [grpc.export(spans), http.export(spans), grpc.export(spans)] == [SpanExportResult.SUCCESS] * 3
    grpc.shutdown()
    http.shutdown()

    assert server.store.count_spans() == 2
    assert [(r["name"], r["conversation_id"]) for r in stored_spans(server.store)] == [
        ("invoke_agent", "conv-retry"),
        ("chat", "conv-retry"),
    ]


def test_children_exported_before_the_root_join_its_conversation(server, make_provider):
    # SimpleSpanProcessor exports each span as it ends: the tool and model spans reach
    # otelite in earlier requests than the root that names the conversation.
    tracer = make_provider(server, transport="http").get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent planner") as root:
        with tracer.start_as_current_span("execute_tool search") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
        with tracer.start_as_current_span("chat gpt-4o"):
            pass
        assert server.store.count_spans() == 2  # already stored, conversation not yet known
        root.set_attribute("gen_ai.conversation.id", "conv-late")
    with tracer.start_as_current_span("unrelated trace") as other:
        other_trace = format(other.get_span_context().trace_id, "032x")

    rows = {r["name"]: r for r in stored_spans(server.store)}
    assert {name: (r["conversation_id"], r["conversation_source"]) for name, r in rows.items()} == {
        "invoke_agent planner": ("conv-late", 1),
        "execute_tool search": ("conv-late", 2),
        "chat gpt-4o": ("conv-late", 2),
        # No span of this trace names a conversation: the trace is its own.
        "unrelated trace": (other_trace, 0),
    }


def _row(span_id: str, trace_id: str = "a" * 32, **fields: object) -> SpanRow:
    values: dict[str, object] = dict(
        project_id="p",
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=None,
        name="chat",
        kind="CLIENT",
        start_ns=1_750_000_000_000_000_000,
        end_ns=1_750_000_000_250_000_000,
        status="UNSET",
        status_message="",
    )
    values.update(fields)
    return SpanRow(**values)  # type: ignore[arg-type]


def test_the_last_write_of_a_span_wins(make_store):
    store = make_store()
    store.write_spans([_row("1" * 16, output_tokens=5, status="UNSET")])
    store.write_spans([_row("1" * 16, output_tokens=9, status="ERROR", content={"output_messages": []})])
    [row] = stored_spans(store)
    assert (row["output_tokens"], row["status"], row["content"]) == (9, "ERROR", {"output_messages": []})
    assert row["duration_ms"] == 250


def test_spans_survive_a_restart_and_migrations_run_once(make_store):
    first = make_store()
    first.write_spans([_row("1" * 16, conversation_id="c"), _row("2" * 16)])
    first.close()
    again = make_store()
    assert again.count_spans() == 2
    assert [r["conversation_id"] for r in stored_spans(again)] == ["c", "c"]


def test_several_writers_share_one_store(make_store):
    # Stateless collectors behind a load balancer: each has its own store connection.
    writers = [make_store() for _ in range(3)]

    def write(n: int) -> None:
        for batch in range(5):
            writers[n].write_spans(
                [_row(f"{n:04d}{batch:04d}{i:08d}", trace_id=f"{n:032x}", conversation_id=f"c{n}") for i in range(20)]
            )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writers[0].count_spans() == 3 * 5 * 20
    assert {r["conversation_id"] for r in stored_spans(writers[1])} == {"c0", "c1", "c2"}
