"""api/chat.py's rules (docs/chat.md), on span records directly: no server, no store.

Each test builds the `DetailedSpan`s a store hands the chat view for what an SDK emitted
(normalised content, scalar columns, in the store's order: start time, then span id) and
asserts on the exact JSON. The same rules end to end, through real exporters and both
stores, are tests/test_routes_chat.py and tests/test_routes_trace_chat.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from otelite.api.chat import UserHistory, chat_turn, conversation_chat, page_turns, trace_chat
from otelite.collector.genai import CONTENT_FIELDS
from otelite.store.model import DetailedSpan, Feedback, Turn
from tests.agent_conversation import T0_NS, assistant, at, tool_call, tool_response, user

MS = 1_000_000


class Trace:
    """One trace's spans, built as an SDK ends them; `stored()` is the store's order."""

    def __init__(self, number: int, conversation_id: str = "conv") -> None:
        self.number = number
        self.trace_id = f"{number:032x}"
        self.conversation_id = conversation_id
        self.spans: list[DetailedSpan] = []

    def span(
        self,
        name: str,
        start_ms: int,
        end_ms: int,
        parent: DetailedSpan | str | None = None,
        status: str = "OK",
        span_id: str | None = None,
        **fields: Any,
    ) -> DetailedSpan:
        """`fields`: DetailedSpan's scalar columns, and content (input_messages, ...)."""
        content = {key: fields.pop(key) for key in list(fields) if key in CONTENT_FIELDS}
        span = DetailedSpan(
            trace_id=self.trace_id,
            conversation_id=self.conversation_id,
            span_id=span_id or f"{self.number:08x}{len(self.spans) + 1:08x}",
            parent_span_id=parent.span_id if isinstance(parent, DetailedSpan) else parent,
            name=name,
            start_ns=T0_NS + start_ms * MS,
            end_ns=T0_NS + end_ms * MS,
            status=status,
            status_message="failed" if status == "ERROR" else "",
            content=content,
            **fields,
        )
        self.spans.append(span)
        return span

    def stored(self) -> list[DetailedSpan]:
        return sorted(self.spans, key=lambda s: (s.start_ns, s.span_id))


def chat(*traces: Trace, limit: int = 50, offset: int = 0, feedback: list[Feedback] | None = None) -> dict[str, Any]:
    """What POST /agents/conversations/chat answers for these turns (api/routes/conversations.py's
    chat_view, with the store's reads done here)."""
    turns = [Turn(t.trace_id, min(s.start_ns for s in t.spans)) for t in traces]
    page = page_turns(turns, limit, offset)
    wanted = {t.trace_id for t in ([page.context] if page.context else []) + page.turns}
    spans = sorted((s for t in traces if t.trace_id in wanted for s in t.spans), key=lambda s: (s.start_ns, s.span_id))
    return conversation_chat("conv", turns, page, limit, offset, spans if page.turns else [], feedback)


def messages(*traces: Trace) -> list[list[dict[str, Any]]]:
    return [turn["messages"] for turn in chat(*traces)["turns"]]


def m(
    kind: str, span: DetailedSpan, at_ms: int, agent: str | None, payload: dict[str, Any], feedback: list | None = None
) -> dict[str, Any]:
    return {
        "type": kind,
        "span_id": span.span_id,
        "started_at": at(at_ms),
        "agent_name": agent,
        "feedback": feedback,
        kind: payload,
    }


def said(text: str, refs: list[str] | None = None) -> dict[str, Any]:
    return {"text": text, "content_refs": refs or []}


def answer(
    text: str,
    duration_ms: int,
    model: str | None = None,
    status: str = "OK",
    reasoning: str | None = None,
    tokens: tuple[int | None, int | None, int | None] = (None, None, None),
    refs: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "text": text,
        "reasoning_content": reasoning,
        "model": model,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "reasoning_tokens": tokens[2],
        "duration_ms": duration_ms,
        "status": status,
        "content_refs": refs or [],
    }


def started(
    model: str | None = None, instructions: str | None = None, tools: str | None = None, status: str = "OK"
) -> dict[str, Any]:
    return {"model": model, "system_instructions": instructions, "tool_definitions": tools, "status": status}


def tool(
    name: str | None, arguments: str | None, result: str | None, duration_ms: int | None, status: str | None
) -> dict[str, Any]:
    return {
        "tool_name": name,
        "tool_arguments": arguments,
        "tool_result": result,
        "duration_ms": duration_ms,
        "status": status,
        "content_refs": [],
    }


# ---- paging -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "offset", "page", "context", "has_more"),
    [
        (50, 0, [0, 1, 2, 3], None, False),
        (3, 0, [1, 2, 3], 0, True),  # the newest three; the one before them is history
        (2, 1, [1, 2], 0, True),
        (2, 2, [0, 1], None, False),
        (1, 3, [0], None, False),
        (1, 4, [], None, False),
        (5, 99, [], None, False),
        (0, 0, [], None, True),  # nothing shown, older turns exist
        (0, 3, [], None, True),
        (0, 4, [], None, False),
    ],
)
def test_paging_skips_the_newest_and_reads_the_turn_before_as_history(limit, offset, page, context, has_more):
    turns = [Turn(f"{n:032x}", T0_NS + n) for n in range(4)]
    result = page_turns(turns, limit, offset)
    assert (result.turns, result.context, result.has_more) == (
        [turns[n] for n in page],
        None if context is None else turns[context],
        has_more,
    )


# ---- the turn -----------------------------------------------------------------------


def test_a_turn_is_named_by_its_root_and_lasts_its_wall_clock():
    t = Trace(1)
    root = t.span("invoke_agent support", 0, 1000, agent_name="support", operation_name="invoke_agent")
    # A child that outlives its root (a streamed answer), from a provider the root does not name.
    t.span("chat m", 100, 1500, root, operation_name="chat", provider="anthropic", output_messages=[assistant("Hi.")])
    turn = chat(t)["turns"][0]
    assert {key: value for key, value in turn.items() if key != "messages"} == {
        "trace_id": t.trace_id,
        "root_span_name": "invoke_agent support",
        "provider": "anthropic",  # the root has none: the first span that has one
        "total_duration_ms": 1500,
        "feedback": None,
    }
    root.provider = "openai"
    assert chat(t)["turns"][0]["provider"] == "openai"  # the root's wins


def test_orphans_whose_root_has_not_arrived_still_make_a_turn():
    """Children are exported before their root: until it arrives, the earliest span names
    the turn, the wall clock is theirs, and no agent encloses them."""
    t = Trace(1)
    missing_root = "00000001000000ff"
    model = t.span(
        "chat gpt-4o", 100, 900, missing_root, operation_name="chat", response_model="gpt-4o",
        input_messages=[user("Hello?")], output_messages=[assistant("Hello!")],
    )  # fmt: skip
    lookup = t.span("execute_tool lookup", 950, 1000, missing_root, operation_name="execute_tool")
    assert chat(t)["turns"] == [
        {
            "trace_id": t.trace_id,
            "root_span_name": "chat gpt-4o",
            "provider": None,
            "total_duration_ms": 900,
            "feedback": None,
            "messages": [
                m("user_message", model, 100, None, said("Hello?")),
                m("assistant_message", model, 100, None, answer("Hello!", 800, model="gpt-4o")),
                m("tool_call", lookup, 950, None, tool("lookup", None, None, 50, "OK")),
            ],
        }
    ]


def test_a_cycle_of_parent_ids_ends():
    """Malformed parent ids that point at each other: no root, no agent, and an answer."""
    t = Trace(1)
    first = t.span("chat a", 0, 10, "0000000100000002", operation_name="chat", output_messages=[assistant("a")])
    second = t.span("chat b", 20, 30, "0000000100000001", operation_name="chat", output_messages=[assistant("b")])
    turn = chat(t)["turns"][0]
    assert (turn["root_span_name"], turn["total_duration_ms"]) == ("chat a", 30)
    assert turn["messages"] == [
        m("assistant_message", first, 0, None, answer("a", 10)),
        m("assistant_message", second, 20, None, answer("b", 10)),
    ]


def test_an_empty_turn():
    assert chat_turn("t", [], UserHistory(), None) == {
        "trace_id": "t",
        "root_span_name": "",
        "provider": None,
        "total_duration_ms": 0,
        "feedback": None,
        "messages": [],
    }
    assert trace_chat("t", [], [], None) == {"conversation_id": None, **chat_turn("t", [], UserHistory(), None)}


# ---- user input: only what is new ---------------------------------------------------


def test_resent_history_is_not_repeated():
    t1, t2 = Trace(1), Trace(2)
    first = t1.span(
        "chat m", 0, 100, operation_name="chat", input_messages=[user("Q1")], output_messages=[assistant("A1")]
    )
    second = t2.span(
        "chat m", 1000, 1100, operation_name="chat",
        input_messages=[user("Q1"), assistant("A1"), user("Q2")], output_messages=[assistant("A2")],
    )  # fmt: skip
    assert messages(t1, t2) == [
        [m("user_message", first, 0, None, said("Q1")), m("assistant_message", first, 0, None, answer("A1", 100))],
        [
            m("user_message", second, 1000, None, said("Q2")),
            m("assistant_message", second, 1000, None, answer("A2", 100)),
        ],
    ]


def test_the_same_words_twice_are_shown_twice():
    """Compared by count: the second "yes" is new, history is not."""
    yes, sure = user("yes"), assistant("Sure?")
    traces = [Trace(n) for n in (1, 2, 3)]
    inputs = [[yes], [yes, sure, yes], [yes, sure, yes, sure, user("no")]]
    spans = [
        t.span("chat m", n * 1000, n * 1000 + 10, operation_name="chat", input_messages=i, output_messages=[sure])
        for n, (t, i) in enumerate(zip(traces, inputs, strict=True))
    ]
    assert [[msg[msg["type"]]["text"] for msg in turn] for turn in messages(*traces)] == [
        ["yes", "Sure?"],
        ["yes", "Sure?"],
        ["no", "Sure?"],
    ]
    assert messages(*traces)[1][0] == m("user_message", spans[1], 1000, None, said("yes"))


def test_an_sdk_that_sends_only_the_latest_message():
    """A turn's first input without history (no assistant or tool message) is all new, even
    words said before; a later model call in the same turn re-sending it is not."""
    t1, t2 = Trace(1), Trace(2)
    t1.span("chat m", 0, 10, operation_name="chat", input_messages=[user("again")], output_messages=[assistant("ok")])
    agent = t2.span("invoke_agent a", 1000, 1100, operation_name="invoke_agent", input_messages=[user("again")])
    model = t2.span(
        "chat m",
        1010,
        1090,
        agent,
        operation_name="chat",
        input_messages=[user("again")],
        output_messages=[assistant("ok")],
    )
    assert messages(t1, t2)[1] == [
        m("user_message", agent, 1000, None, said("again")),
        m("agent_start", agent, 1000, "a", started()),
        m("assistant_message", model, 1010, "a", answer("ok", 80)),
    ]


def test_user_message_text_and_content_refs():
    t = Trace(1)
    parts = [
        {"type": "text", "content": "Look:"},
        {"type": "uri", "modality": "image", "mime_type": "image/jpeg", "uri": "https://example.com/a.jpg"},
        {"type": "text", "content": ""},  # no words: not a line
        {"type": "text", "content": "and these."},
        {"type": "file", "modality": "image", "file_id": "file-1"},
        {"type": "file", "mime_type": "application/pdf"},  # no id: its type
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="},  # bytes never shown
        {"type": "blob", "modality": "audio", "content": "AAAA"},
        {"type": "blob", "content": "AAAA"},
    ]
    span = t.span("chat m", 0, 10, operation_name="chat", input_messages=[{"role": "user", "parts": parts}])
    assert messages(t) == [
        [
            m("user_message", span, 0, None, said(
                "Look:\nand these.",
                ["https://example.com/a.jpg", "file:file-1", "file:application/pdf", "blob:image/png", "blob:audio", "blob:application/octet-stream"],
            )),
        ]
    ]  # fmt: skip


def test_tool_results_in_a_user_role_message_are_not_user_input():
    t = Trace(1)
    call = assistant(tool_call("toolu_1", "clock", {"tz": "Asia/Tokyo"}))
    result = {"role": "user", "parts": [{"type": "tool_call_response", "id": "toolu_1", "response": "09:00"}]}
    span = t.span(
        "chat claude",
        0,
        10,
        operation_name="chat",
        input_messages=[user("Time?"), call, result],
        output_messages=[assistant("9 am.")],
    )
    assert messages(t) == [
        [m("user_message", span, 0, None, said("Time?")), m("assistant_message", span, 0, None, answer("9 am.", 10))]
    ]


def test_a_page_and_a_single_trace_read_the_turn_before_as_history():
    traces = [Trace(n) for n in (1, 2, 3)]
    history: list[dict[str, Any]] = []
    spans = []
    for n, t in enumerate(traces):
        history = [*history, user(f"Q{n + 1}")]
        spans.append(
            t.span(
                "chat m",
                n * 1000,
                n * 1000 + 10,
                operation_name="chat",
                input_messages=history,
                output_messages=[assistant(f"A{n + 1}")],
            )
        )
        history = [*history, assistant(f"A{n + 1}")]
    second_turn = [
        m("user_message", spans[1], 1000, None, said("Q2")),
        m("assistant_message", spans[1], 1000, None, answer("A2", 10)),
    ]
    assert chat(*traces, limit=1, offset=1)["turns"][0]["messages"] == second_turn
    assert trace_chat(traces[1].trace_id, traces[1].stored(), traces[0].stored(), None)["messages"] == second_turn
    # Without the turn before, the re-sent Q1 would look new.
    alone = trace_chat(traces[1].trace_id, traces[1].stored(), [], None)
    assert [msg[msg["type"]]["text"] for msg in alone["messages"]] == ["Q1", "Q2", "A2"]
    assert alone["conversation_id"] == "conv"


# ---- agents -------------------------------------------------------------------------


def test_agent_start_takes_what_the_agent_span_lacks_from_its_first_model_call():
    t = Trace(1)
    planner = t.span(
        "invoke_agent planner",
        0,
        1000,
        operation_name="invoke_agent",
        agent_name="planner",
        input_messages=[user("Trip?")],
    )
    first = t.span(
        "chat gpt-4o", 100, 300, planner, operation_name="chat", request_model="gpt-4o", response_model="gpt-4o-2024-08-06",
        system_instructions=[{"type": "text", "content": "Plan trips."}, {"type": "text", "content": "Be brief."}],
        tool_definitions=[{"type": "function", "name": "search", "parameters": {"type": "object"}}],
        input_messages=[user("Trip?")], output_messages=[assistant("Where to?")],
    )  # fmt: skip
    later = t.span(
        "chat o3", 400, 600, planner, operation_name="chat", request_model="o3",
        system_instructions=[{"type": "text", "content": "not the first call's"}], output_messages=[assistant("Paris.")],
    )  # fmt: skip
    # A sub-agent (no agent name attribute: named after its span) and its own model call.
    researcher = t.span("create_agent researcher", 650, 950, planner, operation_name="create_agent")
    found = t.span(
        "chat claude",
        700,
        900,
        researcher,
        operation_name="chat",
        request_model="claude",
        output_messages=[assistant("Found it.")],
    )
    assert messages(t) == [
        [
            m("user_message", planner, 0, None, said("Trip?")),
            m("agent_start", planner, 0, "planner", started(
                "gpt-4o", "Plan trips.\nBe brief.", '[{"type":"function","name":"search","parameters":{"type":"object"}}]',
            )),
            m("assistant_message", first, 100, "planner", answer("Where to?", 200, model="gpt-4o-2024-08-06")),
            m("assistant_message", later, 400, "planner", answer("Paris.", 200, model="o3")),
            m("agent_start", researcher, 650, "researcher", started("claude")),
            m("assistant_message", found, 700, "researcher", answer("Found it.", 200, model="claude")),
        ]
    ]  # fmt: skip


def test_agent_names_come_from_the_span_or_the_nearest_enclosing_agent():
    t = Trace(1)
    outer = t.span("invoke_agent support", 0, 100, operation_name="invoke_agent")
    inner = t.span("invoke_agent", 10, 90, outer, operation_name="invoke_agent")  # no name of its own
    tagged = t.span(
        "chat m", 20, 30, inner, operation_name="chat", agent_name="refunds", output_messages=[assistant("a")]
    )
    plain = t.span("execute_tool refund", 40, 50, inner, operation_name="execute_tool")
    assert messages(t) == [
        [
            m("agent_start", outer, 0, "support", started()),
            m("agent_start", inner, 10, "support", started()),
            m("assistant_message", tagged, 20, "refunds", answer("a", 10)),
            m("tool_call", plain, 40, "support", tool("refund", None, None, 10, "OK")),
        ]
    ]


def test_an_agent_that_mirrors_its_answer_speaks_only_when_no_model_call_inside_did():
    """As the OpenAI Agents SDK and Google ADK do: the answer is on the agent span too."""
    t1, t2 = Trace(1), Trace(2)
    outer = t1.span("invoke_agent a", 0, 1000, operation_name="invoke_agent", output_messages=[assistant("Done.")])
    inner = t1.span("invoke_agent b", 50, 950, outer, operation_name="invoke_agent")
    model = t1.span("chat m", 100, 900, inner, operation_name="chat", output_messages=[assistant("Done.")])
    alone = t2.span(
        "invoke_agent a",
        2000,
        3000,
        operation_name="invoke_agent",
        request_model="gpt-4o",
        output_messages=[assistant("Done.")],
    )
    assert messages(t1, t2) == [
        [
            m("agent_start", outer, 0, "a", started()),
            m("agent_start", inner, 50, "b", started()),
            m("assistant_message", model, 100, "b", answer("Done.", 800)),
        ],
        [
            m("agent_start", alone, 2000, "a", started("gpt-4o")),
            m("assistant_message", alone, 2000, "a", answer("Done.", 1000, model="gpt-4o")),
        ],
    ]


def test_a_handoff_is_its_own_message_and_a_second_agent_is_not_one():
    t = Trace(1)
    triage = t.span("invoke_agent triage", 0, 1000, operation_name="invoke_agent", agent_name="triage")
    handoff = t.span(
        "handoff", 100, 110, triage, operation_name="handoff", handoff={"from_agent": "triage", "to_agent": "billing"}
    )
    unnamed = t.span("transfer", 200, 210, triage, handoff={"from_agent": None, "to_agent": "x"})
    billing = t.span("invoke_agent billing", 300, 400, triage, operation_name="invoke_agent", agent_name="billing")
    assert messages(t) == [
        [
            m("agent_start", triage, 0, "triage", started()),
            m("agent_handoff", handoff, 100, "triage", {"from_agent": "triage", "to_agent": "billing"}),
            m("agent_handoff", unnamed, 200, "triage", {"from_agent": None, "to_agent": "x"}),  # the span's agent
            m("agent_start", billing, 300, "billing", started()),
        ]
    ]


# ---- model calls and tools ----------------------------------------------------------


def test_assistant_message_fields():
    t = Trace(1)
    output = [
        assistant({"type": "reasoning", "content": "think"}, {"type": "reasoning", "content": "again"}, "Hi", "there"),
        {"role": "user", "parts": [{"type": "text", "content": "not the model's"}]},
        {
            "role": "assistant",
            "parts": [{"type": "blob", "modality": "image", "mime_type": "image/png", "content": "AAAA"}],
        },
    ]
    span = t.span(
        "chat m", 0, 1234, status="UNSET", operation_name="chat", request_model="m-request",
        input_tokens=10, output_tokens=20, reasoning_tokens=5, output_messages=output,
    )  # fmt: skip
    assert messages(t) == [
        [
            m("assistant_message", span, 0, None, answer(
                "Hi\nthere", 1234, model="m-request", status="UNSET", reasoning="think\nagain", tokens=(10, 20, 5), refs=["blob:image/png"],
            )),
        ]
    ]  # fmt: skip
    span.response_model = "m-2026-01-01"
    assert messages(t)[0][0]["assistant_message"]["model"] == "m-2026-01-01"  # the response model wins


@pytest.mark.parametrize("operation", ["chat", "text_completion", "generate_content"])
def test_every_model_call_operation_answers(operation):
    t = Trace(1)
    span = t.span(f"{operation} m", 0, 5, operation_name=operation, output_messages=[assistant("yes")])
    t.span("other", 10, 15, operation_name="embeddings", output_messages=[assistant("no")])
    assert messages(t) == [[m("assistant_message", span, 0, None, answer("yes", 5))]]


def test_failed_spans_are_shown():
    """A model call that only called a tool says nothing; one that failed always speaks;
    a failing tool or agent carries its status."""
    t1, t2 = Trace(1), Trace(2)
    agent = t1.span("invoke_agent a", 0, 1000, status="ERROR", operation_name="invoke_agent")
    asked = t1.span(
        "chat m",
        100,
        200,
        agent,
        operation_name="chat",
        request_model="m",
        output_messages=[assistant(tool_call("c1", "lookup", {"q": "x"}))],
    )
    failed_tool = t1.span(
        "execute_tool lookup", 300, 350, agent, status="ERROR", operation_name="execute_tool", tool_result="timeout"
    )
    failed_call = t1.span("chat m", 400, 650, agent, status="ERROR", operation_name="chat", request_model="m")
    # An agent that failed before any model call: its failure is its answer.
    early = t2.span("invoke_agent a", 2000, 2010, status="ERROR", operation_name="invoke_agent", request_model="m")
    assert asked.span_id not in {msg["span_id"] for msg in messages(t1)[0]}
    assert messages(t1, t2) == [
        [
            m("agent_start", agent, 0, "a", started("m", status="ERROR")),
            m("tool_call", failed_tool, 300, "a", tool("lookup", None, "timeout", 50, "ERROR")),
            m("assistant_message", failed_call, 400, "a", answer("", 250, model="m", status="ERROR")),
        ],
        [
            m("agent_start", early, 2000, "a", started("m", status="ERROR")),
            m("assistant_message", early, 2000, "a", answer("", 10, model="m", status="ERROR")),
        ],
    ]


def test_execute_tool_spans_are_the_tool_calls_and_their_parts_are_not():
    t = Trace(1)
    agent = t.span("invoke_agent a", 0, 1000, operation_name="invoke_agent")
    t.span(
        "chat m",
        100,
        200,
        agent,
        operation_name="chat",
        output_messages=[assistant(tool_call("c1", "lookup", {"q": "x"}))],
    )
    lookup = t.span(
        "execute_tool lookup", 300, 450, agent, operation_name="execute_tool", tool_call_id="c1",
        tool_arguments='{"q": "x"}', tool_result="42",
    )  # fmt: skip
    named = t.span("run the fetcher", 500, 600, agent, operation_name="execute_tool", tool_name="fetch")
    final = t.span(
        "chat m", 700, 800, agent, operation_name="chat",
        input_messages=[user("q?"), assistant(tool_call("c1", "lookup", {"q": "x"})), tool_response("c1", "42")],
        output_messages=[assistant("42 it is.")],
    )  # fmt: skip
    assert messages(t) == [
        [
            m("agent_start", agent, 0, "a", started()),
            m("tool_call", lookup, 300, "a", tool("lookup", '{"q": "x"}', "42", 150, "OK")),
            m("tool_call", named, 500, "a", tool("fetch", None, None, 100, "OK")),
            m("user_message", final, 700, None, said("q?")),
            m("assistant_message", final, 700, "a", answer("42 it is.", 100)),
        ]
    ]


def test_without_execute_tool_spans_the_tool_call_parts_are_the_tool_calls():
    """Asked at the end of the model call (after its text), answered by the matching
    tool_call_response in any input of the turn; no span measured them."""
    t = Trace(1)
    question = user("Weather and time in Oslo?")
    calls = assistant(
        "Let me check.",
        tool_call("c1", "weather", {"city": "Oslo"}),
        {
            "type": "tool_call",
            "id": "c2",
            "name": "clock",
            "arguments": '{"tz": "CET"}',
        },  # arguments as the SDK's string
        {"type": "tool_call", "name": "unanswered"},
    )
    asking = t.span("chat m", 0, 100, operation_name="chat", input_messages=[question], output_messages=[calls])
    answering = t.span(
        "chat m", 200, 300, operation_name="chat",
        input_messages=[question, calls, tool_response("c1", {"temp_c": -3}), tool_response("c2", "10:00"), tool_response("c1", "later")],
        output_messages=[assistant("Cold, and 10 am.")],
    )  # fmt: skip
    assert messages(t) == [
        [
            m("user_message", asking, 0, None, said("Weather and time in Oslo?")),
            m("assistant_message", asking, 0, None, answer("Let me check.", 100)),
            m("tool_call", asking, 100, None, tool("weather", '{"city":"Oslo"}', '{"temp_c":-3}', None, None)),
            m("tool_call", asking, 100, None, tool("clock", '{"tz": "CET"}', "10:00", None, None)),
            m("tool_call", asking, 100, None, tool("unanswered", None, None, None, None)),
            m("assistant_message", answering, 200, None, answer("Cold, and 10 am.", 100)),
        ]
    ]


# ---- order --------------------------------------------------------------------------


def test_at_one_instant_user_then_agent_and_handoff_then_answers_then_compaction():
    t = Trace(1)
    agent = t.span(
        "invoke_agent a", 0, 500, operation_name="invoke_agent",
        # After a compaction the summary travels as a system message: not instructions, not user input.
        input_messages=[{"role": "system", "parts": [{"type": "text", "content": "Summary: so far."}]}, user("Go.")],
        compaction={"items_before": 8, "items_after": 2, "summary": "so far"},
    )  # fmt: skip
    model = t.span("chat m", 0, 500, agent, operation_name="chat", output_messages=[assistant("Gone.")])
    handoff = t.span("handoff", 500, 510, agent, operation_name="handoff", handoff={"from_agent": "a", "to_agent": "b"})
    assert messages(t) == [
        [
            m("user_message", agent, 0, None, said("Go.")),
            m("agent_start", agent, 0, "a", started()),
            m("agent_handoff", handoff, 500, "a", {"from_agent": "a", "to_agent": "b"}),
            m("assistant_message", model, 0, "a", answer("Gone.", 500)),
            m(
                "context_compacted",
                agent,
                0,
                "a",
                {"compaction_items_before": 8, "compaction_items_after": 2, "compaction_summary": "so far"},
            ),
        ]
    ]


def test_siblings_that_start_together_come_in_the_stores_order():
    """Same instant, same rank: the store's order (start time, then span id) decides."""
    t = Trace(1)
    agent = t.span("invoke_agent a", 0, 100, operation_name="invoke_agent")
    later_id = t.span("execute_tool b", 10, 20, agent, span_id="00000001000000bb", operation_name="execute_tool")
    earlier_id = t.span("execute_tool a", 10, 30, agent, span_id="00000001000000aa", operation_name="execute_tool")
    assert [msg["span_id"] for msg in messages(t)[0]] == [agent.span_id, earlier_id.span_id, later_id.span_id]


# ---- feedback -----------------------------------------------------------------------


def test_feedback_on_the_conversation_and_on_each_turn():
    t1, t2 = Trace(1), Trace(2)
    span = t1.span("chat m", 0, 10, operation_name="chat", output_messages=[assistant("a")])
    t2.span("chat m", 1000, 1010, operation_name="chat", output_messages=[assistant("b")])
    whole = Feedback(
        "f1", "p", "conv", None, "wandb.agent_monitor", [], [{"name": "helpfulness", "value": 0.5}], T0_NS + 1500 * MS
    )
    on_t1 = Feedback("f2", "p", "conv", t1.trace_id, "wandb.agent_user_feedback", ["👍"], [], T0_NS + 1_600_001_000)
    result = chat(t1, t2, feedback=[whole, on_t1])
    assert result["feedback"] == [
        {
            "trace_id": None,
            "feedback_type": "wandb.agent_monitor",
            "tags": [],
            "ratings": [{"name": "helpfulness", "value": 0.5, "confidence": None, "reason": None}],
            "id": "f1",
            "created_at": "2026-01-01T00:00:01.500000Z",
        }
    ]
    assert [turn["feedback"] for turn in result["turns"]] == [
        [
            {
                "trace_id": t1.trace_id,
                "feedback_type": "wandb.agent_user_feedback",
                "tags": ["👍"],
                "ratings": [],
                "id": "f2",
                "created_at": "2026-01-01T00:00:01.600001Z",
            }
        ],
        [],
    ]
    # Messages have no feedback of their own: [] when feedback was asked for.
    assert result["turns"][0]["messages"] == [m("assistant_message", span, 0, None, answer("a", 10), feedback=[])]
    assert chat(t1, t2, feedback=[])["feedback"] == []
