"""The OpenTelemetry GenAI semantic conventions (current, with `gen_ai.system` as the
older name of `gen_ai.provider.name`), plus Weave's context-compaction attributes and
a handoff rule (the conventions have no handoff yet)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from otelite.collector.dialects.messages import openai_message
from otelite.collector.genai import GenAI, Message, as_int, as_json_value, as_str, as_text, text_message
from otelite.proto.records import SpanRecord

INFERENCE_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
HANDOFF_NAME = re.compile(r"^handoff from (?P<from_agent>.+?) to (?P<to_agent>.+)$")


# The scalar fields: (GenAI field, attribute, converter), in order of precedence.
SCALARS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("operation_name", "gen_ai.operation.name", as_str),
    ("conversation_id", "gen_ai.conversation.id", as_str),
    ("agent_name", "gen_ai.agent.name", as_str),
    ("provider", "gen_ai.provider.name", as_str),
    ("provider", "gen_ai.system", as_str),
    ("request_model", "gen_ai.request.model", as_str),
    ("response_model", "gen_ai.response.model", as_str),
    ("input_tokens", "gen_ai.usage.input_tokens", as_int),
    ("output_tokens", "gen_ai.usage.output_tokens", as_int),
    ("reasoning_tokens", "gen_ai.usage.reasoning.output_tokens", as_int),
    ("tool_name", "gen_ai.tool.name", as_str),
    ("tool_call_id", "gen_ai.tool.call.id", as_str),
    ("tool_arguments", "gen_ai.tool.call.arguments", as_text),
    ("tool_result", "gen_ai.tool.call.result", as_text),
)


# The content fields, read from the span and then from its details events (lambdas: their
# readers are defined below).
CONTENT: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("input_messages", "gen_ai.input.messages", lambda value: messages(value, default_role="user")),
    ("output_messages", "gen_ai.output.messages", lambda value: messages(value, default_role="assistant")),
    ("system_instructions", "gen_ai.system_instructions", lambda value: parts(value)),
    ("tool_definitions", "gen_ai.tool.definitions", lambda value: as_list(value)),
)
COMPACTION_KEYS = ("weave.compaction.items_before", "weave.compaction.summary")


def apply(span: SpanRecord, genai: GenAI) -> None:
    attrs = span.attributes
    fill(genai, attrs, SCALARS)
    # Content may sit on the span or, with the newer event-based capture, on the
    # gen_ai.client.inference.operation.details event; the span wins when both do.
    fill(genai, attrs, CONTENT)
    for event in span.events:
        if event.name == INFERENCE_DETAILS_EVENT:
            fill(genai, event.attributes, CONTENT)
    if not attrs.keys().isdisjoint(COMPACTION_KEYS):
        compaction(attrs, genai)
    if genai.operation_name == "handoff":
        genai.set("handoff", handoff(span))


def fill(genai: GenAI, attrs: dict[str, Any], fields: tuple[tuple[str, str, Callable[[Any], Any]], ...]) -> None:
    """Set each (field, attribute, converter) of `fields` from `attrs`, in order."""
    for name, key, convert in fields:
        value = attrs.get(key)
        if value is not None:  # every converter makes None of None: an absent key sets nothing
            genai.set(name, convert(value))


def compaction(attrs: dict[str, Any], genai: GenAI) -> None:
    items_before = as_int(attrs.get("weave.compaction.items_before"))
    summary = as_str(attrs.get("weave.compaction.summary"))
    if items_before is not None or summary:
        genai.set(
            "compaction",
            {
                "items_before": items_before,
                "items_after": as_int(attrs.get("weave.compaction.items_after")),
                "summary": summary,
            },
        )


def handoff(span: SpanRecord) -> dict[str, str | None] | None:
    """A handoff span: `gen_ai.operation.name` = "handoff", as Sentry's OpenAI Agents
    integration emits it, named "handoff from A to B"; otelite also reads the explicit
    pair `gen_ai.handoff.from_agent` / `gen_ai.handoff.to_agent`, which win."""
    attrs = span.attributes
    named = HANDOFF_NAME.match(span.name)
    from_agent = as_str(attrs.get("gen_ai.handoff.from_agent")) or (named and named["from_agent"]) or None
    to_agent = as_str(attrs.get("gen_ai.handoff.to_agent")) or (named and named["to_agent"]) or None
    if from_agent is None and to_agent is None:
        return None
    return {"from_agent": from_agent, "to_agent": to_agent}


def messages(value: Any, default_role: str) -> list[Message] | None:
    """A semconv message list, from a JSON string or a structured AnyValue."""
    if value is None:
        return None
    value = as_json_value(value)
    if isinstance(value, str):
        return [text_message(default_role, value)]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    if _all_semconv_messages(value):
        return value  # already in the normalised shape (the common case): nothing to rebuild
    out: list[Message] = []
    for item in value:
        if isinstance(item, dict) and "parts" not in item and "content" in item:
            # OpenAI-style {"role", "content"} where the schema wants parts: read it kindly.
            converted = openai_message(item, default_role)
            if converted is not None:
                out.append(converted)
        elif isinstance(item, dict):
            message = dict(item)
            message["role"] = as_str(item.get("role")) or default_role
            message["parts"] = parts(item.get("parts")) or []
            out.append(message)
        elif isinstance(item, str):
            out.append(text_message(default_role, item))
    return out


def _all_semconv_messages(items: list[Any]) -> bool:
    """Whether every item is already a semconv message `{"role": str, "parts": [dict...]}`.

    Plain loops, not all() over generators: this runs for every message of every span."""
    for item in items:
        if type(item) is not dict:
            return False
        role, item_parts = item.get("role"), item.get("parts")
        if type(role) is not str or role == "" or type(item_parts) is not list:
            return False
        for part in item_parts:
            if type(part) is not dict:
                return False
    return True


def parts(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    value = as_json_value(value)
    if isinstance(value, str):
        return [{"type": "text", "content": value}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    return [p if isinstance(p, dict) else {"type": "text", "content": as_text(p)} for p in value]


def as_list(value: Any) -> list[Any] | None:
    value = as_json_value(value)
    if value is None:
        return None
    return value if isinstance(value, list) else [value]
