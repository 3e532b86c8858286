"""Plain data the store accepts and returns. No SQL, no protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class CommittedSpan(NamedTuple):
    """What commit listeners hear of a span (the live-update events read only these)."""

    project_id: str
    trace_id: str
    conversation_id: str | None  # the one the span named itself, if any


@dataclass(slots=True)
class SpanRow:
    """One normalised span, ready to be written.

    Scalar fields are what the mini-map and list views read; `attributes`, `events`,
    `links`, `resource`, `scope` and `content` (normalised GenAI message bodies) are kept
    apart so scalar queries never touch them.

    Built with positional arguments on the ingest path (collector/normalize.py): keep
    the field order; a new field goes last.
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
class PruneResult:
    """What one `Store.prune` call deleted."""

    traces: int = 0
    spans: int = 0
    feedback: int = 0

    def add(self, other: PruneResult) -> None:
        self.traces += other.traces
        self.spans += other.spans
        self.feedback += other.feedback


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


@dataclass(slots=True, frozen=True)
class MiniMapSpan:
    """One span of the conversation mini-map: scalar columns only."""

    conversation_id: str
    trace_id: str
    span_id: str
    operation_name: str  # the raw gen_ai.operation.name, else the span name
    status: str
    duration_ms: int
    start_ns: int


@dataclass(slots=True, frozen=True)
class Turn:
    """One turn of a conversation: a trace id and when its first span started."""

    trace_id: str
    start_ns: int


@dataclass(slots=True)
class DetailedSpan:
    """A span with its normalised GenAI content, as the chat view reads it."""

    trace_id: str
    conversation_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status: str
    status_message: str
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
    content: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int:
        return (self.end_ns - self.start_ns) // 1_000_000


@dataclass(slots=True)
class Feedback:
    """Feedback on a whole conversation (trace_id None) or on one turn of it."""

    id: str
    project_id: str
    conversation_id: str
    trace_id: str | None
    feedback_type: str
    tags: list[str]
    # Each {"name", "value", "confidence", "reason"}.
    ratings: list[dict[str, Any]]
    created_ns: int
