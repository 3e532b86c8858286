"""POST /agents/conversations/chat: the multi-turn chat view, end to end.

Spans come from the real opentelemetry-sdk exporter (tests/agent_conversation.py); the
assertions are on the exact JSON a client gets.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from otelite.api.models import AgentConversationChatRes
from tests.agent_conversation import PROJECT, Recorder, at
from tests.conftest import ALL_CLIENTS, BACKENDS

pytestmark = pytest.mark.backends(*BACKENDS)


def chat(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/agents/conversations/chat", json={"project_id": PROJECT, "conversation_id": "conv-1", **body}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    AgentConversationChatRes.model_validate(payload)  # the documented schema holds
    return payload


def message(
    r: Recorder,
    kind: str,
    span: str,
    at_ms: int,
    agent: str | None,
    payload: dict[str, Any],
    feedback: list | None = None,
) -> dict[str, Any]:
    return {
        "type": kind,
        "span_id": r.ids[span],
        "started_at": at(at_ms),
        "agent_name": agent,
        "feedback": feedback,
        kind: payload,
    }


def answer(
    text: str,
    model: str,
    tokens: tuple[int, int],
    duration_ms: int,
    reasoning: str | None = None,
    reasoning_tokens: int | None = None,
    refs: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "text": text,
        "reasoning_content": reasoning,
        "model": model,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "reasoning_tokens": reasoning_tokens,
        "duration_ms": duration_ms,
        "status": "OK",
        "content_refs": refs or [],
    }


def expected_turns(r: Recorder, fb: list | None = None) -> list[dict[str, Any]]:
    """All four turns as the chat view shows them; `fb` is each message's feedback."""

    def m(*args: Any) -> dict[str, Any]:
        return message(r, *args, feedback=fb)

    t1, t2, t3, t4 = r.traces
    gpt4o, mini = "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"
    return [
        {
            "trace_id": t1,
            "root_span_name": "invoke_agent triage",
            "provider": "openai",
            "total_duration_ms": 3000,
            "feedback": fb,
            "messages": [
                m("user_message", "t1.agent", 0, None, {"text": "What's the weather in Paris?", "content_refs": []}),
                m(
                    "agent_start",
                    "t1.agent",
                    0,
                    "triage",
                    {
                        "model": "gpt-4o",
                        "system_instructions": "You answer weather questions and route refunds to billing.",
                        "tool_definitions": '[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]',
                        "status": "OK",
                    },
                ),
                # A model call that only reasons and calls a tool still shows its reasoning.
                m(
                    "assistant_message",
                    "t1.chat1",
                    100,
                    "triage",
                    answer(
                        "",
                        gpt4o,
                        (50, 10),
                        800,
                        reasoning="The user wants the weather; call get_weather.",
                        reasoning_tokens=5,
                    ),
                ),
                m(
                    "tool_call",
                    "t1.tool",
                    1000,
                    "triage",
                    {
                        "tool_name": "get_weather",
                        "tool_arguments": '{"city": "Paris"}',
                        "tool_result": '{"temp_c": 18, "sky": "sunny"}',
                        "duration_ms": 200,
                        "status": "OK",
                        "content_refs": [],
                    },
                ),
                m(
                    "assistant_message",
                    "t1.chat2",
                    1300,
                    "triage",
                    answer("It is 18°C and sunny in Paris.", gpt4o, (80, 12), 1600),
                ),
            ],
        },
        {
            "trace_id": t2,
            "root_span_name": "invoke_agent triage",
            "provider": "openai",
            "total_duration_ms": 4000,
            "feedback": fb,
            "messages": [
                # Only the new question: the re-sent history (Q1, A1) is not repeated.
                m(
                    "user_message",
                    "t2.agent",
                    10_000,
                    None,
                    {
                        "text": "And in Berlin? Here is a photo of my street.",
                        "content_refs": ["https://example.com/street.jpg", "file:file-abc123"],
                    },
                ),
                m(
                    "agent_start",
                    "t2.agent",
                    10_000,
                    "triage",
                    {"model": "gpt-4o", "system_instructions": None, "tool_definitions": None, "status": "OK"},
                ),
                m(
                    "tool_call",
                    "t2.tool",
                    10_900,
                    "triage",
                    {
                        "tool_name": "get_weather",
                        "tool_arguments": '{"city": "Berlin"}',
                        "tool_result": "weather service unavailable",
                        "duration_ms": 500,
                        "status": "ERROR",
                        "content_refs": [],
                    },
                ),
                m(
                    "assistant_message",
                    "t2.chat2",
                    11_500,
                    "triage",
                    answer("Sorry, I could not get the weather for Berlin.", gpt4o, (140, 11), 2400),
                ),
            ],
        },
        {
            "trace_id": t3,
            "root_span_name": "invoke_agent triage",
            "provider": "openai",
            "total_duration_ms": 6000,
            "feedback": fb,
            "messages": [
                m(
                    "user_message",
                    "t3.agent",
                    20_000,
                    None,
                    {"text": "I want a refund for my umbrella.", "content_refs": []},
                ),
                m(
                    "agent_start",
                    "t3.agent",
                    20_000,
                    "triage",
                    {"model": "gpt-4o", "system_instructions": None, "tool_definitions": None, "status": "OK"},
                ),
                # No execute_tool span in this turn: the call comes from the tool_call part,
                # its result from the matching tool_call_response in billing's input.
                m(
                    "tool_call",
                    "t3.chat1",
                    20_500,
                    "triage",
                    {
                        "tool_name": "transfer_to_billing",
                        "tool_arguments": "{}",
                        "tool_result": '{"assistant":"billing"}',
                        "duration_ms": None,
                        "status": None,
                        "content_refs": [],
                    },
                ),
                m("agent_handoff", "t3.handoff", 20_600, "triage", {"from_agent": "triage", "to_agent": "billing"}),
                m(
                    "agent_start",
                    "t3.billing",
                    20_700,
                    "billing",
                    {
                        "model": "gpt-4o-mini",
                        "system_instructions": "You handle refunds.",
                        "tool_definitions": None,
                        "status": "OK",
                    },
                ),
                m(
                    "assistant_message",
                    "t3.chat2",
                    20_800,
                    "billing",
                    answer("Your refund of 20 EUR is on its way.", mini, (170, 14), 5000),
                ),
            ],
        },
        {
            "trace_id": t4,
            "root_span_name": "invoke_agent billing",
            "provider": "openai",
            "total_duration_ms": 4000,
            "feedback": fb,
            "messages": [
                m(
                    "user_message",
                    "t4.billing",
                    30_000,
                    None,
                    {"text": "Thanks! Can you show me the receipt?", "content_refs": []},
                ),
                m(
                    "agent_start",
                    "t4.billing",
                    30_000,
                    "billing",
                    {"model": "gpt-4o-mini", "system_instructions": None, "tool_definitions": None, "status": "OK"},
                ),
                m(
                    "assistant_message",
                    "t4.chat",
                    30_100,
                    "billing",
                    answer("Here is your receipt.", mini, (40, 20), 3800, refs=["blob:image/png"]),
                ),
                # Compaction rides on the agent span: shown when that span ends.
                m(
                    "context_compacted",
                    "t4.billing",
                    30_000,
                    "billing",
                    {
                        "compaction_items_before": 12,
                        "compaction_items_after": 2,
                        "compaction_summary": "Weather in Paris and Berlin; refund of 20 EUR sent.",
                    },
                ),
            ],
        },
    ]


@pytest.mark.backends(*ALL_CLIENTS)
def test_full_conversation_exact_json(shared_conversation):
    client, r = shared_conversation
    assert chat(client) == {
        "conversation_id": "conv-1",
        "total_turns": 4,
        "limit": 50,
        "offset": 0,
        "has_more": False,
        "feedback": None,
        "turns": expected_turns(r),
    }


@pytest.mark.parametrize(
    ("limit", "offset", "pages", "has_more"),
    [
        (50, 0, [0, 1, 2, 3], False),
        (4, 0, [0, 1, 2, 3], False),
        (3, 0, [1, 2, 3], True),  # the newest three, oldest first
        (1, 0, [3], True),
        (2, 1, [1, 2], True),
        (2, 2, [0, 1], False),  # the last (oldest) page
        (3, 2, [0, 1], False),  # a short last page
        (1, 3, [0], False),
        (1, 4, [], False),  # offset at the end
        (5, 99, [], False),  # offset past the end
        (0, 0, [], True),  # limit 0: no turns, but older ones exist
        (0, 3, [], True),
        (0, 4, [], False),
    ],
)
def test_paging_from_the_newest(shared_conversation, limit, offset, pages, has_more):
    client, r = shared_conversation
    turns = expected_turns(r)
    assert chat(client, limit=limit, offset=offset) == {
        "conversation_id": "conv-1",
        "total_turns": 4,
        "limit": limit,
        "offset": offset,
        "has_more": has_more,
        "feedback": None,
        "turns": [turns[i] for i in pages],
    }


def test_a_page_never_repeats_history_it_did_not_show(shared_conversation):
    """Page 2..3 alone still shows only each turn's new input (the turn before the page
    is read as history), exactly as the unpaged view shows those turns."""
    client, r = shared_conversation
    assert chat(client, limit=1, offset=2)["turns"] == [expected_turns(r)[1]]
    assert chat(client, limit=1, offset=1)["turns"] == [expected_turns(r)[2]]


def test_unknown_conversation_is_empty(shared_conversation):
    client, _ = shared_conversation
    assert chat(client, conversation_id="no-such-conversation", include_feedback=True) == {
        "conversation_id": "no-such-conversation",
        "total_turns": 0,
        "limit": 50,
        "offset": 0,
        "has_more": False,
        "feedback": [],
        "turns": [],
    }


def test_include_feedback_without_any(shared_conversation):
    client, r = shared_conversation
    payload = chat(client, include_feedback=True)
    assert payload["feedback"] == []
    assert payload["turns"] == expected_turns(r, fb=[])


def test_user_says_the_same_thing_twice(server, make_provider):
    """Content is compared by count, not just presence: a repeated answer is new."""
    tracer = make_provider(server).get_tracer("sdk")
    r = Recorder(tracer)
    common = {"gen_ai__operation__name": "chat", "gen_ai__conversation__id": "c-yes"}
    yes = {"role": "user", "parts": [{"type": "text", "content": "yes"}]}
    sure = {"role": "assistant", "parts": [{"type": "text", "content": "Sure?"}]}
    for turn, history in enumerate([[yes], [yes, sure, yes]]):
        span = r.start(
            f"t{turn}",
            "chat m",
            turn * 1000,
            gen_ai__input__messages=history,
            gen_ai__output__messages=[sure],
            **common,
        )
        r.end(span, turn * 1000 + 10)
    with httpx.Client(base_url=server.http_url) as client:
        payload = client.post(
            "/agents/conversations/chat", json={"project_id": "default", "conversation_id": "c-yes"}
        ).json()
    assert [[m["type"] for m in t["messages"]] for t in payload["turns"]] == [
        ["user_message", "assistant_message"],
        ["user_message", "assistant_message"],
    ]


def test_a_failed_model_call_is_shown(server, make_provider):
    r = Recorder(make_provider(server).get_tracer("sdk"))
    span = r.start(
        "call",
        "chat m",
        0,
        gen_ai__operation__name="chat",
        gen_ai__request__model="m",
        gen_ai__conversation__id="c-err",
    )
    r.end(span, 250, error="rate limited")
    with httpx.Client(base_url=server.http_url) as client:
        payload = client.post(
            "/agents/conversations/chat", json={"project_id": "default", "conversation_id": "c-err"}
        ).json()
    assert payload["turns"][0]["messages"] == [
        {
            "type": "assistant_message",
            "span_id": r.ids["call"],
            "started_at": at(0),
            "agent_name": None,
            "feedback": None,
            "assistant_message": {
                "text": "",
                "reasoning_content": None,
                "model": "m",
                "input_tokens": None,
                "output_tokens": None,
                "reasoning_tokens": None,
                "duration_ms": 250,
                "status": "ERROR",
                "content_refs": [],
            },
        }
    ]


def test_tool_results_sent_as_user_messages_are_not_user_input(server, make_provider):
    """Anthropic-style SDKs put tool results in a user-role message; that is not the user
    speaking, and the tool call is still matched to its result by id."""
    r = Recorder(make_provider(server).get_tracer("sdk"))
    ask = {"role": "user", "parts": [{"type": "text", "content": "Time in Tokyo?"}]}
    call = {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "toolu_1", "name": "clock", "arguments": {"tz": "Asia/Tokyo"}}],
    }
    result = {"role": "user", "parts": [{"type": "tool_call_response", "id": "toolu_1", "response": "09:00"}]}
    common = {
        "gen_ai__operation__name": "chat",
        "gen_ai__request__model": "claude",
        "gen_ai__conversation__id": "c-anthropic",
    }
    root = r.start("root", "agent run", 0)
    first = r.start(
        "first", "chat claude", 10, root, gen_ai__input__messages=[ask], gen_ai__output__messages=[call], **common
    )
    r.end(first, 20)
    second = r.start(
        "second",
        "chat claude",
        30,
        root,
        gen_ai__input__messages=[ask, call, result],
        gen_ai__output__messages=[{"role": "assistant", "parts": [{"type": "text", "content": "It is 9 am."}]}],
        **common,
    )
    r.end(second, 40)
    r.end(root, 50)
    with httpx.Client(base_url=server.http_url) as client:
        payload = client.post(
            "/agents/conversations/chat", json={"project_id": "default", "conversation_id": "c-anthropic"}
        ).json()
    turn = payload["turns"][0]
    assert (turn["root_span_name"], turn["provider"], turn["total_duration_ms"]) == ("agent run", None, 50)
    assert [(m["type"], m["span_id"], m["started_at"]) for m in turn["messages"]] == [
        ("user_message", r.ids["first"], at(10)),
        ("tool_call", r.ids["first"], at(20)),
        ("assistant_message", r.ids["second"], at(30)),
    ]
    assert turn["messages"][1]["tool_call"] == {
        "tool_name": "clock",
        "tool_arguments": '{"tz":"Asia/Tokyo"}',
        "tool_result": "09:00",
        "duration_ms": None,
        "status": None,
        "content_refs": [],
    }


def test_handoff_from_explicit_attributes(server, make_provider):
    """The attribute pair names the agents (and wins over the span name)."""
    r = Recorder(make_provider(server).get_tracer("sdk"))
    span = r.start(
        "h",
        "transfer",
        0,
        gen_ai__operation__name="handoff",
        gen_ai__conversation__id="c-handoff",
        gen_ai__handoff__from_agent="support",
        gen_ai__handoff__to_agent="escalations",
    )
    r.end(span, 1)
    with httpx.Client(base_url=server.http_url) as client:
        payload = client.post(
            "/agents/conversations/chat", json={"project_id": "default", "conversation_id": "c-handoff"}
        ).json()
    assert payload["turns"][0]["messages"] == [
        {
            "type": "agent_handoff",
            "span_id": r.ids["h"],
            "started_at": at(0),
            "agent_name": "support",
            "feedback": None,
            "agent_handoff": {"from_agent": "support", "to_agent": "escalations"},
        }
    ]
