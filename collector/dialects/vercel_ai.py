"""Vercel AI SDK (`experimental_telemetry`): `ai.*` spans and attributes.

`ai.generateText` / `ai.streamText` / `ai.generateObject` / `ai.streamObject` span one
SDK call with its whole tool loop: we show it as `invoke_agent` (agent name: the
telemetry `functionId`). Each provider call inside it (`*.doGenerate` / `*.doStream`) is
a `chat`, each `ai.toolCall` an `execute_tool`, `ai.embed*` are `embeddings`.
Attribute names follow the SDK's telemetry docs; v4 names (`args`, `result`,
`promptTokens`) and v5+ names (`input`, `output`, `inputTokens`) are both read.
"""

from __future__ import annotations

from typing import Any

from otelite.collector.dialects.messages import as_items, content_parts, media_part, tool_definition
from otelite.collector.genai import GenAI, Message, Part, as_int, as_json_value, as_str, as_text
from otelite.proto.records import SpanRecord

METADATA = "ai.telemetry.metadata."
CONVERSATION_KEYS = ("conversationId", "sessionId", "threadId", "conversation_id", "session_id", "thread_id")
CALLS = ("ai.generateText", "ai.streamText", "ai.generateObject", "ai.streamObject")


def operation(operation_id: str) -> str | None:
    if operation_id == "ai.toolCall":
        return "execute_tool"
    if operation_id.startswith("ai.embed"):
        return "embeddings"
    if operation_id.endswith((".doGenerate", ".doStream")):
        return "chat"
    if operation_id in CALLS:
        return "invoke_agent"
    return None


def apply(span: SpanRecord, genai: GenAI) -> None:
    attrs = span.attributes
    operation_id = as_str(attrs.get("ai.operationId")) or span.name
    if not operation_id.startswith("ai.") or not any(k.startswith("ai.") for k in attrs):
        return
    op = operation(operation_id)
    genai.set("operation_name", op)
    for key in CONVERSATION_KEYS:
        genai.set("conversation_id", as_str(attrs.get(METADATA + key)))
    if op == "invoke_agent":
        genai.set("agent_name", as_str(attrs.get("ai.telemetry.functionId")))
    genai.set("provider", as_str(attrs.get("ai.model.provider")))
    genai.set("request_model", as_str(attrs.get("ai.model.id")))
    genai.set("response_model", as_str(attrs.get("ai.response.model")))
    genai.set("input_tokens", as_int(attrs.get("ai.usage.inputTokens")))
    genai.set("input_tokens", as_int(attrs.get("ai.usage.promptTokens")))
    genai.set("output_tokens", as_int(attrs.get("ai.usage.outputTokens")))
    genai.set("output_tokens", as_int(attrs.get("ai.usage.completionTokens")))
    genai.set("reasoning_tokens", as_int(attrs.get("ai.usage.reasoningTokens")))

    if op == "execute_tool":
        genai.set("tool_name", as_str(attrs.get("ai.toolCall.name")))
        genai.set("tool_call_id", as_str(attrs.get("ai.toolCall.id")))
        genai.set("tool_arguments", as_text(first(attrs, "ai.toolCall.input", "ai.toolCall.args")))
        genai.set("tool_result", as_text(first(attrs, "ai.toolCall.output", "ai.toolCall.result")))
        return

    genai.set("input_messages", messages(attrs.get("ai.prompt.messages")))
    prompt = as_json_value(attrs.get("ai.prompt"))
    if isinstance(prompt, dict):
        genai.set("system_instructions", content_parts(prompt.get("system")))
        genai.set("input_messages", messages(prompt.get("messages")))
        if isinstance(prompt.get("prompt"), (str, list)):
            genai.set("input_messages", messages([{"role": "user", "content": prompt["prompt"]}]))
    elif isinstance(prompt, str):
        genai.set("input_messages", [{"role": "user", "parts": [{"type": "text", "content": prompt}]}])
    genai.set("tool_definitions", [tool_definition(t) for t in as_items(attrs.get("ai.prompt.tools"))])
    genai.set("output_messages", response(attrs))


def first(attrs: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if attrs.get(key) is not None:
            return attrs[key]
    return None


def response(attrs: dict[str, Any]) -> list[Message] | None:
    parts: list[Part] = []
    reasoning = as_str(attrs.get("ai.response.reasoning"))
    if reasoning:
        parts.append({"type": "reasoning", "content": reasoning})
    text = first(attrs, "ai.response.text", "ai.result.text", "ai.response.object", "ai.result.object")
    if text not in (None, ""):
        parts.append({"type": "text", "content": as_text(text)})
    for call in as_items(first(attrs, "ai.response.toolCalls", "ai.result.toolCalls")):
        if isinstance(call, dict):
            parts.append(tool_call(call))
    if not parts:
        return None
    message: Message = {"role": "assistant", "parts": parts}
    finish = first(attrs, "ai.response.finishReason", "ai.finishReason")
    if as_str(finish):
        message["finish_reason"] = as_str(finish)
    return [message]


def tool_call(call: dict[str, Any]) -> Part:
    arguments = call.get("input", call.get("args"))
    return {
        "type": "tool_call",
        "id": as_str(call.get("toolCallId")),
        "name": as_str(call.get("toolName")),
        "arguments": as_json_value(arguments),
    }


def messages(value: Any) -> list[Message] | None:
    """The SDK's prompt messages: content is a string or typed parts (`text`, `image`,
    `file`, `reasoning`, `tool-call`, `tool-result`)."""
    out: list[Message] = []
    for item in as_items(value):
        if not isinstance(item, dict):
            continue
        role = as_str(item.get("role")) or "user"
        content = item.get("content")
        if isinstance(content, str):
            parts = [{"type": "text", "content": content}] if content else []
        else:
            parts = [p for p in (part(block) for block in as_items(content)) if p is not None]
        out.append({"role": role, "parts": parts})
    return out or None


def part(block: Any) -> Part | None:
    if isinstance(block, str):
        return {"type": "text", "content": block}
    if not isinstance(block, dict):
        return None
    kind = as_str(block.get("type"))
    if kind == "text":
        return {"type": "text", "content": as_text(block.get("text"))}
    if kind in ("reasoning", "redacted-reasoning"):
        return {"type": "reasoning", "content": as_text(block.get("text") or block.get("data"))}
    if kind == "tool-call":
        return tool_call(block)
    if kind == "tool-result":
        result = block.get("output", block.get("result"))
        if isinstance(result, dict) and "value" in result and result.get("type") in ("text", "json"):
            result = result["value"]  # v5 wraps outputs as {"type": "text"|"json", "value"}
        return {"type": "tool_call_response", "id": as_str(block.get("toolCallId")), "response": as_json_value(result)}
    if kind in ("image", "file"):
        data = block.get("image", block.get("data"))
        mime = as_str(block.get("mediaType") or block.get("mimeType"))
        modality = "image" if kind == "image" or (mime or "").startswith("image/") else "file"
        if isinstance(data, str) and data.startswith(("http://", "https://", "data:")):
            found = media_part(data, modality)
            if mime and found["type"] == "uri":
                found["mime_type"] = mime
            return found
        # Inline bytes (base64): name the media type, never inline the data.
        return {"type": "blob", "modality": modality, "mime_type": mime}
    return dict(block)
