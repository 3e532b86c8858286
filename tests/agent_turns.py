"""Build agent turns the way an instrumented agent emits them, with the real OTel SDK.

One turn is one trace: `invoke_agent` (the root, naming the conversation) around a
model call that asks for a tool, the `execute_tool` span, and a second model call that
answers. Children end, and are exported, before the root, so every turn also exercises
conversation adoption. Times are explicit so tests can assert exact JSON.
"""

from __future__ import annotations

import json

from opentelemetry import trace
from opentelemetry.sdk.trace import Tracer
from opentelemetry.trace import SpanKind, Status, StatusCode

T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
MS = 1_000_000


def text(role: str, content: str) -> dict[str, object]:
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def agent_turn(
    tracer: Tracer,
    conversation_id: str | None,
    start_ms: int,
    user_text: str,
    answer: str,
    *,
    history: list[dict[str, object]] = (),  # type: ignore[assignment]
    agent: str = "weather-agent",
    model: str = "gpt-4o",
    tool_fails: bool = False,
) -> str:
    """Emit one turn starting `start_ms` after T0; returns its trace id (hex)."""

    def at(ms: int) -> int:
        return T0 + (start_ms + ms) * MS

    attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent}
    if conversation_id is not None:
        attributes["gen_ai.conversation.id"] = conversation_id
    root = tracer.start_span(f"invoke_agent {agent}", start_time=at(0), attributes=attributes)
    inside = trace.set_span_in_context(root)
    call = {"type": "tool_call", "id": f"call_{start_ms}", "name": "get_weather", "arguments": {"city": "Paris"}}
    messages = [*history, text("user", user_text)]

    first = tracer.start_span(f"chat {model}", context=inside, kind=SpanKind.CLIENT, start_time=at(10))
    _chat_attributes(first, agent, model, 100, 20, messages, [{"role": "assistant", "parts": [call]}])
    first.end(end_time=at(110))

    tool = tracer.start_span("execute_tool get_weather", context=inside, kind=SpanKind.INTERNAL, start_time=at(120))
    tool.set_attributes(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.agent.name": agent,
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": call["id"],
            "gen_ai.tool.call.arguments": json.dumps(call["arguments"]),
        }
    )
    if tool_fails:
        tool.set_status(Status(StatusCode.ERROR, "weather service unavailable"))
    else:
        tool.set_attribute("gen_ai.tool.call.result", json.dumps({"temperature_c": 18}))
    tool.end(end_time=at(150))

    response = {"type": "tool_call_response", "id": call["id"], "response": {"temperature_c": 18}}
    second = tracer.start_span(f"chat {model}", context=inside, kind=SpanKind.CLIENT, start_time=at(160))
    _chat_attributes(
        second,
        agent,
        model,
        150,
        30,
        [*messages, {"role": "assistant", "parts": [call]}, {"role": "tool", "parts": [response]}],
        [text("assistant", answer)],
    )
    second.end(end_time=at(260))

    root.end(end_time=at(300))
    return format(root.get_span_context().trace_id, "032x")


def _chat_attributes(span, agent, model, input_tokens, output_tokens, input_messages, output_messages) -> None:
    span.set_attributes(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.agent.name": agent,
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.response.model": f"{model}-2024-08-06",
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.input.messages": json.dumps(input_messages),
            "gen_ai.output.messages": json.dumps(output_messages),
        }
    )
