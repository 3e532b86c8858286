"""Request and response shapes of the query API, named as W&B Weave names them.

Requests are validated with these pydantic models (FastAPI-shaped 422s come from
`ValidationError.errors()`); `/openapi.json` is generated from all of them. Responses
are built as plain dicts and serialised with orjson; the response models here document
them (and the tests validate every response against them).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

MAX_CONVERSATION_IDS = 10_000
MAX_CHAT_TURNS = 50
MAX_LIST_CONVERSATIONS = 100

Status = Literal["UNSET", "OK", "ERROR"]
FeedbackType = Literal["wandb.agent_user_feedback", "wandb.agent_monitor"]


# ---- mini-map ---------------------------------------------------------------------


class AgentConversationSpansReq(BaseModel):
    """The span sequences of an explicit set of conversations (scalar columns only)."""

    project_id: str
    conversation_ids: list[str] = Field(default_factory=list, max_length=MAX_CONVERSATION_IDS)
    started_after: AwareDatetime | None = Field(default=None, description="Only spans that started at or after this.")
    started_before: AwareDatetime | None = Field(default=None, description="Only spans that started before this.")


class AgentConversationSpan(BaseModel):
    """One span of a conversation; `operation_name` is the raw OTel value, else the span name."""

    operation_name: str
    trace_id: str
    span_id: str
    status: Status
    duration_ms: int


class AgentConversationSpanRating(BaseModel):
    """One numeric rating (a scorer score) of a turn or conversation."""

    name: str
    value: float
    confidence: float | None = None
    reason: str | None = None


class AgentConversationSpanFeedback(BaseModel):
    """Tags and ratings on a turn (`trace_id`) or, with `trace_id` null, the whole conversation."""

    trace_id: str | None
    feedback_type: FeedbackType
    tags: list[str] = Field(default_factory=list)
    ratings: list[AgentConversationSpanRating] = Field(default_factory=list)


class AgentConversationSpans(BaseModel):
    conversation_id: str
    spans: list[AgentConversationSpan] = Field(default_factory=list)
    spans_feedback: list[AgentConversationSpanFeedback] = Field(default_factory=list)


class AgentConversationSpansRes(BaseModel):
    """One entry per requested conversation, in request order (duplicates collapsed)."""

    conversations: list[AgentConversationSpans]


# ---- chat view --------------------------------------------------------------------


class AgentConversationChatReq(BaseModel):
    project_id: str
    conversation_id: str
    include_feedback: bool = False
    limit: int = Field(default=MAX_CHAT_TURNS, ge=0, le=MAX_CHAT_TURNS, description="How many turns to return.")
    # Capped at int64 (found by schemathesis): a larger offset cannot be echoed as JSON.
    offset: int = Field(default=0, ge=0, le=2**63 - 1, description="How many most-recent turns to skip.")


class AgentChatFeedback(AgentConversationSpanFeedback):
    """Feedback as the chat view shows it: with its id (for DELETE) and creation time."""

    id: str
    created_at: str


class AgentChatUserMessage(BaseModel):
    text: str
    content_refs: list[str]


class AgentChatAgentStart(BaseModel):
    model: str | None
    system_instructions: str | None
    tool_definitions: str | None = Field(description="The tool definitions as JSON text.")
    status: Status


class AgentChatAssistantMessage(BaseModel):
    text: str
    reasoning_content: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    duration_ms: int
    status: Status
    content_refs: list[str]


class AgentChatToolCall(BaseModel):
    tool_name: str | None
    tool_arguments: str | None
    tool_result: str | None
    duration_ms: int | None = Field(description="Null when derived from message parts (no tool span).")
    status: Status | None = Field(description="The execute_tool span's status; null when derived from message parts.")
    content_refs: list[str]


class AgentChatAgentHandoff(BaseModel):
    from_agent: str | None
    to_agent: str | None


class AgentChatContextCompacted(BaseModel):
    compaction_items_before: int | None
    compaction_items_after: int | None
    compaction_summary: str | None


MessageType = Literal[
    "user_message", "agent_start", "assistant_message", "tool_call", "agent_handoff", "context_compacted"
]


class AgentChatMessage(BaseModel):
    """One element of the chat timeline: `type` names the one payload key present."""

    type: MessageType
    span_id: str
    started_at: str = Field(description="RFC 3339 UTC.")
    agent_name: str | None
    feedback: list[AgentChatFeedback] | None
    user_message: AgentChatUserMessage | None = None
    agent_start: AgentChatAgentStart | None = None
    assistant_message: AgentChatAssistantMessage | None = None
    tool_call: AgentChatToolCall | None = None
    agent_handoff: AgentChatAgentHandoff | None = None
    context_compacted: AgentChatContextCompacted | None = None


class AgentChatTurn(BaseModel):
    """One turn: one trace of the conversation."""

    trace_id: str
    root_span_name: str
    provider: str | None
    total_duration_ms: int
    feedback: list[AgentChatFeedback] | None
    messages: list[AgentChatMessage]


class AgentTraceChatReq(BaseModel):
    project_id: str
    trace_id: str
    include_feedback: bool = False


class AgentTraceChatRes(AgentChatTurn):
    """One trace's chat view: the turn as the conversation view shows it."""

    conversation_id: str | None = Field(description="The conversation the trace belongs to; null for an unknown trace.")


class AgentConversationChatRes(BaseModel):
    conversation_id: str
    total_turns: int
    limit: int
    offset: int
    has_more: bool = Field(description="Older turns exist beyond this page.")
    feedback: list[AgentChatFeedback] | None
    turns: list[AgentChatTurn]


# ---- conversation list and projects ----------------------------------------------


class AgentConversationsReq(BaseModel):
    """A project's conversations, most recent activity first, with their stats."""

    project_id: str = Field(min_length=1)
    limit: int = Field(default=50, ge=0, le=MAX_LIST_CONVERSATIONS)
    # Capped at int64 (found by schemathesis): SQLite's OFFSET cannot take more.
    offset: int = Field(default=0, ge=0, le=2**63 - 1)
    started_after: AwareDatetime | None = Field(
        default=None, description="Only conversations whose first span started at or after this."
    )
    started_before: AwareDatetime | None = Field(
        default=None, description="Only conversations whose first span started before this."
    )
    search: str | None = Field(
        default=None,
        max_length=1000,
        description="Words to find in user and assistant text; every word must occur (as a word prefix).",
    )


class AgentConversationSummary(BaseModel):
    conversation_id: str
    turn_count: int
    span_count: int
    error_count: int = Field(description="Spans with status ERROR.")
    input_tokens: int
    output_tokens: int
    started_at: str = Field(description="The first span's start, RFC 3339 UTC.")
    last_activity_at: str = Field(description="The latest span end, RFC 3339 UTC.")
    agents: list[str] = Field(description="Distinct agent names, sorted.")
    models: list[str] = Field(description="Distinct models (response model, else request model), sorted.")


class AgentConversationsRes(BaseModel):
    project_id: str
    total: int = Field(description="Conversations matching the filters, across all pages.")
    limit: int
    offset: int
    has_more: bool
    conversations: list[AgentConversationSummary]


class AgentProject(BaseModel):
    project_id: str
    conversation_count: int
    span_count: int
    last_activity_at: str


class AgentProjectsRes(BaseModel):
    """Every project with spans, most recent activity first."""

    projects: list[AgentProject]


# ---- feedback ---------------------------------------------------------------------


class AgentFeedbackCreateReq(BaseModel):
    project_id: str
    conversation_id: str
    trace_id: str | None = Field(default=None, description="The turn; null for the whole conversation.")
    feedback_type: FeedbackType
    tags: list[str] = Field(default_factory=list)
    ratings: list[AgentConversationSpanRating] = Field(default_factory=list)


class AgentFeedbackCreateRes(BaseModel):
    id: str
    created_at: str


class AgentFeedbackDeleteQuery(BaseModel):
    project_id: str


class AgentFeedbackDeleteRes(BaseModel):
    id: str


# ---- errors (FastAPI's shapes) ----------------------------------------------------


class ValidationError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class HTTPValidationError(BaseModel):
    detail: list[ValidationError]


class HTTPError(BaseModel):
    detail: str
