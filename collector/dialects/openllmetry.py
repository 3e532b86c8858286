"""OpenLLMetry (Traceloop): flattened `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`,
`llm.request.type`, `llm.usage.*`, and the Traceloop SDK's `traceloop.*` keys.

Current opentelemetry-instrumentation-openai releases write the semconv
`gen_ai.input.messages` instead (read by `semconv`); the flattened keys are what the
releases before them, and many other OpenLLMetry instrumentations, still send.
"""

from __future__ import annotations

from typing import Any

from otelite.collector.dialects.messages import as_items, openai_message, unflatten
from otelite.collector.genai import GenAI, Message, as_int, as_json_value, as_str, as_text
from otelite.proto.records import SpanRecord

REQUEST_TYPES = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings"}
SPAN_KINDS = {"workflow": "invoke_workflow", "agent": "invoke_agent", "tool": "execute_tool"}
ASSOCIATION = "traceloop.association.properties."
CONVERSATION_KEYS = ("session_id", "sessionId", "thread_id", "threadId", "conversation_id", "conversationId")


# Every key this adapter reads starts with one of these. Checked once per span, so a
# span of another dialect costs one pass over its keys instead of three unflatten scans.
KEY_PREFIXES = ("traceloop.", "llm.", "gen_ai.prompt.", "gen_ai.completion.", "gen_ai.usage.reasoning_tokens")


def apply(span: SpanRecord, genai: GenAI) -> None:
    for key in span.attributes:  # a plain loop: any() over a generator costs a third more here
        if key.startswith(KEY_PREFIXES):
            read(span, genai)
            return


def read(span: SpanRecord, genai: GenAI) -> None:
    attrs = span.attributes
    kind = as_str(attrs.get("traceloop.span.kind"))
    genai.set("operation_name", REQUEST_TYPES.get(as_str(attrs.get("llm.request.type")) or ""))
    genai.set("operation_name", SPAN_KINDS.get(kind or ""))
    for key in CONVERSATION_KEYS:
        genai.set("conversation_id", as_str(attrs.get(ASSOCIATION + key)))

    genai.set("input_tokens", as_int(attrs.get("llm.usage.prompt_tokens")))
    genai.set("output_tokens", as_int(attrs.get("llm.usage.completion_tokens")))
    genai.set("reasoning_tokens", as_int(attrs.get("gen_ai.usage.reasoning_tokens")))
    genai.set("reasoning_tokens", as_int(attrs.get("llm.usage.reasoning_tokens")))

    genai.set("input_messages", messages(unflatten(attrs, "gen_ai.prompt"), "user"))
    genai.set("output_messages", messages(unflatten(attrs, "gen_ai.completion"), "assistant"))
    genai.set("tool_definitions", functions(unflatten(attrs, "llm.request.functions")))

    entity = as_str(attrs.get("traceloop.entity.name"))
    if kind == "agent":
        genai.set("agent_name", entity)
    elif kind == "tool":
        genai.set("tool_name", entity)
        genai.set("tool_arguments", call_arguments(attrs.get("traceloop.entity.input")))
        genai.set("tool_result", as_text(attrs.get("traceloop.entity.output")))


def messages(value: Any, default_role: str) -> list[Message] | None:
    if isinstance(value, dict):  # indexed messages next to other keys (prompt_filter_results)
        value = [value[k] for k in sorted((k for k in value if k.isdigit()), key=int)]
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if not isinstance(item, dict):
            continue
        message = openai_message(item, default_role)
        if message is not None:
            out.append(message)
    return out or None


def functions(value: Any) -> list[Any] | None:
    """`llm.request.functions.N.{name,description,parameters}` as tool definitions."""
    out = []
    for item in as_items(value):
        if isinstance(item, dict) and item.get("name"):
            definition = {"type": "function", "name": item["name"]}
            if item.get("description") is not None:
                definition["description"] = item["description"]
            if item.get("parameters") is not None:
                definition["parameters"] = as_json_value(item["parameters"])
            out.append(definition)
    return out or None


def call_arguments(value: Any) -> str | None:
    """The Traceloop SDK logs a tool's input as {"args": [...], "kwargs": {...}}:
    keyword-only calls (the common case for tools) are shown as their kwargs."""
    parsed = as_json_value(value)
    if isinstance(parsed, dict) and set(parsed) <= {"args", "kwargs"} and not parsed.get("args"):
        return as_text(parsed.get("kwargs") or {})
    return as_text(value)
