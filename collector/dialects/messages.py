"""Shared converters from the message shapes SDKs send into the OTel GenAI message schema.

Several dialects carry OpenAI-style chat messages (`{"role", "content", "tool_calls",
"tool_call_id"}`), and two (OpenInference, OpenLLMetry) flatten lists into indexed
attribute keys (`llm.input_messages.0.message.role`). These helpers turn both into
`{"role", "parts": [...]}` so every adapter yields the same form. They never raise on
odd input: what they cannot read they skip.
"""

from __future__ import annotations

from typing import Any

from otelite.collector.genai import Message, Part, as_json_value, as_str, as_text


def unflatten(attrs: dict[str, Any], prefix: str) -> Any:
    """Rebuild the nested value behind flattened keys `prefix.0.a.b`, `prefix.1.a`...

    Dicts whose keys are all integers become lists ordered by index, so
    `{"llm.input_messages.1.message.role": "user"}` under `llm.input_messages` gives
    `[{"message": {"role": "user"}}]`. None when no key has the prefix.
    """
    head = prefix + "."
    tree: dict[str, Any] = {}
    found = False
    for key, value in attrs.items():
        if not key.startswith(head):
            continue
        found = True
        node = tree
        segments = key[len(head) :].split(".")
        for segment in segments[:-1]:
            child = node.get(segment)
            if not isinstance(child, dict):
                child = {}
                node[segment] = child
            node = child
        node[segments[-1]] = value
    return _listify(tree) if found else None


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


def as_items(value: Any) -> list[Any]:
    """A list, from a list, a JSON-string list, or a single item; [] for nothing."""
    value = as_json_value(value)
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def content_parts(content: Any) -> list[Part]:
    """Parts from an OpenAI-style `content`: a string, or a list of typed blocks."""
    if content is None or content == "":
        return []
    if isinstance(content, str):
        # Some SDKs log a block list as a JSON string; anything else is the text itself.
        blocks = as_json_value(content) if content[:1] == "[" else None
        if isinstance(blocks, list) and blocks and all(isinstance(b, dict) and "type" in b for b in blocks):
            content = blocks
        else:
            return [{"type": "text", "content": content}]
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return [{"type": "text", "content": as_text(content)}]
    parts: list[Part] = []
    for block in content:
        part = content_block(block)
        if part is not None:
            parts.append(part)
    return parts


def content_block(block: Any) -> Part | None:
    if isinstance(block, str):
        return {"type": "text", "content": block}
    if not isinstance(block, dict):
        return None
    kind = as_str(block.get("type")) or "text"
    if kind in ("text", "input_text", "output_text") and ("text" in block or "content" in block):
        return {"type": "text", "content": as_text(block.get("text", block.get("content")))}
    if kind in ("reasoning", "thinking"):
        return {
            "type": "reasoning",
            "content": as_text(block.get("text") or block.get("content") or block.get("thinking")),
        }
    if kind in ("image_url", "input_image"):
        image = block.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return media_part(as_str(url), "image")
    if kind == "refusal":
        return {"type": "text", "content": as_text(block.get("refusal"))}
    # Already a semconv part (uri/blob/file/tool_call...), or something new: kept as is.
    return dict(block)


def tool_definition(value: Any) -> Any:
    """A tool definition in the semconv shape `{"type", "name", "description", "parameters"}`,
    from OpenAI's `{"type": "function", "function": {...}}` or the AI SDK's `inputSchema`."""
    value = as_json_value(value)
    if not isinstance(value, dict):
        return value
    if isinstance(value.get("function"), dict):
        value = {"type": value.get("type") or "function", **value["function"]}
    if "inputSchema" in value and "parameters" not in value:
        value = {**{k: v for k, v in value.items() if k != "inputSchema"}, "parameters": value["inputSchema"]}
    return value


def media_part(url: str | None, modality: str) -> Part:
    """A `uri` part, or a `blob` part for an inline `data:` URL (the bytes are not kept)."""
    if url and url.startswith("data:"):
        mime = url[5:].split(";", 1)[0].split(",", 1)[0] or None
        return {"type": "blob", "modality": modality, "mime_type": mime}
    return {"type": "uri", "modality": modality, "uri": url}


def tool_call_part(call: Any) -> Part | None:
    """A `tool_call` part from an OpenAI tool call (`{"id", "function": {"name", "arguments"}}`)."""
    if not isinstance(call, dict):
        return None
    function = call.get("function") if isinstance(call.get("function"), dict) else call
    part: Part = {
        "type": "tool_call",
        "id": as_str(call.get("id") or call.get("call_id")),
        "name": as_str(function.get("name")),
    }
    arguments = function.get("arguments")
    if arguments is not None:
        part["arguments"] = as_json_value(arguments)
    return part


MESSAGE_KEYS = frozenset({"role", "content", "tool_calls", "function_call", "tool_call_id"})


def openai_message(message: Any, default_role: str) -> Message | None:
    """One OpenAI chat message (as most dialects log them) in the semconv form."""
    if isinstance(message, str):
        return {"role": default_role, "parts": [{"type": "text", "content": message}]}
    if not isinstance(message, dict):
        return None
    if isinstance(message.get("parts"), list):  # already semconv
        return {**message, "role": as_str(message.get("role")) or default_role}
    if not MESSAGE_KEYS & message.keys():  # some other JSON document: shown as its text
        return {"role": default_role, "parts": [{"type": "text", "content": as_text(message)}]}
    role = as_str(message.get("role")) or default_role
    tool_call_id = as_str(message.get("tool_call_id") or message.get("id")) if role == "tool" else None
    if role == "tool":
        # The tool's output is kept as sent (usually text), as semconv emitters do.
        parts: list[Part] = [{"type": "tool_call_response", "id": tool_call_id, "response": message.get("content")}]
    else:
        parts = content_parts(message.get("content"))
    for call in as_items(message.get("tool_calls")):
        part = tool_call_part(call)
        if part is not None:
            parts.append(part)
    function_call = as_json_value(message.get("function_call"))
    if isinstance(function_call, dict):
        part = tool_call_part({"function": function_call})
        if part is not None:
            parts.append(part)
    out: Message = {"role": role, "parts": parts}
    if as_str(message.get("name")) and role != "tool":
        out["name"] = message["name"]
    finish_reason = as_str(message.get("finish_reason"))
    if finish_reason:
        out["finish_reason"] = finish_reason
    return out


def openai_messages(value: Any, default_role: str) -> list[Message] | None:
    """A message list from a JSON string / list of OpenAI-style messages, or plain text."""
    raw, value = value, as_json_value(value)
    if value is None or value == "" or value == []:
        return None
    if isinstance(raw, str) and (
        not isinstance(value, (list, dict))  # plain text, or a JSON scalar such as "42"
        or (isinstance(value, dict) and not MESSAGE_KEYS & value.keys() and "messages" not in value)
    ):
        return [{"role": default_role, "parts": [{"type": "text", "content": raw}]}]
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]  # a logged request body {"model", "messages": [...]}
    out = [m for m in (openai_message(item, default_role) for item in as_items(value)) if m is not None]
    return out or None


# Older semconv (v1.28-v1.36) per-message events, and what their bodies hold.
MESSAGE_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"
BODY_KEYS = ("content", "tool_calls", "id", "role", "message", "index", "finish_reason")


def event_body(attributes: dict[str, Any]) -> dict[str, Any]:
    """The body of a per-message event that arrived as a *span* event.

    Those events are log records in the conventions; on a span they carry their body
    either as one JSON attribute (`gen_ai.event.content`, as Azure's SDKs write it, or
    `body`) or as the body's fields set directly as event attributes (as Koog or
    Logfire write them).
    """
    for key in ("gen_ai.event.content", "body", "event.body"):
        if key in attributes:
            body = as_json_value(attributes[key])
            if isinstance(body, dict):
                return body
            if isinstance(body, str):
                return {"content": body}
    return {
        k: as_json_value(v) if k in ("tool_calls", "message") else v for k, v in attributes.items() if k in BODY_KEYS
    }


def message_from_event(name: str, body: dict[str, Any]) -> tuple[str, Message] | None:
    """("input"|"output", message) for one per-message event, None for other events."""
    if name in MESSAGE_EVENT_ROLES:
        role = MESSAGE_EVENT_ROLES[name]
        message = openai_message({**body, "role": as_str(body.get("role")) or role}, role)
        return None if message is None else ("input", message)
    if name == CHOICE_EVENT:
        inner = as_json_value(body.get("message"))
        inner = inner if isinstance(inner, dict) else {k: body[k] for k in ("content", "tool_calls") if k in body}
        message = openai_message({**inner, "role": as_str(inner.get("role")) or "assistant"}, "assistant")
        if message is None:
            return None
        if as_str(body.get("finish_reason")):
            message["finish_reason"] = body["finish_reason"]
        return "output", message
    return None
