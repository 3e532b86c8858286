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

from tests.openai_expected import ANSWER_MSG, ASSISTANT_CALL, SYSTEM_MSG, TOOL_MSG, USER_MSG
from tests.openai_stub import OpenAIStub, openai_client, stored_spans, weather_chat

pytest.importorskip("opentelemetry.instrumentation.openai_v2", reason="opentelemetry-instrumentation-openai-v2 not installed")


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

    first, second = stored_spans(server.config.db)
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

    first, second = stored_spans(server.config.db)
    assert (first["operation_name"], first["provider"], first["request_model"]) == ("chat", "openai", "gpt-4o-mini")
    assert first["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG]
    assert first["content"]["output_messages"] == [{**ASSISTANT_CALL, "finish_reason": "tool_calls"}]
    assert second["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG, ASSISTANT_CALL, TOOL_MSG]
    assert second["content"]["output_messages"] == [{**ANSWER_MSG, "finish_reason": "stop"}]
