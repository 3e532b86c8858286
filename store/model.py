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
class PruneResult:
    """What one `Store.prune` call deleted."""

    traces: int = 0
    spans: int = 0
    feedback: int = 0

    def add(self, other: PruneResult) -> None:
        self.traces += other.traces
        self.spans += other.spans
        self.feedback += other.feedback
