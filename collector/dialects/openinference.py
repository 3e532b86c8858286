"""OpenInference (Arize Phoenix): `openinference.span.kind` and the `llm.*` / `tool.*` keys.

Messages are flattened into indexed keys (`llm.input_messages.0.message.role`,
`...message.contents.1.message_content.image.image.url`,
`...message.tool_calls.0.tool_call.function.arguments`); `unflatten` rebuilds them.
"""

from __future__ import annotations

from typing import Any

from otelite.collector.dialects.messages import media_part, openai_messages, tool_definition, unflatten
from otelite.collector.genai import GenAI, Message, Part, as_int, as_json_value, as_str, as_text
from otelite.proto.records import SpanRecord

KIND = "openinference.span.kind"

# OpenInference span kinds that have a GenAI operation; CHAIN, GUARDRAIL, EVALUATOR...
# have none and keep the span name in the views.
OPERATIONS = {
    "LLM": "chat",
    "AGENT": "invoke_agent",
    "TOOL": "execute_tool",
    "EMBEDDING": "embeddings",
    "RETRIEVER": "retrieval",
}


def apply(span: SpanRecord, genai: GenAI) -> None:
    attrs = span.attributes
    kind = as_str(attrs.get(KIND))
    if kind is None:
        return
    kind = kind.upper()
    genai.set("operation_name", OPERATIONS.get(kind))
    genai.set("conversation_id", as_str(attrs.get("session.id")))
    genai.set("agent_name", as_str(attrs.get("agent.name")))
    if kind == "AGENT":
        genai.set("agent_name", as_str(attrs.get("graph.node.name")) or as_str(attrs.get("graph.node.id")))
    genai.set("provider", as_str(attrs.get("llm.provider")))
    genai.set("provider", as_str(attrs.get("llm.system")))
    genai.set("request_model", as_str(attrs.get("llm.request.model_name")))
    invocation = as_json_value(attrs.get("llm.invocation_parameters"))
    if isinstance(invocation, dict):  # the request's own parameters name the model asked for
        genai.set("request_model", as_str(invocation.get("model")))
    genai.set("request_model", as_str(attrs.get("llm.model_name")))
    genai.set("response_model", as_str(attrs.get("llm.response.model_name")))
    genai.set("response_model", as_str(attrs.get("llm.model_name")))
    genai.set("input_tokens", as_int(attrs.get("llm.token_count.prompt")))
    genai.set("output_tokens", as_int(attrs.get("llm.token_count.completion")))
    genai.set("reasoning_tokens", as_int(attrs.get("llm.token_count.completion_details.reasoning")))

    genai.set("input_messages", messages(unflatten(attrs, "llm.input_messages"), "user"))
    genai.set("output_messages", messages(unflatten(attrs, "llm.output_messages"), "assistant"))
    genai.set("tool_definitions", tool_definitions(unflatten(attrs, "llm.tools")))

    if kind == "TOOL":
        genai.set("tool_name", as_str(attrs.get("tool.name")))
        genai.set("tool_call_id", as_str(attrs.get("tool.id")))
        genai.set("tool_arguments", as_text(attrs.get("input.value")))
        genai.set("tool_result", as_text(attrs.get("output.value")))
        if attrs.get("tool.parameters") is not None:  # the tool's JSON schema, not the call's arguments
            definition = {"type": "function", "name": as_str(attrs.get("tool.name"))}
            if as_str(attrs.get("tool.description")):
                definition["description"] = as_str(attrs.get("tool.description"))
            definition["parameters"] = as_json_value(attrs.get("tool.parameters"))
            genai.set("tool_definitions", [definition])
    elif kind in ("LLM", "AGENT"):
        # Without llm.*_messages the span's input/output is the best record of the turn:
        # a logged request body {"messages": [...]}, a message list, or plain text.
        genai.set("input_messages", openai_messages(value_of(attrs, "input"), "user"))
        genai.set("output_messages", output_from_value(value_of(attrs, "output")))


def value_of(attrs: dict[str, Any], side: str) -> Any:
    value = attrs.get(f"{side}.value")
    if as_str(attrs.get(f"{side}.mime_type")) == "application/json":
        return as_json_value(value)
    return value


def output_from_value(value: Any) -> list[Message] | None:
    """Output messages from output.value: a chat completion body, messages, or text."""
    if isinstance(value, dict) and isinstance(value.get("choices"), list):
        choices = [c.get("message") for c in value["choices"] if isinstance(c, dict)]
        return openai_messages(choices, "assistant")
    if isinstance(value, dict) and value.get("object") == "response":
        return None  # a Responses API body: its items are already in llm.output_messages
    return openai_messages(value, "assistant")


def messages(value: Any, default_role: str) -> list[Message] | None:
    if not isinstance(value, list):
        return None
    out: list[Message] = []
    for item in value:
        message = item.get("message") if isinstance(item, dict) else None
        if isinstance(message, dict):
            out.append(one_message(message, default_role))
    return out or None


def one_message(message: dict[str, Any], default_role: str) -> Message:
    role = as_str(message.get("role")) or default_role
    parts: list[Part] = []
    if role == "tool":
        parts.append(
            {
                "type": "tool_call_response",
                "id": as_str(message.get("tool_call_id")),
                "response": message.get("content"),
            }
        )
    elif message.get("content") not in (None, "") and not listed(message.get("contents")):
        # Some instrumentations write both `content` and the structured `contents`
        # with the same text: the structured list is the fuller record.
        parts.append({"type": "text", "content": as_text(message.get("content"))})
    for content in listed(message.get("contents")):
        part = content_part(content.get("message_content") if isinstance(content, dict) else None)
        if part is not None:
            parts.append(part)
    for call in listed(message.get("tool_calls")):
        call = call.get("tool_call") if isinstance(call, dict) else None
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        part: Part = {"type": "tool_call", "id": as_str(call.get("id")), "name": as_str(function.get("name"))}
        if function.get("arguments") is not None:
            part["arguments"] = as_json_value(function.get("arguments"))
        parts.append(part)
    if message.get("function_call_name"):
        parts.append(
            {
                "type": "tool_call",
                "id": None,
                "name": as_str(message.get("function_call_name")),
                "arguments": as_json_value(message.get("function_call_arguments_json")),
            }
        )
    out: Message = {"role": role, "parts": parts}
    if as_str(message.get("name")):
        out["name"] = message["name"]
    return out


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def content_part(content: Any) -> Part | None:
    """One `message_content` entry: text, reasoning, image, audio, video, document."""
    if not isinstance(content, dict):
        return None
    kind = as_str(content.get("type")) or "text"
    if kind == "text":
        return {"type": "text", "content": as_text(content.get("text"))}
    if kind == "reasoning":
        return {"type": "reasoning", "content": as_text(content.get("text"))}
    media = content.get(kind)
    if isinstance(media, dict):
        inner = media.get(kind) if isinstance(media.get(kind), dict) else media
        url = as_str(inner.get("url"))
        if url:
            return media_part(url, kind)
    if kind in ("image", "audio", "video", "document"):
        return {"type": "blob", "modality": kind, "mime_type": as_str(content.get("mime_type"))}
    return {"type": kind, **{k: v for k, v in content.items() if k != "type"}}


def tool_definitions(value: Any) -> list[Any] | None:
    """`llm.tools.N.tool.json_schema` (a JSON string each) as a definition list."""
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        tool = item.get("tool") if isinstance(item, dict) else None
        if isinstance(tool, dict) and tool.get("json_schema") is not None:
            out.append(tool_definition(tool["json_schema"]))
    return out or None
