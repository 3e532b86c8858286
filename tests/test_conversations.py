"""POST /agents/conversations and GET /agents/projects, fed by real SDK exporters."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.agent_turns import agent_turn, text
from tests.conftest import BACKENDS, new_provider, read_only

pytestmark = pytest.mark.backends(*BACKENDS)


def list_conversations(server, **body):
    response = httpx.post(f"{server.http_url}/agents/conversations", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def summary(conversation_id, turns, spans, errors, tokens_in, tokens_out, started, last, agents, models):
    return {
        "conversation_id": conversation_id,
        "turn_count": turns,
        "span_count": spans,
        "error_count": errors,
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "started_at": started,
        "last_activity_at": last,
        "agents": agents,
        "models": models,
    }


def emit_two_conversations(server) -> None:
    """conv-paris: two turns (the second one's tool fails); conv-tokyo: one later turn."""
    provider = new_provider(server, headers={"project_id": "travel"})
    tracer = provider.get_tracer("agent")
    agent_turn(tracer, "conv-paris", 0, "What is the weather in Paris?", "It is 18 degrees and sunny.")
    history = [text("user", "What is the weather in Paris?"), text("assistant", "It is 18 degrees and sunny.")]
    agent_turn(tracer, "conv-paris", 1_000, "And tomorrow?", "Probably rain.", history=history, tool_fails=True)
    agent_turn(
        tracer,
        "conv-tokyo",
        5_000,
        "Weather in Tokyo?",
        "Cloudy, 12 degrees.",
        agent="travel-agent",
        model="gpt-4o-mini",
    )
    provider.shutdown()


@pytest.fixture(scope="module")
def two_conversations(shared_server):
    """The module's shared server with `emit_two_conversations`, for tests that only read."""
    emit_two_conversations(shared_server)
    with read_only(shared_server, __name__):
        yield shared_server


def test_list_is_newest_first_with_stats_kept_at_ingest(two_conversations):
    assert list_conversations(two_conversations, project_id="travel") == {
        "project_id": "travel",
        "total": 2,
        "limit": 50,
        "offset": 0,
        "has_more": False,
        "conversations": [
            summary(
                "conv-tokyo", 1, 4, 0, 250, 50,
                "2026-01-01T00:00:05.000000Z", "2026-01-01T00:00:05.300000Z",
                ["travel-agent"], ["gpt-4o-mini-2024-08-06"],
            ),
            summary(
                "conv-paris", 2, 8, 1, 500, 100,
                "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:01.300000Z",
                ["weather-agent"], ["gpt-4o-2024-08-06"],
            ),
        ],
    }  # fmt: skip


def test_paging_and_other_projects(two_conversations):
    first = list_conversations(two_conversations, project_id="travel", limit=1)
    assert (first["total"], first["has_more"], [c["conversation_id"] for c in first["conversations"]]) == (
        2,
        True,
        ["conv-tokyo"],
    )
    second = list_conversations(two_conversations, project_id="travel", limit=1, offset=1)
    assert (second["has_more"], [c["conversation_id"] for c in second["conversations"]]) == (False, ["conv-paris"])
    assert list_conversations(two_conversations, project_id="travel", offset=5)["conversations"] == []
    assert list_conversations(two_conversations, project_id="elsewhere") == {
        "project_id": "elsewhere",
        "total": 0,
        "limit": 50,
        "offset": 0,
        "has_more": False,
        "conversations": [],
    }


def test_time_filter_is_on_the_conversation_start(two_conversations):
    def ids(**body: str) -> list[str]:
        found = list_conversations(two_conversations, project_id="travel", **body)
        return [c["conversation_id"] for c in found["conversations"]]

    # conv-paris starts at 00:00:00 and is last active at 00:00:01.3; conv-tokyo starts at 00:00:05.
    assert ids(started_after="2026-01-01T00:00:05Z") == ["conv-tokyo"]  # inclusive
    assert ids(started_before="2026-01-01T00:00:05Z") == ["conv-paris"]  # exclusive
    assert ids(started_after="2026-01-01T00:00:01Z") == ["conv-tokyo"]
    assert ids(started_after="2026-01-01T01:00:05+01:00", started_before="2026-01-01T00:00:06Z") == ["conv-tokyo"]


def test_search_finds_user_and_assistant_text(two_conversations):
    def ids(search: str) -> list[str]:
        found = list_conversations(two_conversations, project_id="travel", search=search)
        return [c["conversation_id"] for c in found["conversations"]]

    assert ids("tokyo") == ["conv-tokyo"]  # the user's words
    assert ids("rain") == ["conv-paris"]  # the assistant's answer
    assert ids("weath") == ["conv-tokyo", "conv-paris"]  # word prefixes match
    assert ids("paris sunny") == ["conv-paris"]  # every word must match
    assert ids("paris cloudy") == []
    # FTS query syntax is searched for as plain words, never an error.
    assert ids('"tokyo" OR NOT * (') == []
    assert ids("tokyo\0weather") == ["conv-tokyo"]  # a NUL separates words (FTS5 would stop reading at it)
    assert ids("   ") == ["conv-tokyo", "conv-paris"]  # no words: no filter
    # Tool arguments and results are not user or assistant text.
    assert ids("temperature_c") == []


def test_a_trace_moves_from_its_fallback_conversation_to_the_named_one(server, make_provider):
    """Children are exported before the root that names the conversation: until the root
    arrives they form a conversation keyed by their trace id, then they move."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    agent_turn(provider.get_tracer("agent"), "conv-late", 0, "Weather in Oslo?", "Snow.")
    spans = memory.get_finished_spans()
    assert [s.name for s in spans][-1] == "invoke_agent weather-agent"
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{server.grpc_port}", insecure=True)

    exporter.export(spans[:-1])  # the children: no conversation id among them
    trace_id = format(spans[0].context.trace_id, "032x")
    before = list_conversations(server, project_id="default", search="oslo")
    assert [(c["conversation_id"], c["turn_count"], c["span_count"]) for c in before["conversations"]] == [
        (trace_id, 1, 3)
    ]

    exporter.export(spans[-1:])  # the root names conv-late: the trace joins it
    after = list_conversations(server, project_id="default")
    assert after["conversations"] == [
        summary(
            "conv-late", 1, 4, 0, 250, 50,
            "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.300000Z",
            ["weather-agent"], ["gpt-4o-2024-08-06"],
        )
    ]  # fmt: skip
    assert [
        c["conversation_id"] for c in list_conversations(server, project_id="default", search="oslo")["conversations"]
    ] == ["conv-late"]

    # Exporters retry: the same spans again change nothing.
    exporter.export(spans)
    exporter.export(spans[:2])
    assert list_conversations(server, project_id="default") == after
    exporter.shutdown()


def test_projects_route_lists_every_project(server, make_provider):
    emit_two_conversations(server)
    tracer = make_provider(server, headers={"project_id": "other"}).get_tracer("agent")
    agent_turn(tracer, "conv-x", 100, "Hi", "Hello")
    response = httpx.get(f"{server.http_url}/agents/projects")
    assert response.status_code == 200
    assert response.json() == {
        "projects": [
            {
                "project_id": "travel",
                "conversation_count": 2,
                "span_count": 12,
                "last_activity_at": "2026-01-01T00:00:05.300000Z",
            },
            {
                "project_id": "other",
                "conversation_count": 1,
                "span_count": 4,
                "last_activity_at": "2026-01-01T00:00:00.400000Z",
            },
        ]
    }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, [{"loc": ["body", "project_id"], "msg": "Field required", "type": "missing"}]),
        (
            {"project_id": "p", "limit": 101},
            [{"loc": ["body", "limit"], "msg": "Input should be less than or equal to 100", "type": "less_than_equal"}],
        ),
        (
            {"project_id": "p", "offset": -1},
            [
                {
                    "loc": ["body", "offset"],
                    "msg": "Input should be greater than or equal to 0",
                    "type": "greater_than_equal",
                }
            ],
        ),
        (
            {"project_id": "p", "limit": "many"},
            [
                {
                    "loc": ["body", "limit"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "type": "int_parsing",
                }
            ],
        ),
        (
            {"project_id": "p", "started_before": "2026-01-01T00:00:00"},
            [{"loc": ["body", "started_before"], "msg": "Input should have timezone info", "type": "timezone_aware"}],
        ),
        (
            {"project_id": "p", "search": 7},
            [{"loc": ["body", "search"], "msg": "Input should be a valid string", "type": "string_type"}],
        ),
        (
            {"project_id": "p", "started_after": "yesterday"},
            [
                {
                    "loc": ["body", "started_after"],
                    "msg": "Input should be a valid datetime or date, input is too short",
                    "type": "datetime_from_date_parsing",
                }
            ],
        ),
    ],
)
def test_bad_requests_get_fastapi_shaped_422s(shared_server, body, detail):
    response = httpx.post(f"{shared_server.http_url}/agents/conversations", json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


def test_a_body_that_is_not_json_is_a_422(shared_server):
    response = httpx.post(f"{shared_server.http_url}/agents/conversations", content=b"{not json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
