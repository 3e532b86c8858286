"""A multi-turn agent conversation, emitted the way real SDKs emit it.

Four turns (traces) of conversation `conv-1`, each span ended (and so exported) before
its parent, with explicit timestamps so the expected JSON is exact:

1. "What's the weather in Paris?" -> triage reasons, calls get_weather (an execute_tool
   span with a plain HTTP child span), answers.
2. "And in Berlin?" with a photo (uri + file parts); the SDK re-sends the history;
   get_weather fails (status ERROR); the model apologises.
3. "I want a refund." -> triage answers with a tool_call part (no execute_tool span),
   hands off to billing (a handoff span), billing answers.
4. billing compacts its context (weave.compaction.*) and answers with an image (blob).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

# 2026-01-01T00:00:00Z
T0_NS = 1_767_225_600 * 1_000_000_000


# The project every test conversation is exported to.
PROJECT = "proj-a"


def at(ms: int) -> str:
    """The RFC 3339 form the API gives for T0 + ms."""
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    return f"2026-01-01T00:{minutes:02d}:{seconds:02d}.{millis:03d}000Z"


def user(*parts: dict[str, Any] | str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"type": "text", "content": p} if isinstance(p, str) else p for p in parts]}


def assistant(*parts: dict[str, Any] | str) -> dict[str, Any]:
    return {"role": "assistant", "parts": [{"type": "text", "content": p} if isinstance(p, str) else p for p in parts]}


def tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_response(call_id: str, response: Any) -> dict[str, Any]:
    return {"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id, "response": response}]}


@dataclass
class Recorder:
    """Starts and ends spans at exact offsets from T0; remembers their ids by label."""

    tracer: trace.Tracer
    ids: dict[str, str] = field(default_factory=dict)
    traces: list[str] = field(default_factory=list)

    def start(self, label: str, name: str, at_ms: int, parent: Span | None = None, **attrs: Any) -> Span:
        ctx = trace.set_span_in_context(parent) if parent is not None else otel_context.Context()
        attributes = {
            k.replace("__", "."): (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in attrs.items()
        }
        kind = SpanKind.CLIENT if attributes.get("gen_ai.operation.name") == "chat" else SpanKind.INTERNAL
        span = self.tracer.start_span(
            name, context=ctx, kind=kind, start_time=T0_NS + at_ms * 1_000_000, attributes=attributes
        )
        self.ids[label] = format(span.get_span_context().span_id, "016x")
        if parent is None:
            self.traces.append(format(span.get_span_context().trace_id, "032x"))
        return span

    def end(self, span: Span, at_ms: int, error: str | None = None) -> None:
        span.set_status(Status(StatusCode.ERROR, error) if error else Status(StatusCode.OK))
        span.end(end_time=T0_NS + at_ms * 1_000_000)


Q1 = user("What's the weather in Paris?")
A1 = assistant("It is 18°C and sunny in Paris.")
Q2 = user(
    "And in Berlin? Here is a photo of my street.",
    {"type": "uri", "modality": "image", "mime_type": "image/jpeg", "uri": "https://example.com/street.jpg"},
    {"type": "file", "modality": "image", "file_id": "file-abc123"},
)
A2 = assistant("Sorry, I could not get the weather for Berlin.")
Q3 = user("I want a refund for my umbrella.")
A3 = assistant("Your refund of 20 EUR is on its way.")
Q4 = user("Thanks! Can you show me the receipt?")
SYSTEM_TRIAGE = [{"type": "text", "content": "You answer weather questions and route refunds to billing."}]
SYSTEM_BILLING = [{"type": "text", "content": "You handle refunds."}]
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
COMMON = {"gen_ai__provider__name": "openai", "gen_ai__conversation__id": "conv-1"}


def emit_conversation(provider: TracerProvider) -> Recorder:
    r = Recorder(provider.get_tracer("agent-sdk"))
    triage = {**COMMON, "gen_ai__agent__name": "triage"}
    billing = {**COMMON, "gen_ai__agent__name": "billing"}

    # ---- turn 1 ----
    root = r.start(
        "t1.agent",
        "invoke_agent triage",
        0,
        gen_ai__operation__name="invoke_agent",
        gen_ai__request__model="gpt-4o",
        gen_ai__system_instructions=SYSTEM_TRIAGE,
        gen_ai__tool__definitions=TOOLS,
        gen_ai__input__messages=[Q1],
        **triage,
    )
    chat = r.start(
        "t1.chat1",
        "chat gpt-4o",
        100,
        root,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o",
        gen_ai__response__model="gpt-4o-2024-08-06",
        gen_ai__usage__input_tokens=50,
        gen_ai__usage__output_tokens=10,
        gen_ai__usage__reasoning__output_tokens=5,
        gen_ai__input__messages=[Q1],
        gen_ai__output__messages=[
            assistant(
                {"type": "reasoning", "content": "The user wants the weather; call get_weather."},
                tool_call("call_1", "get_weather", {"city": "Paris"}),
            )
        ],
        **triage,
    )
    r.end(chat, 900)
    tool = r.start(
        "t1.tool",
        "execute_tool get_weather",
        1000,
        root,
        gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="get_weather",
        gen_ai__tool__call__id="call_1",
        gen_ai__tool__call__arguments='{"city": "Paris"}',
        gen_ai__tool__call__result='{"temp_c": 18, "sky": "sunny"}',
    )
    http = r.start("t1.http", "GET api.weather.example", 1010, tool, http__request__method="GET")
    r.end(http, 1190)
    r.end(tool, 1200)
    chat = r.start(
        "t1.chat2",
        "chat gpt-4o",
        1300,
        root,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o",
        gen_ai__response__model="gpt-4o-2024-08-06",
        gen_ai__usage__input_tokens=80,
        gen_ai__usage__output_tokens=12,
        gen_ai__input__messages=[
            Q1,
            assistant(tool_call("call_1", "get_weather", {"city": "Paris"})),
            tool_response("call_1", {"temp_c": 18, "sky": "sunny"}),
        ],
        gen_ai__output__messages=[A1],
        **triage,
    )
    r.end(chat, 2900)
    r.end(root, 3000)

    # ---- turn 2: the history is re-sent; the tool fails ----
    history = [Q1, A1, Q2]
    root = r.start(
        "t2.agent",
        "invoke_agent triage",
        10_000,
        gen_ai__operation__name="invoke_agent",
        gen_ai__request__model="gpt-4o",
        gen_ai__input__messages=history,
        **triage,
    )
    chat = r.start(
        "t2.chat1",
        "chat gpt-4o",
        10_100,
        root,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o",
        gen_ai__response__model="gpt-4o-2024-08-06",
        gen_ai__usage__input_tokens=120,
        gen_ai__usage__output_tokens=9,
        gen_ai__input__messages=history,
        gen_ai__output__messages=[assistant(tool_call("call_2", "get_weather", {"city": "Berlin"}))],
        **triage,
    )
    r.end(chat, 10_800)
    tool = r.start(
        "t2.tool",
        "execute_tool get_weather",
        10_900,
        root,
        gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="get_weather",
        gen_ai__tool__call__id="call_2",
        gen_ai__tool__call__arguments='{"city": "Berlin"}',
        gen_ai__tool__call__result="weather service unavailable",
    )
    r.end(tool, 11_400, error="weather service unavailable")
    chat = r.start(
        "t2.chat2",
        "chat gpt-4o",
        11_500,
        root,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o",
        gen_ai__response__model="gpt-4o-2024-08-06",
        gen_ai__usage__input_tokens=140,
        gen_ai__usage__output_tokens=11,
        gen_ai__input__messages=[
            *history,
            assistant(tool_call("call_2", "get_weather", {"city": "Berlin"})),
            tool_response("call_2", "weather service unavailable"),
        ],
        gen_ai__output__messages=[A2],
        **triage,
    )
    r.end(chat, 13_900)
    r.end(root, 14_000)

    # ---- turn 3: tool_call part without an execute_tool span, then a handoff ----
    history = [Q1, A1, Q2, A2, Q3]
    transfer = assistant(tool_call("call_3", "transfer_to_billing", {}))
    root = r.start(
        "t3.agent",
        "invoke_agent triage",
        20_000,
        gen_ai__operation__name="invoke_agent",
        gen_ai__request__model="gpt-4o",
        gen_ai__input__messages=history,
        **triage,
    )
    chat = r.start(
        "t3.chat1",
        "chat gpt-4o",
        20_100,
        root,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o",
        gen_ai__response__model="gpt-4o-2024-08-06",
        gen_ai__usage__input_tokens=160,
        gen_ai__usage__output_tokens=7,
        gen_ai__input__messages=history,
        gen_ai__output__messages=[transfer],
        **triage,
    )
    r.end(chat, 20_500)
    handoff = r.start(
        "t3.handoff", "handoff from triage to billing", 20_600, root, gen_ai__operation__name="handoff", **COMMON
    )
    r.end(handoff, 20_610)
    agent = r.start(
        "t3.billing",
        "invoke_agent billing",
        20_700,
        root,
        gen_ai__operation__name="invoke_agent",
        gen_ai__request__model="gpt-4o-mini",
        gen_ai__system_instructions=SYSTEM_BILLING,
        **billing,
    )
    chat = r.start(
        "t3.chat2",
        "chat gpt-4o-mini",
        20_800,
        agent,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o-mini",
        gen_ai__response__model="gpt-4o-mini-2024-07-18",
        gen_ai__usage__input_tokens=170,
        gen_ai__usage__output_tokens=14,
        gen_ai__input__messages=[*history, transfer, tool_response("call_3", {"assistant": "billing"})],
        gen_ai__output__messages=[A3],
        **billing,
    )
    r.end(chat, 25_800)
    r.end(agent, 25_900)
    r.end(root, 26_000)

    # ---- turn 4: billing compacts its context, answers with an image ----
    compacted = [
        {
            "role": "system",
            "parts": [{"type": "text", "content": "Summary: weather in Paris and Berlin, refund of 20 EUR sent."}],
        },
        Q4,
    ]
    agent = r.start(
        "t4.billing",
        "invoke_agent billing",
        30_000,
        gen_ai__operation__name="invoke_agent",
        gen_ai__request__model="gpt-4o-mini",
        weave__compaction__items_before=12,
        weave__compaction__items_after=2,
        weave__compaction__summary="Weather in Paris and Berlin; refund of 20 EUR sent.",
        gen_ai__input__messages=[Q4],
        **billing,
    )
    chat = r.start(
        "t4.chat",
        "chat gpt-4o-mini",
        30_100,
        agent,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o-mini",
        gen_ai__response__model="gpt-4o-mini-2024-07-18",
        gen_ai__usage__input_tokens=40,
        gen_ai__usage__output_tokens=20,
        gen_ai__input__messages=compacted,
        gen_ai__output__messages=[
            assistant(
                "Here is your receipt.",
                {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="},
            )
        ],
        **billing,
    )
    r.end(chat, 33_900)
    r.end(agent, 34_000)
    return r
