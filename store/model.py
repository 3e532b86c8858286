"""Plain data the store accepts and returns. No SQL, no protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SpanRow:
    """One normalised span, ready to be written.

    Scalar fields are what the mini-map and list views read; `attributes`, `events`,
    `links`, `resource`, `scope` and `content` (normalised GenAI message bodies) are kept
    apart so scalar queries never touch them.
    """

    project_id: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str  # UNSET, OK, ERROR
    status_message: str
    # The conversation named by this span itself (None: inherit from its trace).
    conversation_id: str | None = None
    operation_name: str | None = None
    agent_name: str | None = None
    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: dict[str, Any] = field(default_factory=dict)
    content: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int:
        return (self.end_ns - self.start_ns) // 1_000_000


@dataclass(slots=True)
class ConversationSummary:
    """One row of the conversation list, from the stats kept at ingest."""

    conversation_id: str
    turns: int
    spans: int
    errors: int
    input_tokens: int
    output_tokens: int
    first_ns: int  # earliest span start
    last_ns: int  # latest span end: the last activity
    agents: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ConversationPage:
    total: int  # conversations matching the filters, across all pages
    conversations: list[ConversationSummary]


@dataclass(slots=True)
class ProjectSummary:
    project_id: str
    conversations: int
    spans: int
    last_ns: int
