"""The text a conversation is found by: what the user typed and what the model answered.

Computed at ingest from a span's normalised content (the OTel GenAI message schema) and
stored in the full-text index. SDKs re-send the whole history with every model call, so
only the user messages at the end of `input_messages` (the new input) are taken: the
earlier ones were indexed with the call that first carried them.
"""

from __future__ import annotations

from typing import Any


def searchable_text(content: dict[str, Any]) -> str:
    texts: list[str] = []
    for message in _new_user_messages(content.get("input_messages") or []):
        _add_text_parts(message, texts)
    for message in content.get("output_messages") or []:
        if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
            _add_text_parts(message, texts)
    return "\n".join(texts)


def _new_user_messages(messages: list[Any]) -> list[dict[str, Any]]:
    trailing: list[dict[str, Any]] = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            break
        trailing.append(message)
    return trailing[::-1]


def _add_text_parts(message: dict[str, Any], texts: list[str]) -> None:
    """Append the message's non-empty text parts (a plain loop: this runs for every span)."""
    for part in message.get("parts") or []:
        if isinstance(part, dict) and part.get("type") == "text":
            text = part.get("content")
            if isinstance(text, str) and text:
                texts.append(text)
