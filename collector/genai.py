"""The normalised GenAI view of a span, which every dialect adapter fills in.

Message bodies use the OpenTelemetry GenAI message schema whatever the dialect:
`{"role": ..., "parts": [{"type": "text", "content": ...}, {"type": "tool_call", "id",
"name", "arguments"}, {"type": "tool_call_response", "id", "response"},
{"type": "reasoning", "content"}, {"type": "uri"|"blob"|"file", ...}]}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import orjson

from otelite.store.model import GENAI_COLUMNS, with_columns

Message = dict[str, Any]
Part = dict[str, Any]


@dataclass(slots=True)
@with_columns(GENAI_COLUMNS, before="input_messages")
class GenAI:
    # Scalars, stored as columns: one field per GENAI_COLUMNS entry (store/model.py),
    # None until an adapter fills it, added here by `with_columns`.
    # Content: stored together as one JSON document, read only by the chat view.
    input_messages: list[Message] | None = None
    output_messages: list[Message] | None = None
    system_instructions: list[Part] | None = None
    tool_definitions: list[Any] | None = None
    tool_arguments: str | None = None
    tool_result: str | None = None
    handoff: dict[str, str | None] | None = None  # {"from_agent", "to_agent"}
    compaction: dict[str, Any] | None = None  # {"items_before", "items_after", "summary"}

    def set(self, name: str, value: Any) -> None:
        """Fill `name` unless an earlier adapter already did, or the value is empty."""
        # Only a falsy value can be "" or []: a truthy one skips both comparisons.
        if value is None or (not value and (value == "" or value == [])):
            return
        if getattr(self, name) is None:
            setattr(self, name, value)

    def content(self) -> dict[str, Any]:
        # Runs once per span: a fixed tuple of names, not dataclasses.fields() each time.
        return {name: value for name in _CONTENT_ORDER if (value := getattr(self, name)) is not None}


CONTENT_FIELDS = frozenset(
    {
        "input_messages",
        "output_messages",
        "system_instructions",
        "tool_definitions",
        "tool_arguments",
        "tool_result",
        "handoff",
        "compaction",
    }
)


# Integers go into SQLite INTEGER columns (signed 64-bit); anything outside is not a count.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def as_int(value: Any) -> int | None:
    if type(value) is int:  # the common case, in one test (bool, a subclass of int, is no count)
        return value if INT64_MIN <= value <= INT64_MAX else None
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) and abs(value) < 2**63 else None
    elif isinstance(value, str):
        try:
            value = int(value) if len(value) <= 32 else None  # int() of a huge string is slow
        except ValueError:
            return None
    if isinstance(value, int) and INT64_MIN <= value <= INT64_MAX:
        return value
    return None


def as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return str(value)
    return None


def as_json_value(value: Any) -> Any:
    """A value that may be a JSON string (as most SDKs send) or already structured."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def as_text(value: Any) -> str | None:
    """A string for display: strings as they are, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def text_message(role: str, text: str) -> Message:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


# The content fields in declaration order, which is the order of the stored document.
_CONTENT_ORDER = tuple(f.name for f in fields(GenAI) if f.name in CONTENT_FIELDS)
