"""OpenLLMetry (Traceloop).

Real emitter: Traceloop's opentelemetry-instrumentation-openai around the real `openai`
client and a loopback OpenAI stub. Its current releases write the semconv
`gen_ai.input.messages`; the flattened `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`
keys of earlier releases, and the `traceloop.*` keys that the traceloop-sdk's decorators
and association properties add (traceloop-sdk pulls in dozens of instrumentations, so
it is not installed here), are set through the real OTel SDK with the names from
opentelemetry-semantic-conventions-ai.
"""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import SpanKind

from tests.openai_expected import ANSWER_MSG, ASSISTANT_CALL, SYSTEM_MSG, TOOL_DEFINITION, TOOL_MSG, USER_MSG
from tests.openai_stub import OpenAIStub, openai_client, stored_spans, weather_chat

pytest.importorskip("opentelemetry.instrumentation.openai", reason="opentelemetry-instrumentation-openai not installed")


@pytest.fixture
def instrumented(server, make_provider):
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=make_provider(server))
    yield server
    instrumentor.uninstrument()  # it patches openai globally


def test_traceloop_openai_instrumentation(instrumented):
    with OpenAIStub() as stub:
        weather_chat(openai_client(stub))

    first, second = stored_spans(instrumented.config.sqlite_path)
    for span in (first, second):
        assert span["name"] == "openai.chat"
        assert (span["operation_name"], span["provider"]) == ("chat", "openai")
        assert (span["request_model"], span["response_model"]) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
        assert span["content"]["tool_definitions"] == [TOOL_DEFINITION]
    assert (first["input_tokens"], first["output_tokens"], first["reasoning_tokens"]) == (42, 17, 5)
    assert (second["input_tokens"], second["output_tokens"], second["reasoning_tokens"]) == (61, 9, 3)
    assert first["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG]
    assert first["content"]["output_messages"] == [{**ASSISTANT_CALL, "finish_reason": "tool_call"}]
    assert second["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG, ASSISTANT_CALL, TOOL_MSG]
    assert second["content"]["output_messages"] == [{**ANSWER_MSG, "finish_reason": "stop"}]


def test_flattened_prompt_and_traceloop_sdk_spans(server, make_provider):
    tracer = make_provider(server).get_tracer("opentelemetry.instrumentation.openai.v1")
    props = "traceloop.association.properties."
    with tracer.start_as_current_span("weather_agent.agent") as agent:
        agent.set_attributes(
            {"traceloop.span.kind": "agent", "traceloop.entity.name": "weather_agent", props + "thread_id": "thread-7"}
        )
        with tracer.start_as_current_span("openai.chat", kind=SpanKind.CLIENT) as llm:
            llm.set_attributes(
                {
                    "llm.request.type": "chat",
                    "gen_ai.system": "OpenAI",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.prompt.0.role": "system",
                    "gen_ai.prompt.0.content": "You are a weather bot.",
                    "gen_ai.prompt.1.role": "user",
                    "gen_ai.prompt.1.content": "What is the weather in Paris?",
                    "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.finish_reason": "tool_calls",
                    "gen_ai.completion.0.tool_calls.0.id": "call_weather_1",
                    "gen_ai.completion.0.tool_calls.0.name": "get_weather",
                    "gen_ai.completion.0.tool_calls.0.arguments": '{"city": "Paris"}',
                    "llm.request.functions.0.name": "get_weather",
                    "llm.request.functions.0.description": "Current weather for a city",
                    "llm.request.functions.0.parameters": json.dumps(TOOL_DEFINITION["parameters"]),
                    "gen_ai.usage.prompt_tokens": 42,
                    "gen_ai.usage.completion_tokens": 17,
                    "llm.usage.total_tokens": 59,
                }
            )
        with tracer.start_as_current_span("get_weather.tool") as tool:
            tool.set_attributes(
                {
                    "traceloop.span.kind": "tool",
                    "traceloop.entity.name": "get_weather",
                    "traceloop.entity.input": json.dumps({"args": [], "kwargs": {"city": "Paris"}}),
                    "traceloop.entity.output": '{"temperature_c": 21, "sky": "sunny"}',
                }
            )

    agent_row, llm_row, tool_row = stored_spans(server.config.sqlite_path)
    assert (agent_row["operation_name"], agent_row["agent_name"], agent_row["conversation_id"]) == (
        "invoke_agent",
        "weather_agent",
        "thread-7",
    )
    assert (llm_row["operation_name"], llm_row["provider"], llm_row["input_tokens"], llm_row["output_tokens"]) == (
        "chat",
        "OpenAI",
        42,
        17,
    )
    assert llm_row["conversation_id"] == "thread-7"  # inherited from its trace
    assert llm_row["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG]
    assert llm_row["content"]["output_messages"] == [{**ASSISTANT_CALL, "finish_reason": "tool_calls"}]
    assert llm_row["content"]["tool_definitions"] == [TOOL_DEFINITION]
    assert (tool_row["operation_name"], tool_row["tool_name"]) == ("execute_tool", "get_weather")
    assert tool_row["content"]["tool_arguments"] == '{"city":"Paris"}'
    assert tool_row["content"]["tool_result"] == '{"temperature_c": 21, "sky": "sunny"}'
