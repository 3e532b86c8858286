"""No dialect adapter raises on odd values: whatever an SDK sends, the span is stored.

normalize() would catch an adapter's exception and log it; this asserts none is ever
raised, by running every adapter over every key it reads, with values of every shape.
"""

from __future__ import annotations

import json
import logging

import pytest

from otelite.collector.normalize import normalize
from otelite.proto.records import SpanEvent, SpanRecord

KEYS = [
    "gen_ai.operation.name",
    "gen_ai.conversation.id",
    "gen_ai.system",
    "gen_ai.usage.input_tokens",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.prompt.0.content",
    "gen_ai.prompt.0.tool_calls",
    "gen_ai.completion.0.tool_calls.0.arguments",
    "gen_ai.completion.x.role",
    "openinference.span.kind",
    "llm.input_messages.0.message.contents",
    "llm.input_messages.0.message.tool_calls",
    "llm.output_messages.0.message.contents.0.message_content.image",
    "llm.input_messages",
    "llm.tools.0.tool.json_schema",
    "llm.invocation_parameters",
    "input.value",
    "output.value",
    "input.mime_type",
    "tool.name",
    "traceloop.span.kind",
    "traceloop.entity.input",
    "llm.request.functions.0.parameters",
    "llm.request.type",
    "ai.operationId",
    "ai.prompt",
    "ai.prompt.messages",
    "ai.prompt.tools",
    "ai.response.toolCalls",
    "ai.toolCall.args",
    "logfire.msg_template",
    "events",
    "tools",
    "weave.compaction.items_before",
]
VALUES = [
    None,
    0,
    -1,
    1.5,
    float("nan"),
    True,
    "",
    "[",
    "{}",
    "null",
    "[null]",
    "[1, 2]",
    [],
    {},
    [1, "x"],
    ["a", "b"],
    {"a": {"b": []}},
    {"messages": 3},
    {"choices": [None, 1]},
    "LLM",
    "TOOL",
    "AGENT",
    "agent",
    "tool",
    "ai.toolCall",
    "Agent run: {name!r}",
    "Handoff: x",
    "Responses API",
    json.dumps([{"role": 5, "parts": "x"}]),
    json.dumps([{"role": "user", "content": [1, {"type": 5}, {"type": "image_url", "image_url": 3}]}]),
    json.dumps([{"role": "tool", "content": [{"type": "tool-result", "output": None}]}, {"tool_calls": "x"}]),
    json.dumps({"system": 1, "messages": "x", "prompt": [None]}),
    json.dumps({"args": 1, "kwargs": None}),
]


def span(
    attributes: dict[str, object], events: list[SpanEvent] | None = None, name: str = "ai.generateText"
) -> SpanRecord:
    return SpanRecord(
        trace_id="0" * 31 + "1",
        span_id="0" * 15 + "1",
        parent_span_id=None,
        name=name,
        kind="INTERNAL",
        start_ns=1,
        end_ns=2,
        status_code="UNSET",
        status_message="",
        attributes=attributes,
        events=events or [],
        links=[],
        resource={},
        scope_name="openinference.instrumentation.openai_agents",
        scope_version="",
    )


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_adapters_never_raise(value, caplog):
    caplog.set_level(logging.ERROR, logger="otelite.normalize")
    for key in KEYS:
        for kind in ("LLM", "TOOL", "AGENT"):
            attrs = {key: value, "openinference.span.kind": kind, "traceloop.span.kind": kind.lower()}
            row = normalize(span(attrs), "p")
            assert row.attributes == attrs  # every attribute kept as sent
        events = [
            SpanEvent(name, 1, {"gen_ai.event.content": value, "content": value, "message": value, "tool_calls": value})
            for name in (
                "gen_ai.user.message",
                "gen_ai.tool.message",
                "gen_ai.choice",
                "gen_ai.content.prompt",
                "gen_ai.client.inference.operation.details",
            )
        ]
        normalize(span({key: value, "logfire.msg_template": "Responses API with x", "events": value}, events), "p")
        normalize(span({key: value}, name="handoff to x"), "p")
    assert [r.getMessage() for r in caplog.records] == []


def test_odd_content_stays_readable():
    # A JSON document that is no message list is shown as the text that was sent.
    row = normalize(span({"gen_ai.prompt": '{"answer": 42}', "gen_ai.completion": "42"}, name="llm"), "p")
    assert row.content == {
        "input_messages": [{"role": "user", "parts": [{"type": "text", "content": '{"answer": 42}'}]}],
        "output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": "42"}]}],
    }
    # Indexed keys with gaps, and non-index keys beside them (OpenLLMetry's prompt_filter_results).
    row = normalize(
        span(
            {
                "gen_ai.prompt.3.content": "later",
                "gen_ai.prompt.1.content": "first",
                "gen_ai.prompt.prompt_filter_results": "[]",
            },
            name="llm",
        ),
        "p",
    )
    assert row.content["input_messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "first"}]},
        {"role": "user", "parts": [{"type": "text", "content": "later"}]},
    ]
