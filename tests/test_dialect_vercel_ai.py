"""Vercel AI SDK (`experimental_telemetry: {isEnabled: true}`).

The AI SDK is TypeScript only: there is no Python emitter to run. These spans are built
with the real OTel SDK from the attribute names in the SDK's telemetry docs
(ai-sdk.dev/docs/ai-sdk-core/telemetry, "Collected Data"): string and number
attributes, JSON as strings, exactly as the JS SDK sets them.
"""

from __future__ import annotations

import json

from opentelemetry.trace import SpanKind

from tests.openai_expected import SYSTEM_MSG, TOOL_CALL, TOOL_DEFINITION
from tests.openai_stub import stored_spans

TOOL_JSON = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "inputSchema": TOOL_DEFINITION["parameters"],
}
SYSTEM = {"role": "system", "content": "You are a weather bot."}
USER = {"role": "user", "content": [{"type": "text", "text": "What is the weather in Paris?"}]}
CALL = {
    "role": "assistant",
    "content": [
        {"type": "tool-call", "toolCallId": "call_weather_1", "toolName": "get_weather", "input": {"city": "Paris"}}
    ],
}
RESULT = {
    "role": "tool",
    "content": [
        {
            "type": "tool-result",
            "toolCallId": "call_weather_1",
            "toolName": "get_weather",
            "output": {"type": "json", "value": {"temperature_c": 21}},
        }
    ],
}
BASIC = {
    "ai.model.id": "gpt-4o-mini",
    "ai.model.provider": "openai.chat",
    "ai.telemetry.functionId": "weather-agent",
    "ai.telemetry.metadata.sessionId": "chat-9",
}


def do_generate(tracer, messages, response, usage):
    with tracer.start_as_current_span("ai.generateText.doGenerate", kind=SpanKind.CLIENT) as span:
        span.set_attributes(
            {
                **BASIC,
                "operation.name": "ai.generateText.doGenerate weather-agent",
                "ai.operationId": "ai.generateText.doGenerate",
                "ai.prompt.messages": json.dumps(messages),
                "ai.prompt.tools": [json.dumps(TOOL_JSON)],
                "ai.response.model": "gpt-4o-mini-2024-07-18",
                "ai.usage.inputTokens": usage[0],
                "ai.usage.outputTokens": usage[1],
                "ai.usage.reasoningTokens": usage[2],
                "gen_ai.system": "openai.chat",
                "gen_ai.request.model": "gpt-4o-mini",
                **response,
            }
        )


def test_generate_text_with_a_tool_loop(server, make_provider):
    tracer = make_provider(server, transport="http").get_tracer("ai")
    with tracer.start_as_current_span("ai.generateText") as outer:
        outer.set_attributes(
            {
                **BASIC,
                "operation.name": "ai.generateText weather-agent",
                "ai.operationId": "ai.generateText",
                "ai.prompt": json.dumps(
                    {"system": "You are a weather bot.", "prompt": "What is the weather in Paris?"}
                ),
                "ai.response.text": "It is sunny in Paris.",
                "ai.response.finishReason": "stop",
            }
        )
        do_generate(
            tracer,
            [SYSTEM, USER],
            {
                "ai.response.toolCalls": json.dumps(
                    [{"toolCallId": "call_weather_1", "toolName": "get_weather", "input": '{"city": "Paris"}'}]
                ),
                "ai.response.finishReason": "tool-calls",
            },
            (42, 17, 5),
        )
        with tracer.start_as_current_span("ai.toolCall") as tool:
            tool.set_attributes(
                {
                    "operation.name": "ai.toolCall weather-agent",
                    "ai.operationId": "ai.toolCall",
                    "ai.toolCall.name": "get_weather",
                    "ai.toolCall.id": "call_weather_1",
                    "ai.toolCall.input": '{"city":"Paris"}',
                    "ai.toolCall.output": '{"temperature_c":21}',
                }
            )
        do_generate(
            tracer,
            [SYSTEM, USER, CALL, RESULT],
            {"ai.response.text": "It is sunny in Paris.", "ai.response.finishReason": "stop"},
            (61, 9, 3),
        )

    outer_row, first, tool, second = stored_spans(server.config.sqlite_path)
    assert [r["operation_name"] for r in (outer_row, first, tool, second)] == [
        "invoke_agent",
        "chat",
        "execute_tool",
        "chat",
    ]
    assert {r["conversation_id"] for r in (outer_row, first, tool, second)} == {"chat-9"}
    assert (outer_row["agent_name"], outer_row["provider"], outer_row["request_model"]) == (
        "weather-agent",
        "openai.chat",
        "gpt-4o-mini",
    )
    assert outer_row["content"]["system_instructions"] == [{"type": "text", "content": "You are a weather bot."}]
    assert outer_row["content"]["input_messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}
    ]
    assert (first["response_model"], first["input_tokens"], first["output_tokens"], first["reasoning_tokens"]) == (
        "gpt-4o-mini-2024-07-18",
        42,
        17,
        5,
    )
    user = {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}
    assert first["content"]["input_messages"] == [SYSTEM_MSG, user]
    assert first["content"]["output_messages"] == [
        {"role": "assistant", "parts": [TOOL_CALL], "finish_reason": "tool-calls"}
    ]
    assert first["content"]["tool_definitions"] == [TOOL_DEFINITION]
    assert (tool["tool_name"], tool["tool_call_id"]) == ("get_weather", "call_weather_1")
    assert (tool["content"]["tool_arguments"], tool["content"]["tool_result"]) == (
        '{"city":"Paris"}',
        '{"temperature_c":21}',
    )
    assert second["content"]["input_messages"][2:] == [
        {"role": "assistant", "parts": [TOOL_CALL]},
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_weather_1", "response": {"temperature_c": 21}}],
        },
    ]
    assert second["content"]["output_messages"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is sunny in Paris."}], "finish_reason": "stop"}
    ]


def test_ai_sdk_v4_names(server, make_provider):
    tracer = make_provider(server).get_tracer("ai")
    with tracer.start_as_current_span("ai.streamText.doStream") as span:
        span.set_attributes(
            {
                "ai.operationId": "ai.streamText.doStream",
                "ai.model.id": "claude-3-5-sonnet",
                "ai.model.provider": "anthropic.messages",
                "ai.telemetry.metadata.threadId": "thread-3",
                "ai.usage.promptTokens": 11,
                "ai.usage.completionTokens": 4,
                "ai.prompt.messages": json.dumps(
                    [{"role": "user", "content": [{"type": "image", "image": "https://example.com/cat.png"}]}]
                ),
                "ai.response.text": "A cat.",
            }
        )
    with tracer.start_as_current_span("ai.toolCall") as tool:
        tool.set_attributes(
            {
                "ai.operationId": "ai.toolCall",
                "ai.toolCall.name": "lookup",
                "ai.toolCall.args": '{"q":1}',
                "ai.toolCall.result": '"ok"',
            }
        )

    stream, tool_row = stored_spans(server.config.sqlite_path)
    assert (stream["operation_name"], stream["provider"], stream["conversation_id"]) == (
        "chat",
        "anthropic.messages",
        "thread-3",
    )
    assert (stream["input_tokens"], stream["output_tokens"]) == (11, 4)
    assert stream["content"]["input_messages"] == [
        {"role": "user", "parts": [{"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"}]}
    ]
    assert (tool_row["operation_name"], tool_row["content"]["tool_arguments"], tool_row["content"]["tool_result"]) == (
        "execute_tool",
        '{"q":1}',
        '"ok"',
    )
    assert tool_row["conversation_id"] == tool_row["trace_id"]  # a separate trace with no id: its own conversation
