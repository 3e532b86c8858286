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
