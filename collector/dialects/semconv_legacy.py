"""Older OpenTelemetry GenAI conventions, still emitted by many SDKs.

- `gen_ai.usage.prompt_tokens` / `gen_ai.usage.completion_tokens` (before v1.27).
- `gen_ai.prompt` / `gen_ai.completion` (v1.26-v1.27): a JSON message list or text, as
  span attributes or on the span events `gen_ai.content.prompt` / `gen_ai.content.completion`.
- The per-message events of v1.28-v1.36 (`gen_ai.system.message`, `gen_ai.user.message`,
  `gen_ai.assistant.message`, `gen_ai.tool.message`, `gen_ai.choice`), when they reach us
  as span events. (`gen_ai.system`, the old name of `gen_ai.provider.name`, is read by
  `semconv`.) The current conventions win where both are present: this adapter runs after.
"""

from __future__ import annotations

from otelite.collector.dialects.messages import event_body, message_from_event, openai_messages
from otelite.collector.genai import GenAI, Message, as_int
from otelite.proto.records import SpanRecord

PROMPT_EVENT = "gen_ai.content.prompt"
COMPLETION_EVENT = "gen_ai.content.completion"


# Every attribute this adapter reads; it reads events too.
KEYS = ("gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens", "gen_ai.prompt", "gen_ai.completion")


def apply(span: SpanRecord, genai: GenAI) -> None:
    # Most spans carry none of this dialect: `read` would set nothing on them.
    if span.events or not span.attributes.keys().isdisjoint(KEYS):
        read(span, genai)


def read(span: SpanRecord, genai: GenAI) -> None:
    attrs = span.attributes
    genai.set("input_tokens", as_int(attrs.get("gen_ai.usage.prompt_tokens")))
    genai.set("output_tokens", as_int(attrs.get("gen_ai.usage.completion_tokens")))

    genai.set("input_messages", openai_messages(attrs.get("gen_ai.prompt"), "user"))
    genai.set("output_messages", openai_messages(attrs.get("gen_ai.completion"), "assistant"))

    inputs: list[Message] = []
    outputs: list[Message] = []
    for event in span.events:
        if event.name == PROMPT_EVENT:
            inputs.extend(openai_messages(event.attributes.get("gen_ai.prompt"), "user") or [])
        elif event.name == COMPLETION_EVENT:
            outputs.extend(openai_messages(event.attributes.get("gen_ai.completion"), "assistant") or [])
        else:
            found = message_from_event(event.name, event_body(event.attributes))
            if found is not None:
                (inputs if found[0] == "input" else outputs).append(found[1])
    genai.set("input_messages", inputs)
    genai.set("output_messages", outputs)
