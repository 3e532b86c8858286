"""OpenInference, from the real emitter: openinference-instrumentation-openai around the
real `openai` client, talking to a loopback OpenAI stub, exported by the real OTLP
exporter into a real otelite; then the stored rows are read back."""

from __future__ import annotations

import pytest

from tests.openai_expected import ANSWER_MSG, ASSISTANT_CALL, SYSTEM_MSG, TOOL_DEFINITION, TOOL_MSG, USER_MSG
from tests.openai_stub import OpenAIStub, openai_client, stored_spans, weather_chat

pytest.importorskip("openinference.instrumentation.openai", reason="openinference-instrumentation-openai not installed")


@pytest.fixture
def instrumented(server, make_provider):
    from openinference.instrumentation.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=make_provider(server))
    yield server
    instrumentor.uninstrument()  # it patches openai globally


def test_openinference_llm_spans_are_normalised(instrumented):
    from openinference.instrumentation import using_session

    with OpenAIStub() as stub, using_session("session-42"):
        weather_chat(openai_client(stub))

    first, second = stored_spans(instrumented.config.sqlite_path)
    for span in (first, second):
        assert span["name"] == "ChatCompletion"
        assert span["attributes"]["openinference.span.kind"] == "LLM"  # kept as sent
        assert (span["operation_name"], span["provider"], span["conversation_id"]) == ("chat", "openai", "session-42")
        # llm.invocation_parameters names the model asked for, llm.model_name the one that answered.
        assert (span["request_model"], span["response_model"]) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
        assert span["content"]["tool_definitions"] == [TOOL_DEFINITION]
    assert (first["input_tokens"], first["output_tokens"], first["reasoning_tokens"]) == (42, 17, 5)
    assert (second["input_tokens"], second["output_tokens"], second["reasoning_tokens"]) == (61, 9, 3)
    assert first["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG]
    assert first["content"]["output_messages"] == [ASSISTANT_CALL]
    assert second["content"]["input_messages"] == [SYSTEM_MSG, USER_MSG, ASSISTANT_CALL, TOOL_MSG]
    assert second["content"]["output_messages"] == [ANSWER_MSG]


def test_without_a_session_each_trace_is_its_own_conversation(instrumented):
    with OpenAIStub() as stub:
        weather_chat(openai_client(stub))

    spans = stored_spans(instrumented.config.sqlite_path)
    assert len(spans) == 2
    # No session.id: nothing is invented; the store files each trace under its own id.
    assert [s["conversation_id"] for s in spans] == [s["trace_id"] for s in spans]
    assert [s["conversation_source"] for s in spans] == [0, 0]
