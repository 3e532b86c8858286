"""The chat view: turn normalised spans into a timeline of messages.

Pure functions over the store's plain records (`DetailedSpan`, `Turn`, `Feedback`);
no SQL, no HTTP. docs/chat.md explains every rule here with an example.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from otelite.api.http import rfc3339
from otelite.collector.genai import as_text
from otelite.store.model import DetailedSpan, Feedback, Turn

MODEL_CALL_OPS = frozenset({"chat", "text_completion", "generate_content"})
AGENT_OPS = frozenset({"invoke_agent", "create_agent"})
EXECUTE_TOOL = "execute_tool"
# Roles whose presence in an input shows the SDK re-sent the conversation so far.
HISTORY_ROLES = frozenset({"assistant", "tool"})

# Messages at the same instant: the user speaks, then agents start or hand off, then
# tools and answers, then compaction.
RANK_USER, RANK_AGENT, RANK_ACTION, RANK_COMPACTION = 0, 1, 2, 3


# ---- paging -----------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Page:
    turns: list[Turn]
    context: Turn | None  # the turn just older than the page: history for user-message dedup
    has_more: bool


def page_turns(turns: Sequence[Turn], limit: int, offset: int) -> Page:
    """Skip the `offset` newest turns, take the `limit` before them, oldest first."""
    end = max(len(turns) - offset, 0)
    start = max(end - limit, 0)
    page = list(turns[start:end])
    context = turns[start - 1] if page and start > 0 else None
    return Page(page, context, has_more=start > 0)


# ---- the conversation -------------------------------------------------------------


def conversation_chat(
    conversation_id: str,
    all_turns: Sequence[Turn],
    page: Page,
    limit: int,
    offset: int,
    spans: Sequence[DetailedSpan],
    feedback: Sequence[Feedback] | None,
) -> dict[str, Any]:
    """The chat response. `spans` holds the page's traces and the context trace;
    `feedback` is None unless it was asked for."""
    by_trace: dict[str, list[DetailedSpan]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    history = UserHistory()
    if page.context is not None:
        turn_messages(by_trace.get(page.context.trace_id, []), history, with_feedback=False)
    turns = [chat_turn(turn.trace_id, by_trace.get(turn.trace_id, []), history, feedback) for turn in page.turns]
    return {
        "conversation_id": conversation_id,
        "total_turns": len(all_turns),
        "limit": limit,
        "offset": offset,
        "has_more": page.has_more,
        "feedback": None if feedback is None else [chat_feedback(f) for f in feedback if f.trace_id is None],
        "turns": turns,
    }


def chat_turn(
    trace_id: str, spans: list[DetailedSpan], history: UserHistory, feedback: Sequence[Feedback] | None
) -> dict[str, Any]:
    root = root_span(spans)
    provider = root.provider if root and root.provider else next((s.provider for s in spans if s.provider), None)
    return {
        "trace_id": trace_id,
        "root_span_name": root.name if root else "",
        "provider": provider,
        # Wall clock of the whole turn: the root's duration when it encloses the rest,
        # and still right for a trace whose root has not arrived (yet).
        "total_duration_ms": (max(s.end_ns for s in spans) - min(s.start_ns for s in spans)) // 1_000_000
        if spans
        else 0,
        "feedback": None if feedback is None else [chat_feedback(f) for f in feedback if f.trace_id == trace_id],
        "messages": turn_messages(spans, history, with_feedback=feedback is not None),
    }


def trace_chat(
    trace_id: str,
    spans: list[DetailedSpan],
    previous_turn: list[DetailedSpan],
    feedback: Sequence[Feedback] | None,
) -> dict[str, Any]:
    """One trace as the conversation view shows it: `previous_turn` (the spans of the
    conversation's turn before it) is read as history only, so re-sent input is not new."""
    history = UserHistory()
    turn_messages(previous_turn, history, with_feedback=False)
    root = root_span(spans)
    return {"conversation_id": root.conversation_id if root else None, **chat_turn(trace_id, spans, history, feedback)}


def root_span(spans: Sequence[DetailedSpan]) -> DetailedSpan | None:
    """The span without a parent (spans come sorted by start), else the earliest."""
    return next((s for s in spans if not s.parent_span_id), spans[0] if spans else None)


def chat_feedback(feedback: Feedback) -> dict[str, Any]:
    return {**spans_feedback(feedback), "id": feedback.id, "created_at": rfc3339(feedback.created_ns)}


def spans_feedback(feedback: Feedback) -> dict[str, Any]:
    """The mini-map's shape: exactly the seed's four fields."""
    return {
        "trace_id": feedback.trace_id,
        "feedback_type": feedback.feedback_type,
        "tags": feedback.tags,
        "ratings": [
            {"name": r["name"], "value": r["value"], "confidence": r.get("confidence"), "reason": r.get("reason")}
            for r in feedback.ratings
        ],
    }


# ---- user input: only what is new -------------------------------------------------


class UserHistory:
    """The user messages shown so far in the conversation, by content.

    SDKs re-send the whole history with every model call. A user message is new when
    this input holds more copies of it than any earlier input did (so a user who
    really says "yes" twice is shown twice). An input that carries no history (no
    assistant or tool message) at the start of a turn is all new.
    """

    def __init__(self) -> None:
        self.seen: Counter[bytes] = Counter()

    def new_messages(self, messages: Iterable[dict[str, Any]], fresh: bool) -> list[dict[str, Any]]:
        counts: Counter[bytes] = Counter()
        new = []
        for message in messages:
            if message.get("role") != "user":
                continue
            key = orjson.dumps(message.get("parts") or [], option=orjson.OPT_SORT_KEYS)
            counts[key] += 1
            if fresh or counts[key] > self.seen[key]:
                new.append(message)
        for key, count in counts.items():
            self.seen[key] = max(self.seen[key], count)
        return new


# ---- the messages of one turn -----------------------------------------------------


def turn_messages(spans: list[DetailedSpan], history: UserHistory, with_feedback: bool) -> list[dict[str, Any]]:
    by_id = {s.span_id: s for s in spans}
    timeline = Timeline(with_feedback)
    first_input = True
    answered: set[str] = set()  # spans that produced an assistant_message
    has_tool_spans = any(s.operation_name == EXECUTE_TOOL for s in spans)

    for span in spans:
        content = span.content
        agent = agent_name(span, by_id)
        op = span.operation_name
        inputs = content.get("input_messages") or []
        if inputs:
            fresh = first_input and not any(m.get("role") in HISTORY_ROLES for m in inputs)
            first_input = False
            for message in history.new_messages(inputs, fresh):
                payload = user_message(message)
                # Some SDKs (Anthropic's) send tool results as user messages: not user input.
                if payload["text"] or payload["content_refs"]:
                    timeline.add(span, span.start_ns, RANK_USER, None, "user_message", payload)
        if op in AGENT_OPS:
            payload = agent_start(span, first_model_call(span, spans, by_id))
            timeline.add(span, span.start_ns, RANK_AGENT, agent, "agent_start", payload)
        if content.get("handoff"):
            handoff = content["handoff"]
            payload = {"from_agent": handoff.get("from_agent"), "to_agent": handoff.get("to_agent")}
            timeline.add(span, span.start_ns, RANK_AGENT, payload["from_agent"] or agent, "agent_handoff", payload)
        if op == EXECUTE_TOOL:
            timeline.add(span, span.start_ns, RANK_ACTION, agent, "tool_call", tool_call(span))
        if op in MODEL_CALL_OPS and (answer := assistant_message(span)):
            # The answer is there when the call ends, after whatever ran inside it.
            timeline.add(span, span.end_ns, RANK_ACTION, agent, "assistant_message", answer)
            answered.add(span.span_id)
        if content.get("compaction"):
            compaction = content["compaction"]
            payload = {
                "compaction_items_before": compaction.get("items_before"),
                "compaction_items_after": compaction.get("items_after"),
                "compaction_summary": compaction.get("summary"),
            }
            timeline.add(span, span.end_ns, RANK_COMPACTION, agent, "context_compacted", payload)

    # An agent span that mirrors its final answer speaks only when no model call
    # inside it already did (as Weave does), so the answer is not shown twice.
    for span in spans:
        if (
            span.operation_name in AGENT_OPS
            and not answered_inside(span, answered, by_id)
            and (answer := assistant_message(span))
        ):
            timeline.add(span, span.end_ns, RANK_ACTION, agent_name(span, by_id), "assistant_message", answer)

    if not has_tool_spans:
        for call in tool_calls_from_parts(spans, by_id):
            timeline.add(*call)
    return timeline.messages()


def answered_inside(agent: DetailedSpan, answered: set[str], by_id: dict[str, DetailedSpan]) -> bool:
    """Whether a model call below this agent span already produced an assistant_message."""
    return any(a.span_id == agent.span_id for span_id in answered for a in ancestors(by_id[span_id], by_id))


def ancestors(span: DetailedSpan, by_id: dict[str, DetailedSpan]) -> Iterator[DetailedSpan]:
    """The span's parent, its parent's parent, ... as far as this trace's spans go.

    Bounded by the number of spans, so a (malformed) cycle of parent ids ends too."""
    current = span
    for _ in range(len(by_id)):
        parent = by_id.get(current.parent_span_id) if current.parent_span_id else None
        if parent is None:
            return
        yield parent
        current = parent


class Timeline:
    def __init__(self, with_feedback: bool) -> None:
        self.with_feedback = with_feedback
        self.items: list[tuple[tuple[int, int, int], dict[str, Any]]] = []

    def add(
        self,
        span: DetailedSpan,
        at_ns: int,
        rank: int,
        agent: str | None,
        kind: str,
        payload: dict[str, Any],
        started_ns: int | None = None,
    ) -> None:
        message = {
            "type": kind,
            "span_id": span.span_id,
            "started_at": rfc3339(span.start_ns if started_ns is None else started_ns),
            "agent_name": agent,
            # otelite keeps feedback per conversation and per turn; no message has its own.
            "feedback": [] if self.with_feedback else None,
            kind: payload,
        }
        self.items.append(((at_ns, rank, len(self.items)), message))

    def messages(self) -> list[dict[str, Any]]:
        return [message for _, message in sorted(self.items, key=lambda item: item[0])]


def agent_name(span: DetailedSpan, by_id: dict[str, DetailedSpan]) -> str | None:
    """The span's own agent, else the nearest enclosing agent's."""
    for current in (span, *ancestors(span, by_id)):
        if current.agent_name:
            return current.agent_name
        if current.operation_name in AGENT_OPS:
            name = current.name.removeprefix(f"{current.operation_name} ").strip()
            if name and name != current.operation_name:
                return name
    return None


# ---- payloads ---------------------------------------------------------------------


def user_message(message: dict[str, Any]) -> dict[str, Any]:
    parts = message.get("parts") or []
    return {"text": text_of(parts), "content_refs": content_refs(parts)}


def agent_start(span: DetailedSpan, first_call: DetailedSpan | None) -> dict[str, Any]:
    """What the agent starts with. Many SDKs put the model, instructions and tools only on
    the agent's model calls, not on the agent span: the first call fills what it lacks.
    (System-role input messages are not taken as instructions: after a compaction the
    summary travels as one.)"""
    sources = [span] if first_call is None else [span, first_call]
    model = next((s.request_model or s.response_model for s in sources if s.request_model or s.response_model), None)
    instructions = next((text_of(i) for s in sources if (i := s.content.get("system_instructions"))), None)
    definitions = next((d for s in sources if (d := s.content.get("tool_definitions"))), None)
    return {
        "model": model,
        "system_instructions": instructions,
        "tool_definitions": as_text(definitions) if definitions else None,
        "status": span.status,
    }


def first_model_call(
    agent: DetailedSpan, spans: Sequence[DetailedSpan], by_id: dict[str, DetailedSpan]
) -> DetailedSpan | None:
    """The earliest model call whose nearest enclosing agent span is `agent`."""
    for span in spans:
        if span.operation_name in MODEL_CALL_OPS and enclosing_agent(span, by_id) is agent:
            return span
    return None


def enclosing_agent(span: DetailedSpan, by_id: dict[str, DetailedSpan]) -> DetailedSpan | None:
    return next((a for a in ancestors(span, by_id) if a.operation_name in AGENT_OPS), None)


def assistant_message(span: DetailedSpan) -> dict[str, Any] | None:
    """The answer of one model call, or None when it said nothing (only called tools)
    and did not fail: a failed call is always shown."""
    parts = [
        p for m in span.content.get("output_messages") or [] if m.get("role") != "user" for p in m.get("parts") or []
    ]
    text = text_of(parts)
    reasoning = "\n".join(str(p.get("content") or "") for p in parts if p.get("type") == "reasoning") or None
    refs = content_refs(parts)
    if not (text or reasoning or refs or span.status == "ERROR"):
        return None
    return {
        "text": text,
        "reasoning_content": reasoning,
        "model": span.response_model or span.request_model,
        "input_tokens": span.input_tokens,
        "output_tokens": span.output_tokens,
        "reasoning_tokens": span.reasoning_tokens,
        "duration_ms": span.duration_ms,
        "status": span.status,
        "content_refs": refs,
    }


def tool_call(span: DetailedSpan) -> dict[str, Any]:
    return {
        "tool_name": span.tool_name or span.name.removeprefix(f"{EXECUTE_TOOL} ").strip() or None,
        "tool_arguments": span.content.get("tool_arguments"),
        "tool_result": span.content.get("tool_result"),
        "duration_ms": span.duration_ms,
        "status": span.status,
        "content_refs": [],
    }


def tool_calls_from_parts(spans: list[DetailedSpan], by_id: dict[str, DetailedSpan]) -> list[tuple[Any, ...]]:
    """Tool calls of a turn without execute_tool spans: each tool_call part a model
    answered with, matched by id to the tool_call_response part a later input carries."""
    responses: dict[str, Any] = {}
    for span in spans:
        for message in span.content.get("input_messages") or []:
            for part in message.get("parts") or []:
                if part.get("type") == "tool_call_response" and part.get("id") is not None:
                    responses.setdefault(str(part["id"]), part.get("response"))
    calls = []
    for span in spans:
        if span.operation_name not in MODEL_CALL_OPS:
            continue
        for message in span.content.get("output_messages") or []:
            for part in message.get("parts") or []:
                if part.get("type") != "tool_call":
                    continue
                call_id = None if part.get("id") is None else str(part["id"])
                payload = {
                    "tool_name": part.get("name"),
                    "tool_arguments": as_text(part.get("arguments")),
                    "tool_result": as_text(responses.get(call_id)) if call_id is not None else None,
                    "duration_ms": None,
                    "status": None,
                    "content_refs": [],
                }
                # Requested when the model's answer arrived: at the end of its call.
                calls.append(
                    (span, span.end_ns, RANK_ACTION + 1, agent_name(span, by_id), "tool_call", payload, span.end_ns)
                )
    return calls


def text_of(parts: Sequence[Any]) -> str:
    return "\n".join(
        str(p.get("content") or "")
        for p in parts
        if isinstance(p, dict) and p.get("type") == "text" and p.get("content")
    )


def content_refs(parts: Sequence[Any]) -> list[str]:
    """Non-text content by name: a uri as itself, a file as "file:<file_id>", a blob as
    "blob:<mime type>" (its bytes are never inlined)."""
    refs = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "uri" and part.get("uri"):
            refs.append(str(part["uri"]))
        elif kind == "file":
            refs.append(f"file:{part.get('file_id') or part.get('mime_type') or part.get('modality') or ''}")
        elif kind == "blob":
            refs.append(f"blob:{part.get('mime_type') or part.get('modality') or 'application/octet-stream'}")
    return refs
