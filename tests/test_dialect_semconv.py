"""OpenTelemetry GenAI semantic conventions, current and older forms.

Real emitter: opentelemetry-instrumentation-openai-v2 around the real `openai` client,
talking to a loopback OpenAI stub, exported by the real OTLP exporter into otelite.
Forms no installed Python emitter produces (structured AnyValue messages, the older
gen_ai.prompt / gen_ai.completion, per-message events on a span) are sent the way the
SDKs that do emit them send them: OTLP-JSON over HTTP, or the real SDK's span API.
"""

from __future__ import annotations

import json

import httpx
import pytest

from otelite.proto.encode import key_values  # OTLP-JSON AnyValues, structured as Go/JS/.NET SDKs send them
from tests.openai_expected import ANSWER_MSG, ASSISTANT_CALL, SYSTEM_MSG, TOOL_DEFINITION, TOOL_MSG, USER_MSG
from tests.openai_stub import OpenAIStub, openai_client, stored_spans, weather_chat

pytest.importorskip(
    "opentelemetry.instrumentation.openai_v2", reason="opentelemetry-instrumentation-openai-v2 not installed"
)


@pytest.fixture
def openai_v2(server, make_provider, monkeypatch):
    """Instrument with openai-v2; `instrument(**env)` reads its mode from the environment."""
    from opentelemetry.instrumentation._semconv import _OpenTelemetrySemanticConventionStability as Stability
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()

    def instrument(env: dict[str, str], **kwargs: object) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        # OTEL_SEMCONV_STABILITY_OPT_IN is read once per process: make it read ours.
        Stability._initialized = False
        instrumentor.instrument(tracer_provider=make_provider(server), **kwargs)

    yield instrument
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()  # it patches openai globally
    Stability._initialized = False  # and the next reader reads the environment again


def test_openai_v2_latest_conventions_put_messages_on_the_span(server, openai_v2):
    openai_v2(
        {
            "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
        }
    )
    with OpenAIStub() as stub:
        weather_chat(openai_client(stub))

    first, second = stored_spans(server.config.sqlite_path)
    for span in (first, second):
        assert span["name"] == "chat gpt-4o-mini"
        assert (span["operation_name"], span["provider"]) == ("chat", "openai")
        assert (span["request_model"], span["response_model"]) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
        assert span["conversation_id"] == span["trace_id"]  # no conversation id: the trace is one turn
    assert (first["input_tokens"], first["output_tokens"]) == (42, 17)
    assert (second["input_tokens"], second["output_tokens"]) == (61, 9)
    assert first["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG]
    assert first["content"]["output_messages"] == [{**ASSISTANT_CALL, "finish_reason": "tool_calls"}]
    assert second["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG, ASSISTANT_CALL, TOOL_MSG]
    assert second["content"]["output_messages"] == [{**ANSWER_MSG, "finish_reason": "stop"}]


class EventsOntoSpans:
    """A LogRecordProcessor that copies GenAI events onto the span they belong to.

    In its default (v1.30) mode openai-v2 sends message content as log-based events
    (`gen_ai.user.message`, `gen_ai.choice`...), and otelite receives traces only. Some
    pipelines and SDKs put these events on the span instead (Azure's SDKs do, with the
    body as the JSON attribute `gen_ai.event.content`); this does the same, so the real
    emitter's event bodies reach otelite unchanged.
    """

    def on_emit(self, log_record) -> None:
        from opentelemetry import trace

        record = log_record.log_record
        span = trace.get_current_span()
        if record.event_name and span.is_recording():
            attributes = dict(record.attributes or {})
            if record.body is not None:
                attributes["gen_ai.event.content"] = json.dumps(record.body)
            span.add_event(record.event_name, attributes)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def test_openai_v2_default_mode_per_message_events(server, openai_v2):
    from opentelemetry.sdk._logs import LoggerProvider

    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(EventsOntoSpans())
    openai_v2({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, logger_provider=logger_provider)
    with OpenAIStub() as stub:
        weather_chat(openai_client(stub))

    first, second = stored_spans(server.config.sqlite_path)
    assert (first["operation_name"], first["provider"], first["request_model"]) == ("chat", "openai", "gpt-4o-mini")
    assert first["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG]
    assert first["content"]["output_messages"] == [{**ASSISTANT_CALL, "finish_reason": "tool_calls"}]
    assert second["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG, ASSISTANT_CALL, TOOL_MSG]
    assert second["content"]["output_messages"] == [{**ANSWER_MSG, "finish_reason": "stop"}]


def post_otlp_json(server, spans: list[dict[str, object]]) -> None:
    body = {
        "resourceSpans": [
            {"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "dotnet-agent"}, "spans": spans}]}
        ]
    }
    response = httpx.post(f"{server.http_url}/v1/traces", json=body, trust_env=False)
    assert response.status_code == 200, response.text


def otlp_span(span_id: str, attributes: dict[str, object], events: list[dict[str, object]] = ()) -> dict[str, object]:
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": key_values(attributes),
        "events": [
            {
                "name": e["name"],
                "timeUnixNano": "1700000000500000000",
                "attributes": key_values(e["attributes"]),
            }
            for e in events
        ],
    }


def test_structured_anyvalue_messages_and_the_operation_details_event(server):
    messages = [
        USER_MSG,
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "call_weather_1", "name": "get_weather", "arguments": {"city": "Paris"}}
            ],
        },
    ]
    post_otlp_json(
        server,
        [
            # Messages as structured AnyValues on the span.
            otlp_span(
                "1111111111111111",
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.conversation.id": "conv-structured",
                    "gen_ai.usage.reasoning.output_tokens": 5,
                    "gen_ai.input.messages": messages,
                    "gen_ai.system_instructions": [{"type": "text", "content": "You are a weather bot."}],
                    "gen_ai.tool.definitions": [TOOL_DEFINITION],
                },
            ),
            # Messages only on the gen_ai.client.inference.operation.details event.
            otlp_span(
                "2222222222222222",
                {"gen_ai.operation.name": "chat", "gen_ai.system": "az.ai.inference"},
                [
                    {
                        "name": "gen_ai.client.inference.operation.details",
                        "attributes": {"gen_ai.input.messages": [USER_MSG], "gen_ai.output.messages": [ANSWER_MSG]},
                    }
                ],
            ),
        ],
    )
    structured, details = stored_spans(server.config.sqlite_path)
    assert (structured["conversation_id"], structured["reasoning_tokens"]) == ("conv-structured", 5)
    assert structured["content"] == {
        "input_messages": messages,
        "system_instructions": [{"type": "text", "content": "You are a weather bot."}],
        "tool_definitions": [TOOL_DEFINITION],
    }
    assert details["provider"] == "az.ai.inference"  # gen_ai.system, the older name
    assert details["content"] == {"input_messages": [USER_MSG], "output_messages": [ANSWER_MSG]}


def test_older_prompt_completion_and_message_event_forms(server, make_provider):
    tracer = make_provider(server).get_tracer("semantic-kernel")
    # v1.26-style: gen_ai.prompt / gen_ai.completion on the gen_ai.content.* span events
    # (Semantic Kernel), with the pre-v1.27 token names.
    with tracer.start_as_current_span("chat.completions gpt-4o") as span:
        span.set_attributes(
            {"gen_ai.system": "openai", "gen_ai.usage.prompt_tokens": 42, "gen_ai.usage.completion_tokens": 17}
        )
        span.add_event(
            "gen_ai.content.prompt",
            {"gen_ai.prompt": json.dumps([{"role": "user", "content": "What is the weather in Paris?"}])},
        )
        span.add_event(
            "gen_ai.content.completion",
            {"gen_ai.completion": json.dumps([{"role": "assistant", "content": "It is sunny in Paris."}])},
        )
    # gen_ai.prompt / gen_ai.completion as plain-text span attributes.
    with tracer.start_as_current_span("text_completion") as span:
        span.set_attributes({"gen_ai.prompt": "Say hi", "gen_ai.completion": "Hi!"})
    # Per-message events with the body's fields set directly as event attributes (Koog, Logfire).
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.add_event("gen_ai.system.message", {"content": "You are a weather bot."})
        span.add_event("gen_ai.user.message", {"content": "What is the weather in Paris?"})
        span.add_event(
            "gen_ai.assistant.message",
            {
                "tool_calls": json.dumps(
                    [
                        {
                            "id": "call_weather_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ]
                )
            },
        )
        span.add_event(
            "gen_ai.tool.message", {"id": "call_weather_1", "content": '{"temperature_c": 21, "sky": "sunny"}'}
        )
        span.add_event(
            "gen_ai.choice",
            {
                "index": 0,
                "finish_reason": "stop",
                "message": json.dumps({"role": "assistant", "content": "It is sunny in Paris."}),
            },
        )

    events, plain, per_message = stored_spans(server.config.sqlite_path)
    assert (events["provider"], events["input_tokens"], events["output_tokens"]) == ("openai", 42, 17)
    assert events["content"] == {"input_messages": [USER_MSG], "output_messages": [ANSWER_MSG]}
    assert plain["content"] == {
        "input_messages": [{"role": "user", "parts": [{"type": "text", "content": "Say hi"}]}],
        "output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": "Hi!"}]}],
    }
    assert per_message["content"] == {
        "input_messages": [SYSTEM_MSG, USER_MSG, ASSISTANT_CALL, TOOL_MSG],
        "output_messages": [{**ANSWER_MSG, "finish_reason": "stop"}],
    }
