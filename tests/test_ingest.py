"""OTLP ingest end to end: real SDK exporters -> real receivers -> the SQLite file."""

from __future__ import annotations

import json

from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import read_db


def test_grpc_export_is_stored_with_genai_columns(server, make_provider):
    tracer = make_provider(server, headers={"project_id": "proj-a"}).get_tracer("agent")
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.provider.name", "openai")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.response.model", "gpt-4o-2024-08-06")
        span.set_attribute("gen_ai.conversation.id", "conv-1")
        span.set_attribute("gen_ai.usage.input_tokens", 12)
        span.set_attribute("gen_ai.usage.output_tokens", 7)
        span.set_attribute(
            "gen_ai.input.messages",
            json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]),
        )
        span.set_status(Status(StatusCode.OK))
        trace_id = format(span.get_span_context().trace_id, "032x")

    rows = read_db(server.config.db, "SELECT * FROM spans")
    assert len(rows) == 1
    row = dict(rows[0])
    assert row["project_id"] == "proj-a"
    assert row["trace_id"] == trace_id
    assert row["kind"] == "CLIENT"
    assert row["status"] == "OK"
    assert row["conversation_id"] == "conv-1"
    assert (row["operation_name"], row["provider"], row["request_model"], row["response_model"]) == (
        "chat",
        "openai",
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    assert (row["input_tokens"], row["output_tokens"]) == (12, 7)
    content = json.loads(read_db(server.config.db, "SELECT content FROM span_details")[0]["content"])
    assert content["input_messages"] == [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]


def _tree_of_three(tracer, conversation_id: str = "conv-tree") -> str:
    """invoke_agent -> chat -> execute_tool, as an agent SDK emits them: only the root
    names the conversation, and the children end (and are exported) before it."""
    with tracer.start_as_current_span("invoke_agent planner") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.agent.name", "planner")
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            with tracer.start_as_current_span("execute_tool get_weather") as tool:
                tool.set_attribute("gen_ai.operation.name", "execute_tool")
                tool.set_attribute("gen_ai.tool.name", "get_weather")
        root.set_attribute("gen_ai.conversation.id", conversation_id)
        return format(root.get_span_context().trace_id, "032x")


def test_http_protobuf_export(server, make_provider):
    tracer = make_provider(server, transport="http", headers={"x-project-id": "proj-http"}).get_tracer("agent")
    trace_id = _tree_of_three(tracer)
    rows = read_db(server.config.db, "SELECT project_id, trace_id, name FROM spans ORDER BY start_ns")
    assert [tuple(r) for r in rows] == [
        ("proj-http", trace_id, "invoke_agent planner"),
        ("proj-http", trace_id, "chat gpt-4o"),
        ("proj-http", trace_id, "execute_tool get_weather"),
    ]


def test_gzip_on_both_transports(server, make_provider):
    for transport in ("grpc", "http"):
        tracer = make_provider(server, transport=transport, compression="gzip").get_tracer("agent")
        _tree_of_three(tracer, conversation_id=f"conv-{transport}")
    rows = read_db(server.config.db, "SELECT conversation_id, count(*) AS n FROM spans GROUP BY 1 ORDER BY 1")
    assert [tuple(r) for r in rows] == [("conv-grpc", 3), ("conv-http", 3)]


def test_children_exported_before_the_root_join_its_conversation(server, make_provider):
    tracer = make_provider(server).get_tracer("agent")
    trace_id = _tree_of_three(tracer)
    rows = read_db(
        server.config.db,
        "SELECT name, conversation_id, conversation_source FROM spans WHERE trace_id = ? ORDER BY start_ns",
        (trace_id,),
    )
    # Each span came in its own request, the root last; all three are in the conversation.
    assert [tuple(r) for r in rows] == [
        ("invoke_agent planner", "conv-tree", 1),
        ("chat gpt-4o", "conv-tree", 2),
        ("execute_tool get_weather", "conv-tree", 2),
    ]


def test_later_spans_of_a_named_trace_join_it_too(server, make_provider):
    tracer = make_provider(server).get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent") as root:
        root.set_attribute("gen_ai.conversation.id", "conv-early")
        trace_id = format(root.get_span_context().trace_id, "032x")
    # A span of the same trace exported after the root (e.g. a late async child).
    from opentelemetry import trace

    with tracer.start_as_current_span("late child", context=trace.set_span_in_context(root)):
        pass
    rows = read_db(server.config.db, "SELECT conversation_id FROM spans WHERE trace_id = ?", (trace_id,))
    assert [r["conversation_id"] for r in rows] == ["conv-early", "conv-early"]


def test_a_trace_without_conversation_is_its_own_conversation(server, make_provider):
    tracer = make_provider(server).get_tracer("agent")
    with tracer.start_as_current_span("plain http call") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    rows = read_db(server.config.db, "SELECT conversation_id, conversation_source FROM spans")
    assert [tuple(r) for r in rows] == [(trace_id, 0)]
